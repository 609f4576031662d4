package dev.pgmux;

import java.util.Locale;

/**
 * What transaction pooling does with a statement that leaves state on its server which another server would not
 * have (a session-level SET, LISTEN, a session advisory lock, a temporary table, a WITH HOLD cursor, SQL PREPARE,
 * LOAD): {@code on_session_state} of a route.
 */
public enum SessionStatePolicy {
    /** The client keeps its server until it disconnects, as on a dedicated connection. The default. */
    PIN,
    /** The statement is refused with an ErrorResponse (SQLSTATE 0A000) that names it. */
    ERROR,
    /** The statement runs and the server goes back to the pool as usual: PgBouncer's behaviour. */
    IGNORE;

    /** Parses {@code pin}, {@code error} or {@code ignore}. */
    public static SessionStatePolicy parse(String value) {
        return switch (value.strip().toLowerCase(Locale.ROOT)) {
            case "pin" -> PIN;
            case "error" -> ERROR;
            case "ignore" -> IGNORE;
            default -> throw new IllegalArgumentException("unknown on_session_state \"" + value + "\" (pin, error, ignore)");
        };
    }

    /** The name in the config file. */
    public String configName() {
        return name().toLowerCase(Locale.ROOT);
    }
}
