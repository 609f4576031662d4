package dev.pgmux.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import dev.pgmux.embedded.LocalPostgres;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.ServerSocket;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.postgresql.PGConnection;
import org.postgresql.PGNotification;
import picocli.CommandLine;

/**
 * {@code pgmux init-routing-table} against a PostgreSQL 18 server of its own: what it creates, that a plain
 * INSERT then notifies, that a second run changes nothing, that an older or hand-made table is completed, and
 * the one-line errors when it cannot connect or may not create.
 */
class InitRoutingTableIT {
    static final String DATABASE = "control";
    static final String SUPER_PASSWORD = "init-super-pw";
    /** May connect, but (PostgreSQL 15+) not CREATE in schema public. */
    static final String PLAIN_ROLE = "plain_user";
    static final String PLAIN_PASSWORD = "plain-pw-31";

    /** The SCRAM-SHA-256 verifier of "secret", and the MD5 hash of "secret" for alice. */
    static final String VERIFIER = "SCRAM-SHA-256$4096:cGdtdXgtdGVzdC1zYWx0IQ==$"
            + "rLW6vFo5jkg3NjS9osAxK+n1pWn5Ulxp+xUkvGAODII=:RqdbEpVSpSaE0L8qUkdIucadWchgrYekib/qche6mlE=";
    static final String MD5 = "md54a0a68b43b6cd5cf266fa02f196e2371";

    static LocalPostgres control;

    @BeforeAll
    static void startControlPlane() {
        control = LocalPostgres.builder().version("18").superuserPassword(SUPER_PASSWORD)
                .user(PLAIN_ROLE, PLAIN_PASSWORD, "scram-sha-256")
                .database(DATABASE, null)
                .start();
        control.execute(DATABASE, "CREATE SCHEMA routing");
    }

    @AfterAll
    static void stopControlPlane() {
        if (control != null) {
            control.close();
        }
    }

    @Test
    void createsTheTableItsFunctionsAndTriggersAndSaysSo() throws Exception {
        Run run = Run.of("init-routing-table", "--dsn", dsn(LocalPostgres.SUPERUSER, SUPER_PASSWORD),
                "--table", "fresh_routes");

        assertThat(run.exit).as(run.toString()).isZero();
        assertThat(run.err).isEmpty();
        assertThat(run.outLines()).containsExactly(
                "connected to postgresql://postgres@127.0.0.1:" + control.port() + "/control (PostgreSQL "
                        + control.version() + ")",
                "table public.fresh_routes: created",
                "function public.fresh_routes_notify(): created",
                "function public.fresh_routes_touch(): created",
                "trigger fresh_routes_notify on public.fresh_routes: created",
                "trigger fresh_routes_touch on public.fresh_routes: created",
                "ready: 0 routes; changes are announced on channel fresh_routes");
        assertThat(query("SELECT string_agg(column_name || ' ' || data_type || ' ' || is_nullable, ', '"
                + " ORDER BY ordinal_position) FROM information_schema.columns WHERE table_name = 'fresh_routes'"))
                .isEqualTo("username text NO, host text NO, port integer NO, backend_user text YES, database text YES,"
                        + " sslmode text YES, parameters jsonb YES, target_session_attrs text YES,"
                        + " load_balance_hosts text YES, auth text YES, client_auth_method text YES,"
                        + " client_password text YES, pool text YES, pool_size integer YES,"
                        + " updated_at timestamp with time zone NO");

        try (Connection listener = superuser(); Connection writer = superuser();
             Statement listen = listener.createStatement(); Statement write = writer.createStatement()) {
            listen.execute("LISTEN fresh_routes");
            // The plain INSERT of the docs: defaults fill port and updated_at.
            write.execute("INSERT INTO fresh_routes(username, host, backend_user) VALUES ('alice', '10.0.0.1', NULL)");
            assertThat(operations(listener)).containsExactly("INSERT");
            write.execute("UPDATE fresh_routes SET port = 6432, updated_at = '2000-01-01' WHERE username = 'alice'");
            write.execute("DELETE FROM fresh_routes WHERE username = 'nobody'"); // no row: still a statement
            write.execute("TRUNCATE fresh_routes");
            assertThat(operations(listener)).containsExactly("UPDATE", "DELETE", "TRUNCATE");
        }
        control.execute(DATABASE, "INSERT INTO fresh_routes(username, host, updated_at) VALUES ('bob', 'h', '2000-01-01')",
                "UPDATE fresh_routes SET port = 1 WHERE username = 'bob'");
        assertThat(query("SELECT updated_at > now() - interval '1 minute' FROM fresh_routes WHERE username = 'bob'"))
                .as("updated_at set by the UPDATE trigger").isEqualTo("t");
        assertThat(query("SELECT count(*) FROM pg_constraint WHERE conrelid = 'fresh_routes'::regclass"
                + " AND contype = 'c'")).as("CHECK constraints").isEqualTo("14");
    }

    @Test
    void aPlainClientPasswordCannotEnterTheTable() throws Exception {
        assertThat(Run.of("init-routing-table", "--dsn", dsn(LocalPostgres.SUPERUSER, SUPER_PASSWORD),
                "--table", "auth_routes").exit).isZero();
        try (Connection c = superuser(); Statement st = c.createStatement()) {
            st.execute("INSERT INTO auth_routes(username, host, auth, client_password) VALUES"
                    + " ('ann', 'h', 'proxy', '" + VERIFIER + "'), ('bob', 'h', 'proxy', '" + MD5 + "'),"
                    + " ('cid', 'h', 'passthrough', NULL)");
            for (String refused : List.of("hunter2", "md5abc", MD5 + "0", MD5.toUpperCase(Locale.ROOT),
                    VERIFIER.replace("$4096", "$"), VERIFIER + " ")) {
                SQLException e = catchThrowableOfType(SQLException.class, () -> st.execute("INSERT INTO auth_routes"
                        + "(username, host, auth, client_password) VALUES ('dan', 'h', 'proxy', '" + refused + "')"));
                assertThat(e == null ? "accepted" : e.getSQLState()).as(refused + ": check_violation")
                        .isEqualTo("23514");
            }
            SQLException badMode = catchThrowableOfType(SQLException.class, () -> st.execute(
                    "INSERT INTO auth_routes(username, host, auth) VALUES ('dan', 'h', 'trust')"));
            assertThat(badMode.getSQLState()).isEqualTo("23514");
            st.execute("INSERT INTO auth_routes(username, host, auth, client_auth_method) VALUES ('eve', 'h', 'proxy',"
                    + " 'cert')");
            SQLException badMethod = catchThrowableOfType(SQLException.class, () -> st.execute(
                    "INSERT INTO auth_routes(username, host, auth, client_auth_method) VALUES ('dan', 'h', 'proxy',"
                            + " 'ident')"));
            assertThat(badMethod.getSQLState()).isEqualTo("23514");
        }
    }

    @Test
    void aPoolModeOrSizeThatCouldNeverBeARouteCannotEnterTheTable() throws Exception {
        assertThat(Run.of("init-routing-table", "--dsn", dsn(LocalPostgres.SUPERUSER, SUPER_PASSWORD),
                "--table", "pool_routes").exit).isZero();
        try (Connection c = superuser(); Statement st = c.createStatement()) {
            st.execute("INSERT INTO pool_routes(username, host, auth, client_auth_method, pool, pool_size) VALUES"
                    + " ('ann', 'h', 'proxy', 'trust', 'transaction', 8), ('bob', 'h', 'proxy', 'trust', 'session',"
                    + " NULL), ('cid', 'h', NULL, NULL, 'none', NULL)");
            for (String refused : List.of("pool = 'statement'", "pool = 'Session'", "pool_size = 0",
                    "pool_size = -1")) {
                SQLException e = catchThrowableOfType(SQLException.class, () -> st.execute("UPDATE pool_routes SET "
                        + refused + " WHERE username = 'ann'"));
                assertThat(e == null ? "accepted" : e.getSQLState()).as(refused + ": check_violation")
                        .isEqualTo("23514");
            }
        }
    }

    @Test
    void aSecondRunChangesNothingAndKeepsTheRows() {
        String dsn = dsn(LocalPostgres.SUPERUSER, SUPER_PASSWORD);
        assertThat(Run.of("init-routing-table", "--dsn", dsn, "--table", "again_routes").exit).isZero();
        control.execute(DATABASE, "INSERT INTO again_routes(username, host) VALUES ('alice', '10.0.0.1')");

        Run again = Run.of("init-routing-table", "--dsn", dsn, "--table", "again_routes");

        assertThat(again.exit).as(again.toString()).isZero();
        assertThat(again.outLines()).containsExactly(
                "connected to postgresql://postgres@127.0.0.1:" + control.port() + "/control (PostgreSQL "
                        + control.version() + ")",
                "table public.again_routes: exists",
                "function public.again_routes_notify(): unchanged",
                "function public.again_routes_touch(): unchanged",
                "trigger again_routes_notify on public.again_routes: exists",
                "trigger again_routes_touch on public.again_routes: exists",
                "ready: 1 route; changes are announced on channel again_routes");
        assertThat(query("SELECT count(*) FROM pg_trigger WHERE tgrelid = 'again_routes'::regclass")).isEqualTo("2");
    }

    @Test
    void aHandMadeTableIsCompletedAndAnOutdatedFunctionReplaced() {
        control.execute(DATABASE, "CREATE TABLE routing.\"user\" (username text PRIMARY KEY, host text NOT NULL,"
                        + " port int NOT NULL DEFAULT 5432)",
                "INSERT INTO routing.\"user\" VALUES ('alice', '10.0.0.1', 5432)",
                "CREATE FUNCTION routing.user_notify() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN RETURN NULL; END$$");

        // Mixed case and a reserved word: folded and quoted, as for the table typed unquoted (but "user" must be).
        Run run = Run.of("init-routing-table", "--dsn", dsn(LocalPostgres.SUPERUSER, SUPER_PASSWORD),
                "--table", "Routing.User");

        assertThat(run.exit).as(run.toString()).isZero();
        assertThat(run.outLines()).containsSubsequence(
                "table routing.user: exists",
                "column routing.user.backend_user: added",
                "column routing.user.database: added",
                "column routing.user.sslmode: added",
                "column routing.user.parameters: added",
                "column routing.user.auth: added",
                "column routing.user.client_auth_method: added",
                "column routing.user.client_password: added",
                "column routing.user.pool: added",
                "column routing.user.pool_size: added",
                "column routing.user.updated_at: added",
                "function routing.user_notify(): replaced",
                "function routing.user_touch(): created",
                "trigger user_notify on routing.user: created",
                "ready: 1 route; changes are announced on channel user");
        assertThat(query("SELECT backend_user IS NULL AND updated_at IS NOT NULL FROM routing.\"user\"")).isEqualTo("t");
    }

    @Test
    void aTableThatIsNotARoutingTableIsRefusedAndLeftAlone() {
        control.execute(DATABASE, "CREATE TABLE not_routes (username text, note text)");

        Run run = Run.of("init-routing-table", "--dsn", dsn(LocalPostgres.SUPERUSER, SUPER_PASSWORD),
                "--table", "not_routes");

        assertThat(run.exit).isEqualTo(1);
        assertThat(run.out).isEmpty();
        assertThat(run.errLines()).containsExactly("pgmux init-routing-table: cannot set up routing table not_routes at"
                + " postgresql://postgres@127.0.0.1:" + control.port() + "/control: table public.not_routes exists"
                + " but has no column host, port: it is not a pgmux routing table (choose another --table)"
                + " (SQLSTATE 42703)");
        assertThat(query("SELECT count(*) FROM information_schema.columns WHERE table_name = 'not_routes'"))
                .as("rolled back").isEqualTo("2");
    }

    @Test
    void connectionFailuresAreOneLineWithoutThePassword() throws Exception {
        int closedPort;
        try (ServerSocket s = new ServerSocket(0)) {
            closedPort = s.getLocalPort();
        }
        Run refused = Run.of("init-routing-table", "--dsn",
                "postgresql://postgres:pw-never-shown@127.0.0.1:" + closedPort + "/control");
        assertThat(refused.exit).isEqualTo(1);
        assertThat(refused.errLines()).singleElement().asString()
                .startsWith("pgmux init-routing-table: cannot connect to postgresql://postgres@127.0.0.1:" + closedPort
                        + "/control: Connection to 127.0.0.1:" + closedPort + " refused");

        Run wrongPassword = Run.of("init-routing-table", "--dsn", dsn(LocalPostgres.SUPERUSER, "pw-never-shown"));
        assertThat(wrongPassword.exit).isEqualTo(1);
        assertThat(wrongPassword.errLines()).singleElement().asString()
                .contains("cannot connect to postgresql://postgres@127.0.0.1:" + control.port() + "/control")
                .contains("password authentication failed for user \"postgres\"");

        for (Run run : List.of(refused, wrongPassword)) {
            assertThat(run.out + run.err).doesNotContain("pw-never-shown").doesNotContain("\tat ");
        }
    }

    @Test
    void noPermissionToCreateIsOneLineWithTheSqlState() {
        Run run = Run.of("init-routing-table", "--dsn", dsn(PLAIN_ROLE, PLAIN_PASSWORD));

        assertThat(run.exit).isEqualTo(1);
        assertThat(run.errLines()).containsExactly("pgmux init-routing-table: cannot set up routing table pgmux_routes"
                + " at postgresql://" + PLAIN_ROLE + "@127.0.0.1:" + control.port() + "/control:"
                + " ERROR: permission denied for schema public (SQLSTATE 42501)");
    }

    @Test
    void badArgumentsExitWithTwo() {
        String dsn = dsn(LocalPostgres.SUPERUSER, SUPER_PASSWORD);
        Run badTable = Run.of("init-routing-table", "--dsn", dsn, "--table", "routes; DROP TABLE x");
        assertThat(badTable.exit).isEqualTo(2);
        assertThat(badTable.errLines()).singleElement().asString()
                .startsWith("pgmux init-routing-table: table name \"routes; DROP TABLE x\" must be");

        Run badDsn = Run.of("init-routing-table", "--dsn", "host=127.0.0.1 password=pw-never-shown");
        assertThat(badDsn.exit).isEqualTo(2);
        assertThat(badDsn.errLines()).containsExactly("pgmux init-routing-table: a DSN looks like"
                + " postgresql://USER:PASSWORD@HOST:PORT/DATABASE or jdbc:postgresql://HOST:PORT/DATABASE?user=USER");

        Run noDsn = Run.of("init-routing-table");
        assertThat(noDsn.exit).isEqualTo(2);
        assertThat(noDsn.err).contains("Missing required option: '--dsn=DSN'");

        Run help = Run.of("init-routing-table", "--help");
        assertThat(help.exit).isZero();
        assertThat(help.out).contains("--dsn=DSN").contains("--table=[SCHEMA.]NAME").contains("pgmux_routes");
    }

    // ---- helpers -----------------------------------------------------------------------------------------

    static String dsn(String user, String password) {
        return "postgresql://" + user + ":" + password + "@127.0.0.1:" + control.port() + "/" + DATABASE
                + "?sslmode=disable";
    }

    static Connection superuser() throws SQLException {
        return control.connect(DATABASE, LocalPostgres.SUPERUSER, SUPER_PASSWORD);
    }

    static String query(String sql) {
        try (Connection c = superuser(); Statement st = c.createStatement(); ResultSet rs = st.executeQuery(sql)) {
            assertThat(rs.next()).isTrue();
            return rs.getString(1);
        } catch (SQLException e) {
            throw new AssertionError(e);
        }
    }

    /** The payloads of the notifications that arrive within a second (NOTIFY is sent at commit). */
    static List<String> operations(Connection listener) throws SQLException {
        List<String> payloads = new ArrayList<>();
        long deadline = System.nanoTime() + 1_000_000_000L;
        while (System.nanoTime() < deadline) {
            PGNotification[] got = listener.unwrap(PGConnection.class).getNotifications(100);
            for (PGNotification n : got == null ? new PGNotification[0] : got) {
                assertThat(n.getName()).isEqualTo("fresh_routes");
                payloads.add(n.getParameter());
            }
        }
        return payloads;
    }

    /** One in-process run of the command line. */
    record Run(int exit, String out, String err) {
        static Run of(String... args) {
            StringWriter out = new StringWriter();
            StringWriter err = new StringWriter();
            int exit = new CommandLine(new Main()).setOut(new PrintWriter(out, true)).setErr(new PrintWriter(err, true))
                    .execute(args);
            return new Run(exit, out.toString(), err.toString());
        }

        List<String> outLines() {
            return Arrays.asList(out.strip().split("\n"));
        }

        List<String> errLines() {
            return Arrays.asList(err.strip().split("\n"));
        }
    }
}
