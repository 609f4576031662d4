package dev.pgmux.pool;

import static dev.pgmux.pool.SqlLexer.CHAR;
import static dev.pgmux.pool.SqlLexer.STRING;
import static dev.pgmux.pool.SqlLexer.WORD;

import dev.pgmux.pool.SqlLexer.Word;

/**
 * Finds, in the text of a Query or Parse message, the statements that leave state on their server which another
 * server would not have, so that transaction pooling can pin the client to its server (or refuse the statement):
 * see {@link Cause}. Also says whether a text drops the server's prepared statements, which pgmux's own statement
 * cache must then forget.
 *
 * <p>What is read: each statement (every semicolon outside literals and comments ends one: inside parentheses a
 * semicolon is a syntax error, so nothing runs, or a rule's action list, where splitting can only find more) by its
 * first keywords, and function calls anywhere outside string constants, quoted text and comments, whatever schema
 * qualifies them ({@code pg_catalog.set_config} and a user's function of the same name alike: pinning too often is
 * safe). {@code EXPLAIN [ANALYZE] [VERBOSE] [(...)]} is read through, as EXPLAIN ANALYZE runs its statement. Not
 * seen: what runs inside a function or a DO block (its body is a string constant), and a quoted identifier written
 * with Unicode escapes ({@code U&"set\005fconfig"}). Not counted: {@code RESET} and {@code DISCARD} (they go back to
 * the session's start), {@code SET LOCAL}, {@code SET TRANSACTION}, {@code SET CONSTRAINTS}, the transaction-level
 * advisory locks ({@code pg_advisory_xact_lock...}), {@code UNLISTEN}, and {@code PREPARE TRANSACTION 'id'}: a
 * prepared transaction belongs to no session (any session may COMMIT PREPARED it).
 *
 * <p>The text is what PostgreSQL parses: decoded with the client's encoding (for UTF-8 the message's bytes read as
 * Latin-1 lex the same, see SqlLexer; encodings such as SJIS whose characters may end in a byte that looks
 * like a quote or a backslash must be decoded first), up to the message's terminating zero byte.
 *
 * <p>Cost: no allocation unless something is found, no regular expression. A first pass looks for the letters every
 * finding needs ("set", "listen", "load", "advisory", "temp", "hold", "prepare") and returns when none is there,
 * which is most queries' case; otherwise the lexer makes one pass, plus at most 64 tokens read again for each
 * {@code set_config(} call. Timed with a plain loop on a busy 2-core machine where a bare loop over {@code charAt}
 * took 2 ns a character: the first pass took about as much, the lexer 7 to 9 ns a character, so a few
 * microseconds for a 300-character query that passes the first pass; the JVM's per-thread allocation counter
 * stayed at zero.
 */
public final class SessionStateScan {

    /** What a statement leaves on its server. */
    public enum Cause {
        /** A session-level {@code SET} (including SET ROLE, SET SESSION AUTHORIZATION, SET TIME ZONE, SET SCHEMA...). */
        SET("a session-level SET"),
        /** {@code set_config(name, value, is_local)} with {@code is_local} not literally {@code true}. */
        SET_CONFIG("set_config() with is_local not true"),
        LISTEN("LISTEN"),
        /** {@code pg_advisory_lock}, {@code pg_try_advisory_lock} and their {@code _shared} forms. */
        ADVISORY_LOCK("a session-level advisory lock"),
        /** {@code CREATE TEMP ...}, {@code SELECT ... INTO TEMP ...}, or an object created in schema pg_temp. */
        TEMPORARY_OBJECT("a temporary table, view or sequence"),
        /** {@code DECLARE ... WITH HOLD}: the cursor outlives its transaction. */
        WITH_HOLD_CURSOR("a WITH HOLD cursor"),
        /** SQL-level {@code PREPARE name AS ...} (not the protocol's Parse). */
        PREPARE("a prepared statement made with SQL PREPARE"),
        /** {@code LOAD 'library'}. */
        LOAD("LOAD of a shared library");

        private final String description;

        Cause(String description) {
            this.description = description;
        }

        /** A few words for an error message or a log line: "a session-level SET". */
        public String description() {
            return description;
        }
    }

    /**
     * A finding: its cause and where it is, as an excerpt of at most {@link #MAX_EXCERPT} characters from the start
     * of the statement (or of the function call) with whitespace collapsed, for a log line or an error message.
     */
    public record Finding(Cause cause, String statement) {
        public static final int MAX_EXCERPT = 80;
    }

    // What the scanner expects next in the current statement.
    private static final int FIRST = 0;
    private static final int OTHER = 1;
    private static final int EXPLAIN = 2;
    private static final int SET = 3;
    /** After SET LOCAL, SET TRANSACTION or SET CONSTRAINTS. */
    private static final int SET_SCOPE = 4;
    private static final int PREPARE = 5;
    private static final int PREPARE_TRANSACTION = 6;
    private static final int DECLARE = 7;
    /** After CREATE [OR REPLACE] [GLOBAL | LOCAL]. */
    private static final int CREATE = 8;
    /** The rest of a CREATE statement. */
    private static final int CREATED = 9;
    private static final int DISCARD = 10;

    // Where the scanner is in SELECT ... INTO [GLOBAL | LOCAL] TEMP | [TABLE] pg_temp.x
    private static final int INTO = 1;
    private static final int INTO_SCOPE = 2;
    private static final int INTO_TABLE = 3;

    /** Tokens read for the arguments of one set_config call, at most. */
    private static final int SET_CONFIG_TOKENS = 64;

    private SessionStateScan() {
    }

    /** The first statement of {@code sql} that leaves session state, or null; standard_conforming_strings on. */
    public static Finding scan(CharSequence sql) {
        return scan(sql, true);
    }

    /**
     * The first statement of {@code sql} that leaves session state, or null. Never throws, whatever the text.
     *
     * @param standardConformingStrings the session's standard_conforming_strings (a reported setting): when off,
     *                                  a backslash escapes a quote in {@code '...'} as in {@code E'...'}
     */
    public static Finding scan(CharSequence sql, boolean standardConformingStrings) {
        return scan(sql, standardConformingStrings, true);
    }

    /** {@link #scan(CharSequence, boolean)}, with the letter prefilter on or off (off: for tests). */
    static Finding scan(CharSequence sql, boolean standard, boolean prefilter) {
        if (sql == null || prefilter && !mayHoldSessionState(sql)) {
            return null;
        }
        int len = sql.length();
        int pos = 0;
        int statement = 0;
        int state = FIRST;
        int into = 0;
        int parens = 0;
        Word prev = Word.NONE;
        Word pending = Word.NONE; // a function name or pg_temp, waiting for the '(' or '.' that follows
        int pendingAt = 0;
        while ((pos = SqlLexer.skipSpace(sql, pos, len)) < len) {
            long token = SqlLexer.token(sql, pos, len, standard);
            int type = SqlLexer.type(token);
            int end = SqlLexer.end(token);
            char c = type == CHAR ? sql.charAt(pos) : 0;
            if (c == ';') {
                state = FIRST;
                into = 0;
                prev = pending = Word.NONE;
                pos = end;
                continue;
            }
            Word w = Word.of(sql, pos, end, type);
            Cause found = null;
            int at = statement;

            if (pending == Word.PG_TEMP && c == '.') {
                found = Cause.TEMPORARY_OBJECT;
            } else if (pending.advisoryLock() && c == '(') {
                found = Cause.ADVISORY_LOCK;
                at = pendingAt;
            } else if (pending == Word.SET_CONFIG && c == '(' && !localSetConfig(sql, end, len, standard)) {
                found = Cause.SET_CONFIG;
                at = pendingAt;
            }
            boolean creating = state == CREATE || state == CREATED;
            pending = w.name && (w != Word.PG_TEMP || creating || into == INTO || into == INTO_TABLE) ? w : Word.NONE;
            pendingAt = pos;

            if ((into == INTO || into == INTO_SCOPE) && (w == Word.TEMP || w == Word.TEMPORARY) && found == null) {
                found = Cause.TEMPORARY_OBJECT;
            }
            if (into == INTO && (w == Word.GLOBAL || w == Word.LOCAL)) {
                into = INTO_SCOPE;
            } else if (into == INTO && w == Word.TABLE) {
                into = INTO_TABLE;
            } else {
                // INSERT INTO temp and MERGE INTO temp name a table called temp.
                into = w == Word.INTO && prev != Word.INSERT && prev != Word.MERGE ? INTO : 0;
            }

            if (state == EXPLAIN) {
                if (c == '(') {
                    parens++;
                } else if (c == ')') {
                    parens--;
                } else if (parens <= 0 && w != Word.ANALYZE && w != Word.ANALYSE && w != Word.VERBOSE) {
                    state = FIRST; // the explained statement, read as if it stood alone
                }
            } else if (state == FIRST) {
                at = statement = pos; // nothing is pending at a statement's start
            }
            Cause byKeywords = null;
            switch (state) {
                case FIRST -> {
                    parens = 0;
                    state = switch (w) {
                        case SET -> SET;
                        case PREPARE -> PREPARE;
                        case DECLARE -> DECLARE;
                        case CREATE -> CREATE;
                        case EXPLAIN -> EXPLAIN;
                        default -> OTHER;
                    };
                    byKeywords = w == Word.LISTEN ? Cause.LISTEN : w == Word.LOAD ? Cause.LOAD : null;
                }
                case SET -> {
                    if (w == Word.LOCAL || w == Word.TRANSACTION || w == Word.CONSTRAINTS) {
                        state = SET_SCOPE;
                    } else {
                        byKeywords = Cause.SET;
                    }
                }
                // "SET local.x = 1" sets a custom setting whose name starts like the keyword.
                case SET_SCOPE -> {
                    byKeywords = c == '.' || c == '=' || w == Word.TO ? Cause.SET : null;
                    state = OTHER;
                }
                case PREPARE -> {
                    if (w == Word.TRANSACTION) {
                        state = PREPARE_TRANSACTION;
                    } else {
                        byKeywords = Cause.PREPARE;
                    }
                }
                // PREPARE TRANSACTION 'id' is two-phase commit; "PREPARE transaction AS ..." names a statement.
                case PREPARE_TRANSACTION -> {
                    byKeywords = type != STRING ? Cause.PREPARE : null;
                    state = OTHER;
                }
                case DECLARE -> {
                    if (prev == Word.WITH && w == Word.HOLD) {
                        byKeywords = Cause.WITH_HOLD_CURSOR;
                    } else if (w == Word.FOR) {
                        state = OTHER; // the query: "WITH hold AS (...)" there is a CTE
                    }
                }
                case CREATE -> {
                    if (w == Word.TEMP || w == Word.TEMPORARY) {
                        byKeywords = Cause.TEMPORARY_OBJECT;
                    } else if (w != Word.OR && w != Word.REPLACE && w != Word.GLOBAL && w != Word.LOCAL) {
                        state = CREATED;
                    }
                }
                default -> {
                }
            }
            found = found != null ? found : byKeywords;
            if (found != null) {
                return new Finding(found, excerpt(sql, at, len, standard));
            }
            prev = w;
            pos = end;
        }
        return null;
    }

    /**
     * Whether {@code sql} drops the server's prepared statements: {@code DEALLOCATE} in any form (pgmux does not
     * tell a client's names from its own), {@code DISCARD ALL}, {@code DISCARD PLANS}. Never throws.
     */
    public static boolean dropsPreparedStatements(CharSequence sql) {
        return dropsPreparedStatements(sql, true);
    }

    /** {@link #dropsPreparedStatements(CharSequence)} for a session with the given standard_conforming_strings. */
    public static boolean dropsPreparedStatements(CharSequence sql, boolean standardConformingStrings) {
        if (sql == null || !contains(sql, "deallocate") && !contains(sql, "discard")) {
            return false;
        }
        int len = sql.length();
        int pos = 0;
        int state = FIRST;
        while ((pos = SqlLexer.skipSpace(sql, pos, len)) < len) {
            long token = SqlLexer.token(sql, pos, len, standardConformingStrings);
            int type = SqlLexer.type(token);
            int end = SqlLexer.end(token);
            if (type == CHAR && sql.charAt(pos) == ';') {
                state = FIRST;
            } else {
                Word w = type == WORD ? Word.of(sql, pos, end, type) : Word.NONE;
                if (state == FIRST && w == Word.DEALLOCATE || state == DISCARD && (w == Word.ALL || w == Word.PLANS)) {
                    return true;
                }
                state = state == FIRST && w == Word.DISCARD ? DISCARD : OTHER;
            }
            pos = end;
        }
        return false;
    }

    /**
     * Whether the set_config call whose arguments start at {@code pos} is transaction-local: its third argument is
     * the single token {@code true}. Anything else, a parameter, an expression, or more than
     * {@link #SET_CONFIG_TOKENS} tokens to read, counts as session-level. (set_config's arguments have no names in
     * pg_proc, so a call in named notation fails and needs no reading.)
     */
    private static boolean localSetConfig(CharSequence sql, int pos, int len, boolean standard) {
        int depth = 0;
        int arg = 0;
        int n = 0; // tokens of the current argument
        boolean isTrue = false;
        for (int budget = SET_CONFIG_TOKENS; budget > 0; budget--) {
            if ((pos = SqlLexer.skipSpace(sql, pos, len)) >= len) {
                return false;
            }
            long token = SqlLexer.token(sql, pos, len, standard);
            int type = SqlLexer.type(token);
            int end = SqlLexer.end(token);
            char c = type == CHAR ? sql.charAt(pos) : 0;
            if (depth == 0 && c == ')') {
                return arg == 2 && n == 1 && isTrue;
            } else if (depth == 0 && c == ',') {
                arg++;
                n = 0;
            } else if (c == ';') {
                return false;
            } else {
                depth += c == '(' ? 1 : c == ')' ? -1 : 0;
                isTrue = n == 0 && type == WORD && Word.of(sql, pos, end, type) == Word.TRUE; // "true" is a column
                n++;
            }
            pos = end;
        }
        return false;
    }

    /** The statement from {@code from} to its semicolon, whitespace collapsed, cut to {@link Finding#MAX_EXCERPT}. */
    private static String excerpt(CharSequence sql, int from, int len, boolean standard) {
        int end = from;
        int pos = from;
        while ((pos = SqlLexer.skipSpace(sql, pos, len)) < len && pos - from < 4 * Finding.MAX_EXCERPT) {
            long token = SqlLexer.token(sql, pos, len, standard);
            if (SqlLexer.type(token) == CHAR && sql.charAt(pos) == ';') {
                break;
            }
            pos = end = SqlLexer.end(token);
        }
        StringBuilder b = new StringBuilder(Finding.MAX_EXCERPT + 1);
        boolean space = false;
        for (int i = from; i < end && b.length() <= Finding.MAX_EXCERPT; i++) {
            char c = sql.charAt(i);
            if (c <= ' ' || c == 0x7F) {
                space = b.length() > 0;
            } else {
                if (space) {
                    b.append(' ');
                    space = false;
                }
                b.append(c);
            }
        }
        if (b.length() > Finding.MAX_EXCERPT) {
            b.setLength(Finding.MAX_EXCERPT - 1);
            if (Character.isHighSurrogate(b.charAt(b.length() - 1))) {
                b.setLength(b.length() - 1);
            }
            b.append('…');
        }
        return b.toString();
    }

    /**
     * Whether {@code sql} holds, in any case, one of the letter sequences that every finding needs: "set" (SET,
     * set_config), "listen", "load", "advisory", "temp" (TEMP, TEMPORARY, pg_temp), "hold", "prepare".
     */
    static boolean mayHoldSessionState(CharSequence sql) {
        int len = sql.length();
        for (int i = 0; i + 3 <= len; i++) {
            boolean hit = switch (sql.charAt(i) | 0x20) {
                case 's' -> SqlLexer.matches(sql, i, "set", true);
                case 'l' -> SqlLexer.matches(sql, i, "listen", true) || SqlLexer.matches(sql, i, "load", true);
                case 'a' -> SqlLexer.matches(sql, i, "advisory", true);
                case 't' -> SqlLexer.matches(sql, i, "temp", true);
                case 'h' -> SqlLexer.matches(sql, i, "hold", true);
                case 'p' -> SqlLexer.matches(sql, i, "prepare", true);
                default -> false;
            };
            if (hit) {
                return true;
            }
        }
        return false;
    }

    private static boolean contains(CharSequence sql, String lower) {
        for (int i = 0; i + lower.length() <= sql.length(); i++) {
            if ((sql.charAt(i) | 0x20) == lower.charAt(0) && SqlLexer.matches(sql, i, lower, true)) {
                return true;
            }
        }
        return false;
    }
}
