package dev.pgmux.auth;

import dev.pgmux.protocol.ErrorResponse;
import dev.pgmux.protocol.SqlState;

/**
 * The errors a client gets when pgmux itself refuses its login, worded as PostgreSQL words them
 * (src/backend/libpq/auth.c: {@code auth_failed}, {@code recv_password_packet}, {@code ClientAuthentication}), so
 * that a client cannot tell pgmux's refusal from a server's. User names are cut at 63 bytes, as a server keeps them.
 */
public final class LoginErrors {
    private LoginErrors() {
    }

    /** 28P01: a wrong password by any method, an unknown user, a password the application's hook refused. */
    public static ErrorResponse passwordFailed(String user) {
        return ErrorResponse.fatal(SqlState.INVALID_PASSWORD,
                "password authentication failed for user \"" + ScramServer.truncate(user) + "\"");
    }

    /** 28000: a client certificate whose common name is not the user name, or that has none. */
    public static ErrorResponse certificateFailed(String user) {
        return ErrorResponse.fatal(SqlState.INVALID_AUTHORIZATION_SPECIFICATION,
                "certificate authentication failed for user \"" + ScramServer.truncate(user) + "\"");
    }

    /** 28000: no client certificate that pgmux verified (no TLS, none sent, or no client CA configured). */
    public static ErrorResponse certificateRequired() {
        return ErrorResponse.fatal(SqlState.INVALID_AUTHORIZATION_SPECIFICATION,
                "connection requires a valid client certificate");
    }

    /** 28000: the application's hook refused a login in which no password was asked for. */
    public static ErrorResponse authenticationFailed(String user) {
        return ErrorResponse.fatal(SqlState.INVALID_AUTHORIZATION_SPECIFICATION,
                "authentication failed for user \"" + ScramServer.truncate(user) + "\"");
    }

    /**
     * 28000: a route that takes cleartext passwords, and a client without TLS; refused before the client sends one.
     * PostgreSQL's nearest answer is pg_hba.conf's (a {@code hostssl} line that does not match).
     */
    public static ErrorResponse cleartextNeedsTls() {
        return ErrorResponse.fatal(SqlState.INVALID_AUTHORIZATION_SPECIFICATION,
                "password authentication requires an SSL connection",
                "Connect with sslmode=require: the password would cross the network in cleartext.");
    }

    /** 28P01: a PasswordMessage holding an empty string. */
    public static ErrorResponse emptyPassword() {
        return ErrorResponse.fatal(SqlState.INVALID_PASSWORD, "empty password returned by client");
    }

    /** 08P01: a PasswordMessage whose string does not end exactly where the message ends. */
    public static ErrorResponse invalidPasswordPacket() {
        return ErrorResponse.fatal(SqlState.PROTOCOL_VIOLATION, "invalid password packet size");
    }

    /** 08P01: another message where a PasswordMessage (or SASL response) was expected. */
    public static ErrorResponse expected(String what, int type) {
        return ErrorResponse.fatal(SqlState.PROTOCOL_VIOLATION, "expected " + what + " response, got message type "
                + type);
    }
}
