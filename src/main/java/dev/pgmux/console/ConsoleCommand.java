package dev.pgmux.console;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * One console command, as PgBouncer's console reads it: a keyword, maybe an argument, case-insensitive, an optional
 * trailing semicolon. An argument is a word or a double-quoted name ({@code "alice@lab/10.0.0.5:5432"}, with
 * {@code ""} for a quote inside).
 */
public sealed interface ConsoleCommand {

    /** Whether only admin users may run it ({@code SHOW} and {@code SET} are for stats users too). */
    default boolean needsAdmin() {
        return true;
    }

    /** The CommandComplete tag of its answer. */
    String tag();

    /** {@code SHOW what}; {@code what} upper case. */
    record Show(String what) implements ConsoleCommand {
        @Override
        public boolean needsAdmin() {
            return false;
        }

        @Override
        public String tag() {
            return "SHOW";
        }
    }

    /** {@code SET name = value} / {@code SET name TO value}: a client's session setting, accepted and ignored. */
    record Set(String name) implements ConsoleCommand {
        @Override
        public boolean needsAdmin() {
            return false;
        }

        @Override
        public String tag() {
            return "SET";
        }
    }

    /**
     * An action on backends; {@code target} names them (a pool, a host) or is null for all.
     *
     * @param verb {@code PAUSE}, {@code RESUME}, {@code RECONNECT}, {@code KILL}, {@code WAIT_CLOSE}, {@code DISABLE}
     *             or {@code ENABLE}
     */
    record OnBackends(String verb, String target) implements ConsoleCommand {
        @Override
        public String tag() {
            return verb;
        }
    }

    record KillClient(long id) implements ConsoleCommand {
        @Override
        public String tag() {
            return "KILL_CLIENT";
        }
    }

    record Reload() implements ConsoleCommand {
        @Override
        public String tag() {
            return "RELOAD";
        }
    }

    /** {@code SHUTDOWN}, {@code SHUTDOWN WAIT_FOR_CLIENTS}, {@code SHUTDOWN WAIT_FOR_SERVERS}: all graceful. */
    record Shutdown(String mode) implements ConsoleCommand {
        @Override
        public String tag() {
            return "SHUTDOWN";
        }
    }

    /** Nothing but blanks and semicolons: PostgreSQL answers EmptyQueryResponse. */
    record Empty() implements ConsoleCommand {
        @Override
        public boolean needsAdmin() {
            return false;
        }

        @Override
        public String tag() {
            return "";
        }
    }

    /** Not a command the console knows: the text as given, for the error. */
    record Invalid(String text, String why) implements ConsoleCommand {
        @Override
        public boolean needsAdmin() {
            return false;
        }

        @Override
        public String tag() {
            return "";
        }
    }

    /** Splits a query string into its statements at semicolons outside quotes (as PostgreSQL runs them in turn). */
    static List<String> statements(String query) {
        List<String> out = new ArrayList<>(1);
        StringBuilder current = new StringBuilder();
        char quote = 0;
        for (int i = 0; i < query.length(); i++) {
            char c = query.charAt(i);
            if (quote != 0) {
                if (c == quote) {
                    quote = 0;
                }
                current.append(c);
            } else if (c == '"' || c == '\'') {
                quote = c;
                current.append(c);
            } else if (c == ';') {
                out.add(current.toString());
                current.setLength(0);
            } else {
                current.append(c);
            }
        }
        if (!current.toString().isBlank() || out.isEmpty()) {
            out.add(current.toString());
        }
        return out;
    }

    /** {@code SET [SESSION] name = value} or {@code TO value}, as a client library sends at login. */
    java.util.regex.Pattern SET = java.util.regex.Pattern.compile(
            "(?is)SET\\s+(?:SESSION\\s+)?([a-z_][a-z0-9_.$]*)\\s*(?:=|\\sTO\\s)\\s*\\S.*");

    /** Reads one statement (no semicolons but maybe a trailing one). */
    static ConsoleCommand parse(String statement) {
        String text = statement.strip();
        while (text.endsWith(";")) {
            text = text.substring(0, text.length() - 1).strip();
        }
        if (text.isEmpty()) {
            return new Empty();
        }
        java.util.regex.Matcher set = SET.matcher(text);
        if (set.matches()) {
            return new Set(set.group(1).toLowerCase(Locale.ROOT));
        }
        List<String> words;
        try {
            words = words(text);
        } catch (IllegalArgumentException e) {
            return new Invalid(statement.strip(), e.getMessage());
        }
        String verb = words.get(0).toUpperCase(Locale.ROOT);
        int args = words.size() - 1;
        String arg = args >= 1 ? words.get(1) : null;
        return switch (verb) {
            case "SHOW" -> args == 1 ? new Show(arg.toUpperCase(Locale.ROOT)) : invalid(statement);
            case "PAUSE", "RESUME", "RECONNECT", "KILL", "WAIT_CLOSE" ->
                    args <= 1 ? new OnBackends(verb, arg) : invalid(statement);
            case "DISABLE", "ENABLE" -> args == 1 ? new OnBackends(verb, arg) : invalid(statement);
            case "KILL_CLIENT" -> {
                if (args != 1) {
                    yield invalid(statement);
                }
                try {
                    yield new KillClient(Long.parseLong(arg));
                } catch (NumberFormatException e) {
                    yield new Invalid(statement.strip(), "invalid client id: " + arg);
                }
            }
            case "RELOAD" -> args == 0 ? new Reload() : invalid(statement);
            case "SHUTDOWN" -> {
                if (args == 0) {
                    yield new Shutdown("");
                }
                String mode = arg.toUpperCase(Locale.ROOT);
                yield args == 1 && (mode.equals("WAIT_FOR_CLIENTS") || mode.equals("WAIT_FOR_SERVERS"))
                        ? new Shutdown(mode) : invalid(statement);
            }
            default -> invalid(statement);
        };
    }

    private static Invalid invalid(String statement) {
        return new Invalid(statement.strip(), null);
    }

    /** Words separated by blanks; a double-quoted word keeps its blanks and doubled quotes. */
    private static List<String> words(String text) {
        List<String> words = new ArrayList<>(3);
        int i = 0;
        int n = text.length();
        while (i < n) {
            char c = text.charAt(i);
            if (Character.isWhitespace(c)) {
                i++;
            } else if (c == '"') {
                StringBuilder w = new StringBuilder();
                i++;
                while (true) {
                    if (i >= n) {
                        throw new IllegalArgumentException("unterminated quoted identifier");
                    }
                    char d = text.charAt(i++);
                    if (d == '"') {
                        if (i < n && text.charAt(i) == '"') {
                            w.append('"');
                            i++;
                        } else {
                            break;
                        }
                    } else {
                        w.append(d);
                    }
                }
                words.add(w.toString());
            } else {
                int start = i;
                while (i < n && !Character.isWhitespace(text.charAt(i))) {
                    i++;
                }
                words.add(text.substring(start, i));
            }
        }
        return words;
    }
}
