package dev.pgmux;

/**
 * Thrown by a {@link Router} to refuse a connection. The client receives a FATAL ErrorResponse with this
 * SQLSTATE and message, so the message must not reveal internal details.
 */
public class RoutingException extends Exception {
    /** invalid_authorization_specification: the default, as for a user PostgreSQL does not know. */
    public static final String NO_ROUTE = "28000";

    private final String sqlState;

    public RoutingException(String message) {
        this(NO_ROUTE, message);
    }

    public RoutingException(String sqlState, String message) {
        super(message);
        this.sqlState = checked(sqlState);
    }

    public RoutingException(String sqlState, String message, Throwable cause) {
        super(message, cause);
        this.sqlState = checked(sqlState);
    }

    private static String checked(String sqlState) {
        if (sqlState == null || sqlState.length() != 5) {
            throw new IllegalArgumentException("a SQLSTATE has five characters: " + sqlState);
        }
        return sqlState;
    }

    public String sqlState() {
        return sqlState;
    }

    /** The error for a user with no route: FATAL 28000 {@code no route for user "name"}. */
    public static RoutingException noRoute(String user) {
        return new RoutingException(NO_ROUTE, "no route for user \"" + user + "\"");
    }
}
