package dev.pgmux.session;

import java.util.Locale;
import java.util.Set;

/**
 * A statement that changes a run-time setting for the session in the simplest form, {@code SET [SESSION] name
 * {= | TO} value}, {@code RESET name} or {@code RESET ALL}, alone in its text: what drivers send right after their
 * login (pgjdbc's {@code SET extra_float_digits = 3}). Transaction pooling carries such a setting along with its
 * client, to each server it gets, instead of pinning the client to one. Any other form is not one of these (and
 * pins, as before).
 *
 * @param name  the setting, lower case; null for RESET ALL
 * @param value the value as written (for {@code SET name = value} again on another server); null for a reset
 */
record SessionSet(String name, String value) {
    /** Names that are not plain settings in a SET statement's grammar. */
    private static final Set<String> SPECIAL = Set.of("role", "session", "authorization", "characteristics", "time",
            "names", "schema", "transaction", "constraints", "local", "xml", "session_authorization",
            "transaction_isolation", "transaction_read_only", "transaction_deferrable", "default_transaction_isolation");

    boolean reset() {
        return value == null;
    }

    /** The statement, or null if {@code sql} is anything else. */
    static SessionSet parse(String sql) {
        int i = skipSpace(sql, 0);
        int word = word(sql, i);
        String first = sql.substring(i, word).toLowerCase(Locale.ROOT);
        if (first.equals("discard")) {
            // DISCARD ALL resets every setting (and more): as RESET ALL for the settings carried
            int end = word(sql, skipSpace(sql, word));
            String what = sql.substring(skipSpace(sql, word), end).toLowerCase(Locale.ROOT);
            String rest = sql.substring(end).strip();
            return what.equals("all") && (rest.isEmpty() || rest.equals(";")) ? new SessionSet(null, null) : null;
        }
        if (!first.equals("set") && !first.equals("reset")) {
            return null;
        }
        i = skipSpace(sql, word);
        int nameEnd = word(sql, i);
        String name = sql.substring(i, nameEnd).toLowerCase(Locale.ROOT);
        if (first.equals("set") && name.equals("session")) {
            i = skipSpace(sql, nameEnd);
            nameEnd = word(sql, i);
            name = sql.substring(i, nameEnd).toLowerCase(Locale.ROOT);
        }
        if (name.isEmpty() || SPECIAL.contains(name) || !Character.isLetter(name.charAt(0)) && name.charAt(0) != '_') {
            return null;
        }
        String rest = sql.substring(nameEnd).strip();
        while (rest.endsWith(";")) {
            rest = rest.substring(0, rest.length() - 1).strip();
        }
        if (first.equals("reset")) {
            if (!rest.isEmpty()) {
                return null;
            }
            return name.equals("all") ? new SessionSet(null, null) : new SessionSet(name, null);
        }
        if (rest.startsWith("=")) {
            rest = rest.substring(1).strip();
        } else if (rest.length() > 2 && rest.substring(0, 2).equalsIgnoreCase("to")
                && Character.isWhitespace(rest.charAt(2))) {
            rest = rest.substring(3).strip();
        } else {
            return null;
        }
        // One statement, no comment, nothing the value could hide: else it is not this simple form.
        if (rest.isEmpty() || rest.indexOf(';') >= 0 || rest.contains("--") || rest.contains("/*")
                || rest.indexOf('$') >= 0 || rest.indexOf('\\') >= 0) {
            return null;
        }
        if (rest.equalsIgnoreCase("default")) {
            return new SessionSet(name, null);
        }
        return new SessionSet(name, rest);
    }

    /** The statement that puts this setting in force on a server. */
    String statement() {
        return value == null ? (name == null ? "RESET ALL" : "RESET " + name) : "SET " + name + " = " + value;
    }

    private static int skipSpace(String s, int i) {
        while (i < s.length() && Character.isWhitespace(s.charAt(i))) {
            i++;
        }
        return i;
    }

    /** The end of the identifier (letters, digits, _, $ and . for custom settings) starting at {@code i}. */
    private static int word(String s, int i) {
        while (i < s.length() && (Character.isLetterOrDigit(s.charAt(i)) || s.charAt(i) == '_' || s.charAt(i) == '.')) {
            i++;
        }
        return i;
    }
}
