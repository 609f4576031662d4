package dev.pgmux.pool;

/** Placeholder until the lexer lands. */
public final class SessionStateScan {
    public enum Cause { SET }

    public record Finding(Cause cause, String statement) {
    }

    public static Finding scan(CharSequence sql) {
        return null;
    }

    public static boolean dropsPreparedStatements(CharSequence sql) {
        return false;
    }
}
