package dev.pgmux.protocol;

/**
 * Malformed or unsupported input from a peer. Carries the SQLSTATE that the ErrorResponse to the client uses.
 */
public final class ProtocolException extends Exception {
    private final String sqlState;

    public ProtocolException(String sqlState, String message) {
        super(message, null, false, false);
        this.sqlState = sqlState;
    }

    public String sqlState() {
        return sqlState;
    }
}
