package dev.pgmux;

import java.util.Locale;

/** How the server connections of a route are shared ({@code pool} of a route). */
public enum PoolMode {
    /** Each client has a server connection of its own, opened at its login and closed when it leaves. The default. */
    NONE,
    /**
     * A client holds one pooled server connection from its login to its end; the connection is reset
     * ({@code server_reset_query}) and goes back to the pool for the next client with the same startup parameters.
     */
    SESSION,
    /**
     * A client holds a pooled server connection from the first message of a transaction until the ReadyForQuery
     * that ends it (with nothing else in flight); state that cannot move between servers pins it to one.
     */
    TRANSACTION;

    /** Parses {@code none}, {@code session} or {@code transaction}. */
    public static PoolMode parse(String value) {
        return switch (value.strip().toLowerCase(Locale.ROOT)) {
            case "none" -> NONE;
            case "session" -> SESSION;
            case "transaction" -> TRANSACTION;
            default -> throw new IllegalArgumentException("unknown pool \"" + value + "\" (none, session, transaction)");
        };
    }

    /** The name in the config file. */
    public String configName() {
        return name().toLowerCase(Locale.ROOT);
    }
}
