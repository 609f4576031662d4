package dev.pgmux;

import java.util.Locale;

/** In which order a session tries a backend's hosts ({@code load_balance_hosts}, as in libpq, plus round-robin). */
public enum LoadBalanceHosts {
    /** In the order given: the first is the primary choice, the others are tried when it fails. */
    DISABLE,
    /** In a random order, chosen anew for every connection (libpq's {@code random}). */
    RANDOM,
    /** Starting at the next host each time, then on in the order given. */
    ROUND_ROBIN;

    /** Parses {@code disable}, {@code random} or {@code round-robin}. */
    public static LoadBalanceHosts parse(String value) {
        return switch (value.trim().toLowerCase(Locale.ROOT).replace('_', '-')) {
            case "disable", "false", "off" -> DISABLE;
            case "random" -> RANDOM;
            case "round-robin" -> ROUND_ROBIN;
            default -> throw new IllegalArgumentException(
                    "unknown load_balance_hosts \"" + value + "\" (disable, random, round-robin)");
        };
    }

    public String configName() {
        return name().toLowerCase(Locale.ROOT).replace('_', '-');
    }
}
