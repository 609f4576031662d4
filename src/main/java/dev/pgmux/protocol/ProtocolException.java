package dev.pgmux.protocol;

/**
 * Malformed or unsupported input from a peer. Carries the SQLSTATE that the ErrorResponse to the client uses.
 */
public final class ProtocolException extends Exception {
    private final String sqlState;
    private final boolean silent;

    public ProtocolException(String sqlState, String message) {
        this(sqlState, message, false);
    }

    private ProtocolException(String sqlState, String message, boolean silent) {
        super(message, null, false, false);
        this.sqlState = sqlState;
        this.silent = silent;
    }

    /**
     * A fault PostgreSQL only logs (COMMERROR) and answers by closing the connection without a word, such as a
     * startup packet whose length is out of range: the peer may not even speak the protocol.
     */
    public static ProtocolException silent(String sqlState, String message) {
        return new ProtocolException(sqlState, message, true);
    }

    /** Whether the peer gets no ErrorResponse for this fault, only a close. */
    public boolean silent() {
        return silent;
    }

    public String sqlState() {
        return sqlState;
    }
}
