package dev.pgmux.pool;

import static org.assertj.core.api.Assertions.assertThat;

import dev.pgmux.pool.SessionStateScan.Cause;
import dev.pgmux.pool.SessionStateScan.Finding;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Assume;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.constraints.StringLength;

/**
 * The scanner reads text a client chose, on the event loop: whatever the text, it returns; a statement that leaves
 * session state is found wherever a statement can stand and never inside a comment, a string constant, a quoted
 * identifier or a dollar quote; and the case of keywords does not matter.
 */
class SessionStateScanProperties {
    private static final int TRIES = 2000;

    /** A statement as tokens, and what the scanner must find in it (null: nothing). */
    record Statement(List<String> tokens, Cause cause) {
        static Statement of(Cause cause, String... tokens) {
            return new Statement(List.of(tokens), cause);
        }
    }

    private static final List<Statement> CAUSES = List.of(
            Statement.of(Cause.SET, "SET", "search_path", "TO", "app", ",", "public"),
            Statement.of(Cause.SET, "SET", "SESSION", "statement_timeout", "=", "'5s'"),
            Statement.of(Cause.SET, "SET", "ROLE", "reporting"),
            Statement.of(Cause.SET, "SET", "SESSION", "AUTHORIZATION", "alice"),
            Statement.of(Cause.SET, "SET", "TIME", "ZONE", "'UTC'"),
            Statement.of(Cause.SET, "SET", "local.tenant", "=", "'a'"),
            Statement.of(Cause.SET_CONFIG, "SELECT", "set_config", "(", "'a.b'", ",", "'c'", ",", "false", ")"),
            Statement.of(Cause.SET_CONFIG, "SELECT", "pg_catalog.set_config", "(", "'a.b'", ",", "$1", ",", "$2", ")"),
            Statement.of(Cause.SET_CONFIG, "SELECT", "\"set_config\"", "(", "'a.b'", ",", "'c'", ",", "1", "=", "1",
                    ")"),
            Statement.of(Cause.LISTEN, "LISTEN", "jobs"),
            Statement.of(Cause.ADVISORY_LOCK, "SELECT", "pg_advisory_lock", "(", "1", ")"),
            Statement.of(Cause.ADVISORY_LOCK, "SELECT", "(", "pg_advisory_lock_shared", "(", "1", ",", "2", ")", ")"),
            Statement.of(Cause.ADVISORY_LOCK, "SELECT", "pg_try_advisory_lock", "(", "hashtext", "(", "'job'", ")", ")"),
            Statement.of(Cause.ADVISORY_LOCK, "EXPLAIN", "ANALYZE", "SELECT", "pg_try_advisory_lock_shared", "(", "7",
                    ")"),
            Statement.of(Cause.TEMPORARY_OBJECT, "CREATE", "TEMP", "TABLE", "t", "(", "a", "int", ")"),
            Statement.of(Cause.TEMPORARY_OBJECT, "CREATE", "GLOBAL", "TEMPORARY", "VIEW", "v", "AS", "SELECT", "1"),
            Statement.of(Cause.TEMPORARY_OBJECT, "CREATE", "TABLE", "\"pg_temp\"", ".", "t", "(", "a", "int", ")"),
            // no '*' token: next to a "/**/" between tokens it would make "*/" and end a comment that wraps it
            Statement.of(Cause.TEMPORARY_OBJECT, "SELECT", "a", "INTO", "TEMP", "t", "FROM", "s"),
            Statement.of(Cause.WITH_HOLD_CURSOR, "DECLARE", "c", "CURSOR", "WITH", "HOLD", "FOR", "SELECT", "1"),
            Statement.of(Cause.PREPARE, "PREPARE", "q", "(", "int", ")", "AS", "SELECT", "$1"),
            Statement.of(Cause.LOAD, "LOAD", "'auto_explain'"));

    private static final List<Statement> HARMLESS = List.of(
            Statement.of(null, "SELECT", "1"),
            Statement.of(null, "SET", "LOCAL", "search_path", "TO", "app"),
            Statement.of(null, "SET", "TRANSACTION", "ISOLATION", "LEVEL", "SERIALIZABLE"),
            Statement.of(null, "SET", "CONSTRAINTS", "ALL", "DEFERRED"),
            Statement.of(null, "UPDATE", "t", "SET", "a", "=", "1"),
            Statement.of(null, "ALTER", "ROLE", "r", "SET", "search_path", "=", "x"),
            Statement.of(null, "RESET", "ALL"),
            Statement.of(null, "DISCARD", "ALL"),
            Statement.of(null, "SELECT", "set_config", "(", "'a.b'", ",", "'c'", ",", "true", ")"),
            Statement.of(null, "SELECT", "pg_advisory_xact_lock", "(", "1", ")"),
            Statement.of(null, "SELECT", "pg_advisory_unlock", "(", "1", ")"),
            Statement.of(null, "CREATE", "UNLOGGED", "TABLE", "t", "(", "a", "int", ")"),
            Statement.of(null, "INSERT", "INTO", "temp", "VALUES", "(", "1", ")"),
            Statement.of(null, "DECLARE", "c", "CURSOR", "WITHOUT", "HOLD", "FOR", "SELECT", "1"),
            Statement.of(null, "PREPARE", "TRANSACTION", "'tx'"),
            Statement.of(null, "UNLISTEN", "jobs"),
            Statement.of(null, "SELECT", "'SET x = 1; LISTEN y'"),
            Statement.of(null, "SELECT", "$f$ SET x = 1; LISTEN y $f$"),
            Statement.of(null, "SELECT", "\"set\"", "FROM", "t"));

    private static final String[] SEPARATORS = {" ", "  ", "\t", "\n", "\r\n", " /* c */ ", "/**/", "-- c\n", "\f"};
    private static final String[] ONE_LINE_SEPARATORS = {" ", "  ", "\t", " /* c */ ", "/* a /* b */ */"};

    enum Wrapper { LINE_COMMENT, BLOCK_COMMENT, STRING, ESCAPE_STRING, UNICODE_STRING, QUOTED_IDENTIFIER, DOLLAR_QUOTE }

    private static Arbitrary<String> rendered(Statement statement, String[] separators) {
        return Arbitraries.of(separators).list().ofSize(statement.tokens().size() - 1).map(seps -> {
            StringBuilder b = new StringBuilder(statement.tokens().getFirst());
            for (int i = 1; i < statement.tokens().size(); i++) {
                b.append(seps.get(i - 1)).append(statement.tokens().get(i));
            }
            return b.toString();
        });
    }

    /** A statement of the list with random whitespace and comments between its tokens. */
    private static Arbitrary<Statement> written(List<Statement> statements, String[] separators) {
        return Arbitraries.of(statements)
                .flatMap(s -> rendered(s, separators).map(text -> new Statement(List.of(text), s.cause())));
    }

    @Provide
    Arbitrary<Statement> causes() {
        return written(CAUSES, SEPARATORS);
    }

    @Provide
    Arbitrary<Statement> scripts() {
        Arbitrary<Statement> wrapped = Combinators.combine(oneLineCauses(), Arbitraries.of(Wrapper.class), tags())
                .as((s, w, tag) -> wrap(s.tokens().getFirst(), w, tag))
                .filter(text -> text != null)
                .map(text -> new Statement(List.of(text), null));
        Arbitrary<Statement> one = Arbitraries.oneOf(causes(), written(HARMLESS, SEPARATORS), wrapped);
        return Combinators.combine(one.list().ofMinSize(1).ofMaxSize(5), Arbitraries.of(SEPARATORS)).as((list, sep) -> {
            List<String> texts = new ArrayList<>();
            Cause first = null;
            for (Statement s : list) {
                texts.add(s.tokens().getFirst());
                first = first != null ? first : s.cause();
            }
            return new Statement(List.of(String.join(sep + ";" + sep, texts)), first);
        });
    }

    @Provide
    Arbitrary<String> tags() {
        return Arbitraries.strings().withCharRange('a', 'z').withChars('_', 'Q', '9').ofMaxLength(4)
                .filter(t -> t.isEmpty() || !Character.isDigit(t.charAt(0)));
    }

    /** {@code statement} inside a comment, a literal or a quoted identifier; null if the tag cannot quote it. */
    static String wrap(String statement, Wrapper wrapper, String tag) {
        return switch (wrapper) {
            case LINE_COMMENT -> "SELECT 1 -- " + statement + "\n";
            case BLOCK_COMMENT -> "SELECT 1 /* " + statement + " */";
            case STRING -> "SELECT '" + statement.replace("'", "''") + "'";
            case ESCAPE_STRING -> "SELECT E'" + statement.replace("\\", "\\\\").replace("'", "\\'") + "'";
            case UNICODE_STRING -> "SELECT U&'" + statement.replace("'", "''") + "'";
            case QUOTED_IDENTIFIER -> "SELECT 1 AS \"" + statement.replace("\"", "\"\"") + "\"";
            case DOLLAR_QUOTE -> (statement + "$").contains("$" + tag + "$") ? null
                    : "SELECT $" + tag + "$" + statement + "$" + tag + "$";
        };
    }

    /**
     * Changes the case of ASCII letters at random, except where case is part of the meaning: quoted identifiers and
     * words that hold a '$' (dollar-quote tags).
     */
    static String changeCase(String text, long seed) {
        Random random = new Random(seed);
        StringBuilder b = new StringBuilder(text.length());
        boolean quoted = false;
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            quoted ^= c == '"';
            if (!quoted && c != '"' && Character.isLetter(c) && c < 0x80 && !inDollarWord(text, i)) {
                c = random.nextBoolean() ? Character.toUpperCase(c) : Character.toLowerCase(c);
            }
            b.append(c);
        }
        return b.toString();
    }

    private static boolean inDollarWord(String text, int i) {
        int from = i;
        int to = i;
        while (from > 0 && isWordChar(text.charAt(from - 1))) {
            from--;
        }
        while (to < text.length() && isWordChar(text.charAt(to))) {
            to++;
        }
        return text.substring(from, to).indexOf('$') >= 0;
    }

    private static boolean isWordChar(char c) {
        return c == '$' || c == '_' || Character.isLetterOrDigit(c);
    }

    private static Cause causeOf(String sql, boolean standard) {
        Finding f = SessionStateScan.scan(sql, standard);
        return f == null ? null : f.cause();
    }

    private static void scanAnything(String sql) {
        for (boolean standard : new boolean[] {true, false}) {
            Finding f = SessionStateScan.scan(sql, standard);
            assertThat(SessionStateScan.scan(sql, standard, false)).as("the prefilter hides nothing").isEqualTo(f);
            if (f != null) {
                assertThat(f.statement()).isNotNull().hasSizeLessThanOrEqualTo(Finding.MAX_EXCERPT);
            }
            SessionStateScan.dropsPreparedStatements(sql, standard);
        }
    }

    @Property(tries = TRIES)
    void anyTextIsScanned(@ForAll @StringLength(max = 300) String sql) {
        scanAnything(sql);
    }

    @Property(tries = TRIES)
    void anyMixOfLexicalPiecesIsScanned(@ForAll("lexicalPieces") String sql) {
        scanAnything(sql);
    }

    @Provide
    Arbitrary<String> lexicalPieces() {
        return Arbitraries.of("SET", "set", "LOCAL", "TRANSACTION", "SESSION", "x", ".", "=", "TO", "set_config",
                        "pg_catalog", "pg_advisory_lock", "pg_try_advisory_lock_shared", "(", ")", ",", "true", "false",
                        "::", "LISTEN", "LOAD", "PREPARE", "DECLARE", "WITH", "HOLD", "FOR", "CREATE",
                        "TEMP", "INTO", "INSERT", "TABLE", "pg_temp", "pg_temp_12", "EXPLAIN", "ANALYZE", "DEALLOCATE",
                        "DISCARD", "ALL", "PLANS", "'", "''", "E'", "e'", "U&'", "u&\"", "B'", "X'", "N'", "\"", "\"\"",
                        "$", "$$", "$a$", "$1", "$_$", "--", "/*", "*/", "\\", "\\'", ";", " ", "\n", "\t", "\r", "é",
                        "\u0000", "\uD83D\uDE00", "\uD83D", "1", "1e", ".5", "*")
                .list().ofMaxSize(60).map(pieces -> String.join("", pieces));
    }

    @Property(tries = TRIES)
    void aCauseIsFoundAloneAndAfterAnotherStatement(@ForAll("causes") Statement s, @ForAll boolean standard) {
        String sql = s.tokens().getFirst();

        assertThat(causeOf(sql, standard)).isEqualTo(s.cause());
        assertThat(causeOf("SELECT 1; " + sql, standard)).isEqualTo(s.cause());
        assertThat(causeOf("SELECT 1;" + sql + ";", standard)).isEqualTo(s.cause());
    }

    @Property(tries = TRIES)
    void aCauseInACommentALiteralOrAQuotedIdentifierIsNeverFound(@ForAll("oneLineHarmless") Statement before,
                                                                   @ForAll("oneLineCauses") Statement s,
                                                                   @ForAll Wrapper wrapper, @ForAll("tags") String tag,
                                                                   @ForAll boolean standard) {
        // after a harmless statement, whose literals and comments must not end the wrapper early
        String sql = wrap(before.tokens().getFirst() + "; " + s.tokens().getFirst(), wrapper, tag);
        Assume.that(sql != null);

        assertThat(SessionStateScan.scan(sql, standard)).isNull();
        assertThat(SessionStateScan.scan(sql + "; SELECT 2", standard)).isNull();
    }

    @Provide
    Arbitrary<Statement> oneLineHarmless() {
        return written(HARMLESS, ONE_LINE_SEPARATORS);
    }

    @Provide
    Arbitrary<Statement> oneLineCauses() {
        return written(CAUSES, ONE_LINE_SEPARATORS);
    }

    @Property(tries = TRIES)
    void theFirstCauseOfAScriptIsFoundInAnyCase(@ForAll("scripts") Statement script, @ForAll long seed,
                                                @ForAll boolean standard) {
        String sql = script.tokens().getFirst();

        assertThat(causeOf(sql, standard)).isEqualTo(script.cause());
        assertThat(causeOf(changeCase(sql, seed), standard)).isEqualTo(script.cause());
    }
}
