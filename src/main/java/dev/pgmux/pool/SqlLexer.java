package dev.pgmux.pool;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * PostgreSQL's lexical rules (src/backend/parser/scan.l), as far as a reader of query text needs them to know where
 * a token starts and ends: whitespace, {@code --} and nested {@code /* *\/} comments, string constants in all their
 * forms, quoted identifiers, dollar quotes, parameters, numbers, words and single characters. Nothing is decoded and
 * nothing is allocated: a token is a type and an end, packed in a {@code long}.
 *
 * <p>Every character at or above U+0080 is an identifier character, as every byte at or above 0x80 is in scan.l; so
 * the query's UTF-8 bytes read one byte a char (Latin-1) lex exactly like the decoded text.
 *
 * <p>A text PostgreSQL cannot lex (an unterminated string or comment, trailing junk after a number) fails as a
 * whole before any of its statements runs, so for such a text any answer is safe: the rules below are exact only
 * where PostgreSQL accepts the text.
 */
final class SqlLexer {

    /** An unquoted word: a keyword or an identifier, folded to lower case by PostgreSQL. */
    static final int WORD = 1;
    /** A quoted identifier, {@code "..."} or {@code U&"..."}. */
    static final int QUOTED = 2;
    /** A string constant: {@code '...'}, {@code E'...'}, {@code U&'...'}, {@code B'...'}, {@code X'...'}, {@code $tag$...$tag$}. */
    static final int STRING = 3;
    static final int NUMBER = 4;
    /** {@code $1}. */
    static final int PARAM = 5;
    /** Any other single character: an operator character, a parenthesis, a comma, a semicolon. */
    static final int CHAR = 6;

    /** How a string constant treats backslashes and doubled quotes. */
    private static final int PLAIN = 0;
    private static final int ESCAPES = 1;
    private static final int BITS = 2;

    private SqlLexer() {
    }

    static int type(long token) {
        return (int) (token >>> 32);
    }

    static int end(long token) {
        return (int) token;
    }

    private static long token(int type, int end) {
        return (long) type << 32 | end;
    }

    /** The start of the next token at or after {@code pos}, past whitespace and comments; {@code len} if none. */
    static int skipSpace(CharSequence s, int pos, int len) {
        while (pos < len) {
            char c = s.charAt(pos);
            if (isSpace(c)) {
                pos++;
            } else if (c == '-' && pos + 1 < len && s.charAt(pos + 1) == '-') {
                pos = lineEnd(s, pos + 2, len);
            } else if (c == '/' && pos + 1 < len && s.charAt(pos + 1) == '*') {
                pos = commentEnd(s, pos + 2, len);
            } else {
                break;
            }
        }
        return pos;
    }

    /**
     * The token that starts at {@code pos} (which {@link #skipSpace} returned). {@code standardStrings} is the
     * session's standard_conforming_strings: when off, a backslash escapes the next character in {@code '...'} too.
     */
    static long token(CharSequence s, int pos, int len, boolean standardStrings) {
        char c = s.charAt(pos);
        char next = pos + 1 < len ? s.charAt(pos + 1) : 0;
        if (c == '\'') {
            return token(STRING, string(s, pos + 1, len, standardStrings ? PLAIN : ESCAPES));
        }
        if (c == '"') {
            return token(QUOTED, quoted(s, pos + 1, len));
        }
        if (c == '$') {
            return dollar(s, pos, len);
        }
        if (isIdentStart(c)) {
            // E'', B'', X'' and U&'' are prefixes only at a token's start: in "xe'a'" the word is "xe".
            switch (c | 0x20) {
                case 'e' -> {
                    if (next == '\'') {
                        return token(STRING, string(s, pos + 2, len, ESCAPES));
                    }
                }
                case 'b', 'x' -> {
                    if (next == '\'') {
                        return token(STRING, string(s, pos + 2, len, BITS));
                    }
                }
                case 'u' -> {
                    char quote = pos + 2 < len ? s.charAt(pos + 2) : 0;
                    if (next == '&' && quote == '\'') {
                        return token(STRING, string(s, pos + 3, len, PLAIN)); // never backslash-escaped
                    }
                    if (next == '&' && quote == '"') {
                        return token(QUOTED, quoted(s, pos + 3, len));
                    }
                }
                default -> {
                }
            }
            // N'' needs nothing: the word "n" ends at the quote and the string follows, as in scan.l.
            int i = pos + 1;
            while (i < len && isIdentCont(s.charAt(i))) {
                i++;
            }
            return token(WORD, i);
        }
        if (isDigit(c) || c == '.' && isDigit(next)) {
            // Digits, '.', exponents, 0x.., 1_000 and trailing junk (an error): never a quote, '$' or comment start.
            int i = pos + 1;
            while (i < len && (isDigit(s.charAt(i)) || isLetter(s.charAt(i)) || s.charAt(i) == '_' || s.charAt(i) == '.')) {
                i++;
            }
            return token(NUMBER, i);
        }
        return token(CHAR, pos + 1);
    }

    /** {@code $1}, {@code $tag$...$tag$}, or a lone {@code $} (scan.l's dolqfailed gives back all but the '$'). */
    private static long dollar(CharSequence s, int pos, int len) {
        int i = pos + 1;
        if (i < len && isDigit(s.charAt(i))) {
            while (i < len && isDigit(s.charAt(i))) {
                i++;
            }
            return token(PARAM, i);
        }
        while (i < len && isTagChar(s.charAt(i))) {
            i++;
        }
        if (i >= len || s.charAt(i) != '$') {
            return token(CHAR, pos + 1);
        }
        int tag = pos + 1;
        int tagLength = i - tag;
        // Every '$' inside may start the closing delimiter: the tag holds no '$', so each try stops at the next one.
        for (int j = i + 1; j < len; j++) {
            if (s.charAt(j) == '$' && j + tagLength + 1 < len && s.charAt(j + tagLength + 1) == '$'
                    && sameChars(s, j + 1, tag, tagLength)) {
                return token(STRING, j + tagLength + 2);
            }
        }
        return token(STRING, len);
    }

    private static boolean sameChars(CharSequence s, int a, int b, int n) {
        for (int k = 0; k < n; k++) {
            if (s.charAt(a + k) != s.charAt(b + k)) {
                return false;
            }
        }
        return true;
    }

    /**
     * The end of a string constant whose body starts at {@code i}. A closing quote followed by whitespace holding a
     * newline and another quote continues the same constant, in the same mode (scan.l's xqs state): so
     * {@code E'a'<newline>'\''} is one constant whose second part is backslash-escaped too.
     */
    private static int string(CharSequence s, int i, int len, int mode) {
        while (i < len) {
            char c = s.charAt(i++);
            if (c == '\\' && mode == ESCAPES) {
                i++;
            } else if (c == '\'') {
                if (mode != BITS && i < len && s.charAt(i) == '\'') {
                    i++;
                    continue;
                }
                int more = continuation(s, i, len);
                if (more < 0) {
                    return i;
                }
                i = more + 1;
            }
        }
        return len;
    }

    /** The position of the quote that continues a string after {@code i}, or -1. */
    private static int continuation(CharSequence s, int i, int len) {
        boolean newline = false;
        while (i < len) {
            char c = s.charAt(i);
            if (c == '\n' || c == '\r') {
                newline = true;
                i++;
            } else if (isSpace(c)) {
                i++;
            } else if (c == '-' && i + 1 < len && s.charAt(i + 1) == '-') {
                i = lineEnd(s, i + 2, len);
            } else {
                break;
            }
        }
        return newline && i < len && s.charAt(i) == '\'' ? i : -1;
    }

    private static int quoted(CharSequence s, int i, int len) {
        while (i < len) {
            if (s.charAt(i++) == '"') {
                if (i < len && s.charAt(i) == '"') {
                    i++;
                } else {
                    return i;
                }
            }
        }
        return len;
    }

    private static int lineEnd(CharSequence s, int i, int len) {
        while (i < len && s.charAt(i) != '\n' && s.charAt(i) != '\r') {
            i++;
        }
        return i;
    }

    /** The end of a block comment whose body starts at {@code i}: comments nest, as in PostgreSQL (not in the standard). */
    private static int commentEnd(CharSequence s, int i, int len) {
        int depth = 1;
        while (i + 1 < len) {
            char c = s.charAt(i);
            if (c == '/' && s.charAt(i + 1) == '*') {
                depth++;
                i += 2;
            } else if (c == '*' && s.charAt(i + 1) == '/') {
                if (--depth == 0) {
                    return i + 2;
                }
                i += 2;
            } else {
                i++;
            }
        }
        return len;
    }

    /** PostgreSQL 16's whitespace: space, tab, newline, carriage return, form feed, vertical tab. */
    private static boolean isSpace(char c) {
        return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\u000B';
    }

    private static boolean isLetter(char c) {
        return (c | 0x20) >= 'a' && (c | 0x20) <= 'z';
    }

    private static boolean isDigit(char c) {
        return c >= '0' && c <= '9';
    }

    private static boolean isIdentStart(char c) {
        return isLetter(c) || c == '_' || c >= 0x80;
    }

    private static boolean isIdentCont(char c) {
        return isIdentStart(c) || isDigit(c) || c == '$';
    }

    private static boolean isTagChar(char c) {
        return isIdentStart(c) || isDigit(c);
    }

    /**
     * The words the scanners look for. Keywords match unquoted words only, whatever their case; names (functions,
     * the pg_temp schema) match quoted identifiers too, exactly, as PostgreSQL folds only unquoted
     * words to lower case.
     */
    enum Word {
        NONE, ALL, ANALYSE, ANALYZE, CONSTRAINTS, CREATE, DEALLOCATE, DECLARE, DISCARD, EXPLAIN, FOR, GLOBAL, HOLD,
        INSERT, INTO, LISTEN, LOAD, LOCAL, MERGE, OR, PLANS, PREPARE, REPLACE, SET, TABLE, TEMP, TEMPORARY, TO,
        TRANSACTION, TRUE, VERBOSE, WITH,
        SET_CONFIG(true), PG_TEMP(true), PG_ADVISORY_LOCK(true), PG_ADVISORY_LOCK_SHARED(true),
        PG_TRY_ADVISORY_LOCK(true), PG_TRY_ADVISORY_LOCK_SHARED(true);

        private static final Word[][] BY_LENGTH = byLength();
        private static final String TEMP_SCHEMA = "pg_temp_";

        final String text = name().toLowerCase(Locale.ROOT);
        final boolean name;

        Word() {
            this(false);
        }

        Word(boolean name) {
            this.name = name;
        }

        boolean advisoryLock() {
            return this == PG_ADVISORY_LOCK || this == PG_ADVISORY_LOCK_SHARED || this == PG_TRY_ADVISORY_LOCK
                    || this == PG_TRY_ADVISORY_LOCK_SHARED;
        }

        private static Word[][] byLength() {
            List<List<Word>> lists = new ArrayList<>();
            for (Word w : values()) {
                while (lists.size() <= w.text.length()) {
                    lists.add(new ArrayList<>());
                }
                if (w != NONE) {
                    lists.get(w.text.length()).add(w);
                }
            }
            return lists.stream().map(l -> l.toArray(Word[]::new)).toArray(Word[][]::new);
        }

        /** The word of a {@link #WORD} or {@link #QUOTED} token, or NONE. */
        static Word of(CharSequence s, int start, int end, int type) {
            if (type == WORD) {
                return find(s, start, end, true);
            }
            if (type != QUOTED) {
                return NONE;
            }
            int from = s.charAt(start) == '"' ? start + 1 : start + 3; // "..." or U&"..." (escapes not decoded)
            return end - 1 > from && s.charAt(end - 1) == '"' ? find(s, from, end - 1, false) : NONE;
        }

        private static Word find(CharSequence s, int from, int to, boolean unquoted) {
            int n = to - from;
            if (n < BY_LENGTH.length) {
                for (Word w : BY_LENGTH[n]) {
                    if ((unquoted || w.name) && matches(s, from, w.text, unquoted)) {
                        return w;
                    }
                }
            }
            // pg_temp_3 and the like: the temporary schema of one backend, by its real name.
            if (n > TEMP_SCHEMA.length() && matches(s, from, TEMP_SCHEMA, unquoted)) {
                for (int i = from + TEMP_SCHEMA.length(); i < to; i++) {
                    if (!isDigit(s.charAt(i))) {
                        return NONE;
                    }
                }
                return PG_TEMP;
            }
            return NONE;
        }
    }

    /** Whether {@code lower} (lower case ASCII) is at {@code from}; case-insensitively (ASCII only) if asked. */
    static boolean matches(CharSequence s, int from, String lower, boolean ignoreCase) {
        if (from + lower.length() > s.length()) {
            return false;
        }
        for (int k = 0; k < lower.length(); k++) {
            char c = s.charAt(from + k);
            char t = lower.charAt(k);
            if (c != t && !(ignoreCase && t >= 'a' && t <= 'z' && (c | 0x20) == t)) {
                return false;
            }
        }
        return true;
    }
}
