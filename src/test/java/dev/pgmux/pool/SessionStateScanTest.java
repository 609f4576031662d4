package dev.pgmux.pool;

import static dev.pgmux.pool.SessionStateScan.Cause.ADVISORY_LOCK;
import static dev.pgmux.pool.SessionStateScan.Cause.LISTEN;
import static dev.pgmux.pool.SessionStateScan.Cause.LOAD;
import static dev.pgmux.pool.SessionStateScan.Cause.PREPARE;
import static dev.pgmux.pool.SessionStateScan.Cause.SET;
import static dev.pgmux.pool.SessionStateScan.Cause.SET_CONFIG;
import static dev.pgmux.pool.SessionStateScan.Cause.TEMPORARY_OBJECT;
import static dev.pgmux.pool.SessionStateScan.Cause.WITH_HOLD_CURSOR;
import static org.assertj.core.api.Assertions.assertThat;

import dev.pgmux.pool.SessionStateScan.Cause;
import dev.pgmux.pool.SessionStateScan.Finding;
import java.lang.management.ManagementFactory;
import java.nio.CharBuffer;
import java.util.stream.Stream;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

class SessionStateScanTest {

    private static Cause cause(String sql) {
        Finding f = SessionStateScan.scan(sql);
        Finding unfiltered = SessionStateScan.scan(sql, true, false);
        assertThat(unfiltered).as("the prefilter changes nothing").isEqualTo(f);
        return f == null ? null : f.cause();
    }

    static Stream<Arguments> sessionState() {
        return Stream.of(
                // SET at session level, in all its forms
                Arguments.of("SET search_path TO app, public", SET),
                Arguments.of("SET search_path = app", SET),
                Arguments.of("SET SESSION statement_timeout = '5s'", SET),
                Arguments.of("SET ROLE reporting", SET),
                Arguments.of("SET SESSION AUTHORIZATION alice", SET),
                Arguments.of("SET SESSION CHARACTERISTICS AS TRANSACTION ISOLATION LEVEL SERIALIZABLE", SET),
                Arguments.of("SET TIME ZONE 'UTC'", SET),
                Arguments.of("SET NAMES 'UTF8'", SET),
                Arguments.of("SET SCHEMA 'app'", SET),
                Arguments.of("set\tsearch_path\nto\r\napp", SET),
                Arguments.of("sEt SeArCh_PaTh = app", SET),
                Arguments.of("SET local.tenant = 'a'", SET),
                Arguments.of("SET myapp.user_id = 42", SET),
                Arguments.of("/* a comment */ SET x.y = 1", SET),
                Arguments.of("-- a comment\nSET x.y = 1", SET),
                // set_config
                Arguments.of("SELECT set_config('app.user', 'a', false)", SET_CONFIG),
                Arguments.of("SELECT set_config('app.user', $1, $2)", SET_CONFIG),
                Arguments.of("SELECT set_config('app.user', 'a', 1 = 1)", SET_CONFIG),
                Arguments.of("SELECT set_config('app.user', 'a', (true))", SET_CONFIG),
                Arguments.of("SELECT set_config('app.user', 'a', \"true\")", SET_CONFIG),
                Arguments.of("SELECT set_config('app.user', 'a', true::boolean)", SET_CONFIG),
                Arguments.of("SELECT set_config('app.user', 'a', 'true')", SET_CONFIG),
                Arguments.of("SELECT set_config('app.user', 'a', true, 'more')", SET_CONFIG), // an error anyway
                Arguments.of("SELECT pg_catalog.set_config('search_path', '', false)", SET_CONFIG),
                Arguments.of("SELECT \"pg_catalog\".\"set_config\"('a.b', 'c', false)", SET_CONFIG),
                Arguments.of("SELECT PG_CATALOG . SET_CONFIG /* */ ('a.b', 'c', FALSE)", SET_CONFIG),
                Arguments.of("SELECT set_config('a.b', 'c', true), set_config('a.c', 'd', false)", SET_CONFIG),
                Arguments.of("SELECT set_config('a.b', set_config('a.c', 'd', false), true)", SET_CONFIG),
                Arguments.of("SELECT set_config('a.b', 'c'", SET_CONFIG),
                // LISTEN
                Arguments.of("LISTEN jobs", LISTEN),
                Arguments.of("listen \"Jobs\"", LISTEN),
                // advisory locks held by the session
                Arguments.of("SELECT pg_advisory_lock(1)", ADVISORY_LOCK),
                Arguments.of("SELECT pg_advisory_lock_shared(1, 2)", ADVISORY_LOCK),
                Arguments.of("SELECT pg_try_advisory_lock(42)", ADVISORY_LOCK),
                Arguments.of("SELECT pg_try_advisory_lock_shared(42)", ADVISORY_LOCK),
                Arguments.of("SELECT (pg_advisory_lock(1))", ADVISORY_LOCK),
                Arguments.of("SELECT PG_ADVISORY_LOCK (1)", ADVISORY_LOCK),
                Arguments.of("SELECT pg_catalog.pg_try_advisory_lock(hashtext('job'))", ADVISORY_LOCK),
                Arguments.of("SELECT \"pg_advisory_lock\"(1)", ADVISORY_LOCK),
                Arguments.of("EXPLAIN ANALYZE SELECT pg_advisory_lock(1)", ADVISORY_LOCK),
                Arguments.of("WITH l AS (SELECT pg_advisory_lock(id) FROM jobs) SELECT 1", ADVISORY_LOCK),
                Arguments.of("SELECT x FROM t WHERE pg_try_advisory_lock(t.id) LIMIT 1", ADVISORY_LOCK),
                // temporary objects
                Arguments.of("CREATE TEMP TABLE t (a int)", TEMPORARY_OBJECT),
                Arguments.of("CREATE TEMPORARY TABLE t AS SELECT 1", TEMPORARY_OBJECT),
                Arguments.of("create temporary view v as select 1", TEMPORARY_OBJECT),
                Arguments.of("CREATE TEMP SEQUENCE s", TEMPORARY_OBJECT),
                Arguments.of("CREATE GLOBAL TEMPORARY TABLE t (a int)", TEMPORARY_OBJECT),
                Arguments.of("CREATE LOCAL TEMP TABLE t (a int)", TEMPORARY_OBJECT),
                Arguments.of("CREATE OR REPLACE TEMP VIEW v AS SELECT 1", TEMPORARY_OBJECT),
                Arguments.of("CREATE TABLE pg_temp.t (a int)", TEMPORARY_OBJECT),
                Arguments.of("CREATE TABLE IF NOT EXISTS \"pg_temp\".t (a int)", TEMPORARY_OBJECT),
                Arguments.of("CREATE FUNCTION pg_temp.f() RETURNS int LANGUAGE sql AS 'SELECT 1'", TEMPORARY_OBJECT),
                Arguments.of("CREATE VIEW pg_temp_3.v AS SELECT 1", TEMPORARY_OBJECT),
                Arguments.of("SELECT * INTO TEMP t FROM src", TEMPORARY_OBJECT),
                Arguments.of("SELECT * INTO TEMPORARY TABLE t FROM src", TEMPORARY_OBJECT),
                Arguments.of("SELECT a, b INTO LOCAL TEMP t FROM src", TEMPORARY_OBJECT),
                Arguments.of("SELECT 1 AS a INTO TABLE pg_temp.t", TEMPORARY_OBJECT),
                Arguments.of("WITH s AS (SELECT 1) SELECT * INTO TEMP t FROM s", TEMPORARY_OBJECT),
                Arguments.of("EXPLAIN ANALYZE CREATE TEMP TABLE t AS SELECT 1", TEMPORARY_OBJECT),
                Arguments.of("EXPLAIN (ANALYZE, FORMAT JSON) CREATE TEMP TABLE t AS SELECT 1", TEMPORARY_OBJECT),
                // WITH HOLD cursors
                Arguments.of("DECLARE c CURSOR WITH HOLD FOR SELECT 1", WITH_HOLD_CURSOR),
                Arguments.of("DECLARE c BINARY NO SCROLL CURSOR WITH /* x */ HOLD FOR SELECT 1", WITH_HOLD_CURSOR),
                // SQL PREPARE
                Arguments.of("PREPARE q (int) AS SELECT $1", PREPARE),
                Arguments.of("PREPARE q AS SELECT 1", PREPARE),
                Arguments.of("PREPARE transaction AS SELECT 1", PREPARE),
                // LOAD
                Arguments.of("LOAD 'auto_explain'", LOAD),
                Arguments.of("load '$libdir/plugins/x'", LOAD),
                // several statements: each is read, the first finding wins
                Arguments.of("SELECT 1; SET x.y = 1", SET),
                Arguments.of("BEGIN; SET search_path = app; COMMIT", SET),
                Arguments.of("SELECT ';'; LISTEN a; SET b.c = 1", LISTEN),
                Arguments.of("SELECT 'SET a.b = 1'; SELECT pg_advisory_lock(1); LISTEN x", ADVISORY_LOCK),
                Arguments.of(";;SET x.y = 1", SET),
                Arguments.of("SELECT 1;SET x.y = 1", SET),
                // strings that end where PostgreSQL ends them
                Arguments.of("SELECT 'it''s'; SET x.y = 1", SET),
                Arguments.of("SELECT E'\\\\'; SET x.y = 1", SET),
                Arguments.of("SELECT '\\'; SET x.y = 1", SET), // standard strings: the backslash is a character
                Arguments.of("SELECT B'01''0'; SET x.y = 1", SET),
                Arguments.of("SELECT U&'\\'; SET x.y = 1", SET),
                Arguments.of("SELECT \"a\"\"b\"; SET x.y = 1", SET),
                Arguments.of("SELECT $1; SET x.y = 1", SET),
                Arguments.of("SELECT $1$$ x $$; SET x.y = 1", SET), // $1, then a dollar quote
                Arguments.of("SELECT a$$b; SET x.y = 1", SET), // '$' continues a word
                Arguments.of("SELECT $a$ $b$ $a$; SET x.y = 1", SET),
                Arguments.of("SELECT 1 /* a /* nested */ comment */; SET x.y = 1", SET),
                Arguments.of("SELECT 2*/*a comment*/3; SET x.y = 1", SET),
                Arguments.of("SELECT 1 --- comment\n; SET x.y = 1", SET),
                Arguments.of("SELECT 'a'\n'b'; SET x.y = 1", SET));
    }

    @ParameterizedTest
    @MethodSource
    void sessionState(String sql, Cause expected) {
        assertThat(cause(sql)).isEqualTo(expected);
    }

    @ParameterizedTest
    @ValueSource(strings = {
            "",
            "   ",
            "SELECT 1",
            "SELECT offset, reset FROM settings OFFSET 3",
            // transaction-local SET and other SETs that are not statements of their own
            "SET LOCAL search_path = app",
            "set local statement_timeout = '1s'",
            "SET TRANSACTION ISOLATION LEVEL SERIALIZABLE",
            "SET TRANSACTION SNAPSHOT '00000003-0000001B-1'",
            "SET CONSTRAINTS ALL DEFERRED",
            "BEGIN; SET LOCAL x.y = 1; COMMIT",
            "UPDATE t SET a = 1",
            "UPDATE t SET (a, b) = (1, 2) WHERE id = 3",
            "INSERT INTO t VALUES (1) ON CONFLICT (id) DO UPDATE SET a = 1",
            "ALTER TABLE t ALTER COLUMN a SET DEFAULT 1",
            "ALTER ROLE alice SET search_path = app",
            "ALTER DATABASE d SET work_mem = '64MB'",
            "CREATE FUNCTION f() RETURNS int LANGUAGE sql SET search_path = app AS 'SELECT 1'",
            "MERGE INTO t USING s ON t.id = s.id WHEN MATCHED THEN UPDATE SET a = s.a",
            // going back to the session's start is not new state
            "RESET search_path",
            "RESET ALL",
            "RESET ROLE",
            "RESET SESSION AUTHORIZATION",
            "DISCARD ALL",
            "DISCARD TEMP",
            "DEALLOCATE ALL",
            "BEGIN",
            "COMMIT",
            "UNLISTEN *",
            "UNLISTEN jobs",
            "NOTIFY jobs, 'x'",
            "SELECT pg_notify('jobs', 'x')",
            // set_config local to the transaction
            "SELECT set_config('app.user', 'a', true)",
            "SELECT set_config('app.user', $1, TRUE)",
            "SELECT set_config('app.user', (SELECT name FROM u WHERE id = $1), true)",
            "SELECT pg_catalog.set_config('app.user', 'a', true)",
            "SELECT set_config('app.user', 'a' || (SELECT f(1, 2)), true)",
            "SELECT set_config('app.user', 'a', /* local */ true) -- , false)",
            "SELECT set_config",
            "SELECT t.set_config FROM t",
            // advisory locks local to the transaction, and unlocks
            "SELECT pg_advisory_xact_lock(1)",
            "SELECT pg_advisory_xact_lock_shared(1)",
            "SELECT pg_try_advisory_xact_lock(1)",
            "SELECT pg_try_advisory_xact_lock_shared(1)",
            "SELECT pg_advisory_unlock(1)",
            "SELECT pg_advisory_unlock_all()",
            "SELECT pg_advisory_lock FROM t",
            "SELECT \"PG_ADVISORY_LOCK\"(1)",
            // tables that are not temporary
            "CREATE TABLE t (a int)",
            "CREATE UNLOGGED TABLE t (a int)",
            "CREATE TABLE temp (a int)",
            "INSERT INTO temp VALUES (1)",
            "INSERT INTO temporary SELECT 1",
            "MERGE INTO temp USING s ON true WHEN MATCHED THEN DELETE",
            "SELECT * INTO UNLOGGED t FROM src",
            "SELECT * INTO new_table FROM src",
            "SELECT * FROM pg_temp.t",
            "EXPLAIN CREATE TABLE t AS SELECT 1",
            // cursors without hold, and a CTE named hold
            "DECLARE c CURSOR FOR SELECT 1",
            "DECLARE c CURSOR WITHOUT HOLD FOR SELECT 1",
            "DECLARE c CURSOR FOR WITH hold AS (SELECT 1) SELECT * FROM hold",
            // two-phase commit is not a session's
            "PREPARE TRANSACTION 'tx-1'",
            "prepare transaction $$tx-1$$",
            "COMMIT PREPARED 'tx-1'",
            "EXECUTE q(1)",
            // what strings, quoted identifiers and comments hold
            "SELECT 'SET x = 1'",
            "SELECT 'it''s; SET x = 1'",
            "SELECT E'\\'; SET x = 1'",
            "SELECT e'\\\\\\'; SET x = 1'",
            "SELECT E'a''\\'; SET x = 1'", // '' is a quote in E'' too, and the backslash then escapes the next
            "SELECT U&'d\\0061t\\+000061; SET x = 1'",
            "SELECT N'; SET x = 1'",
            "SELECT X'; SET x = 1'",
            "SELECT '\\''; SET x = 1; --'", // standard strings: one constant up to the last quote
            "SELECT E'a'\n'\\'; SET x = 1'", // continued E'' string: still backslash-escaped
            "SELECT E'a' -- comment\n  '\\'; SET x = 1'",
            "SELECT \"set\" FROM t",
            "SELECT \"a\"\"; SET x = 1\" FROM t",
            "SELECT U&\"; SET x = 1\" FROM t",
            "SELECT 1 -- ; SET x = 1",
            "SELECT 1 /* ; SET x = 1 */",
            "SELECT 1 /* /* ; SET x = 1 */ ; SET x = 1 */",
            "SELECT 1 /* unterminated ; SET x = 1",
            "SELECT $$; SET x = 1$$",
            "SELECT $fn$; SET x = 1 $$ SELECT pg_advisory_lock(1) $$ $fn$",
            "SELECT $_a1$; SET x = 1$_a1$",
            "SELECT $a$; SET x = 1 $A$; LISTEN a",
            "CREATE FUNCTION f() RETURNS void LANGUAGE plpgsql AS $$ BEGIN SET search_path = x; "
                    + "PERFORM pg_advisory_lock(1); PERFORM set_config('a', 'b', false); END $$",
            "DO $body$ BEGIN LISTEN x; END $body$",
            "SE/**/T x = 1",
            "SELECT pg_advisory_lock/* */ + 1",
            "SETx = 1",
            "SELECT 1 setting",
    })
    void noSessionState(String sql) {
        assertThat(cause(sql)).isNull();
    }

    @Test
    void withoutStandardConformingStringsABackslashEscapesAQuote() {
        String sql = "SELECT '\\''; SET x.y = 1; --'";

        assertThat(SessionStateScan.scan(sql, true)).isNull();
        assertThat(SessionStateScan.scan(sql, false)).extracting(Finding::cause).isEqualTo(SET);
        assertThat(SessionStateScan.scan("SELECT '\\'; SET x.y = 1; --'", false)).isNull();
    }

    @Test
    void theExcerptStartsAtTheStatementAndEndsAtItsSemicolon() {
        assertThat(SessionStateScan.scan("SELECT 1;\n  SET search_path\n\tTO app;  SELECT 2"))
                .isEqualTo(new Finding(SET, "SET search_path TO app"));
        assertThat(SessionStateScan.scan("SET application_name = 'a;b'; SELECT 1"))
                .isEqualTo(new Finding(SET, "SET application_name = 'a;b'"));
        assertThat(SessionStateScan.scan("EXPLAIN ANALYZE CREATE TEMP TABLE t AS SELECT 1"))
                .isEqualTo(new Finding(TEMPORARY_OBJECT, "EXPLAIN ANALYZE CREATE TEMP TABLE t AS SELECT 1"));
    }

    @Test
    void theExcerptOfAFunctionCallStartsAtTheCall() {
        assertThat(SessionStateScan.scan("SELECT a, b, c, pg_advisory_lock(7) FROM t; SELECT 2"))
                .isEqualTo(new Finding(ADVISORY_LOCK, "pg_advisory_lock(7) FROM t"));
        assertThat(SessionStateScan.scan("SELECT pg_catalog.set_config('a.b', 'c', false)"))
                .isEqualTo(new Finding(SET_CONFIG, "set_config('a.b', 'c', false)"));
    }

    @Test
    void aLongStatementIsCutToEightyCharacters() {
        String sql = "SET search_path = " + "schema_name, ".repeat(40) + "public";

        Finding f = SessionStateScan.scan(sql);

        assertThat(f.statement()).hasSize(Finding.MAX_EXCERPT).startsWith("SET search_path = schema_name,")
                .endsWith("…");
    }

    @Test
    void anyCharSequenceWillDo() {
        assertThat(SessionStateScan.scan(new StringBuilder("LISTEN x"))).extracting(Finding::cause).isEqualTo(LISTEN);
        assertThat(SessionStateScan.scan(CharBuffer.wrap("xx LOAD 'a'").subSequence(3, 11)))
                .isEqualTo(new Finding(LOAD, "LOAD 'a'"));
        assertThat(SessionStateScan.scan(null)).isNull();
    }

    @Test
    void utf8BytesReadAsLatin1LexLikeTheDecodedText() {
        String sql = "SELECT 'é;ü' AS \"ñ\", 'ß'; SET x.y = 1";
        String latin1 = new String(sql.getBytes(java.nio.charset.StandardCharsets.UTF_8),
                java.nio.charset.StandardCharsets.ISO_8859_1);

        assertThat(SessionStateScan.scan(latin1)).extracting(Finding::cause).isEqualTo(SET);
        // '$' continues a word, whatever its letters: "é$$" is no dollar quote
        assertThat(SessionStateScan.scan("SELECT é$$; SET x.y = 1")).extracting(Finding::cause).isEqualTo(SET);
    }

    @Test
    void scanningAllocatesNothingUntilItFindsSomething() {
        // passes the letter prefilter ("offset", "set_config", "temp") and exercises every kind of token
        String sql = "SELECT set_config('a.b', $1, true), E'x\\'' AS \"q\", $t$ body $t$, B'01', 1.5e3 /* /* */ */ "
                + "FROM t WHERE temp > 0 -- note\n OFFSET 3; UPDATE t SET a = 1; SET LOCAL x = 1; DISCARD ALL";
        assertThat(SessionStateScan.scan(sql)).isNull();
        Assumptions.assumeTrue(ManagementFactory.getThreadMXBean() instanceof com.sun.management.ThreadMXBean);
        var threads = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        long thread = Thread.currentThread().threadId();
        int found = 0;

        long before = threads.getThreadAllocatedBytes(thread);
        for (int i = 0; i < 10_000; i++) {
            found += SessionStateScan.scan(sql) == null ? 0 : 1;
            found += SessionStateScan.dropsPreparedStatements(sql) ? 0 : 1;
        }
        long allocated = threads.getThreadAllocatedBytes(thread) - before;

        assertThat(found).isZero();
        // one object per scan would be at least 160,000 bytes; the counter itself may count a few
        assertThat(allocated).isLessThan(4_096);
    }

    @ParameterizedTest
    @ValueSource(strings = {
            "DEALLOCATE q",
            "DEALLOCATE PREPARE q",
            "DEALLOCATE ALL",
            "deallocate prepare all",
            "DISCARD ALL",
            "discard plans",
            "SELECT 1; DISCARD /* all of it */ ALL",
            "EXECUTE q; DEALLOCATE q",
    })
    void dropsPreparedStatements(String sql) {
        assertThat(SessionStateScan.dropsPreparedStatements(sql)).isTrue();
    }

    @ParameterizedTest
    @ValueSource(strings = {
            "",
            "SELECT 1",
            "DISCARD TEMP",
            "DISCARD SEQUENCES",
            "SELECT 'DEALLOCATE ALL'",
            "SELECT 1 -- ; DISCARD ALL",
            "SELECT $$; DISCARD PLANS $$",
            "SELECT deallocate FROM t",
            "PREPARE q AS SELECT 1",
    })
    void keepsPreparedStatements(String sql) {
        assertThat(SessionStateScan.dropsPreparedStatements(sql)).isFalse();
        assertThat(SessionStateScan.dropsPreparedStatements(null)).isFalse();
    }
}
