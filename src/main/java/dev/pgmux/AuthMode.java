package dev.pgmux;

import java.util.Locale;

/**
 * Who authenticates a routed client ({@code auth} of a route).
 */
public enum AuthMode {
    /**
     * The backend does, through pgmux: its authentication requests and the client's answers are relayed as they
     * are, so the client needs the backend's password for its user. The default.
     */
    PASSTHROUGH,
    /**
     * pgmux does, with the route's {@code client_password} or the {@code auth_file}; it then logs in to the
     * backend on its own, with the route's {@code password_env}/{@code password_file} password.
     */
    PROXY;

    /** Parses {@code passthrough} or {@code proxy}. */
    public static AuthMode parse(String value) {
        return switch (value.strip().toLowerCase(Locale.ROOT)) {
            case "passthrough" -> PASSTHROUGH;
            case "proxy" -> PROXY;
            default -> throw new IllegalArgumentException("unknown auth \"" + value + "\" (passthrough, proxy)");
        };
    }

    /** The name in the config file: {@code passthrough} or {@code proxy}. */
    public String configName() {
        return name().toLowerCase(Locale.ROOT);
    }
}
