package dev.pgmux.pool;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.pgmux.AuthMode;
import dev.pgmux.BackendConfig;
import dev.pgmux.ClientAuthMethod;
import dev.pgmux.PoolConfig;
import dev.pgmux.PoolMode;
import dev.pgmux.ProxyServer;
import dev.pgmux.Secret;
import dev.pgmux.SessionStatePolicy;
import dev.pgmux.StaticRouter;
import dev.pgmux.embedded.LocalPostgres;
import dev.pgmux.testing.TestServers;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.HashSet;
import java.util.Properties;
import java.util.Set;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.postgresql.PGConnection;
import org.postgresql.PGNotification;
import org.postgresql.util.PSQLException;

/**
 * Transaction pooling with state that cannot move between servers: each statement that leaves such state pins its
 * client to its server (counted by cause), so that what follows in later transactions sees it, as on a dedicated
 * connection; {@code on_session_state: error} refuses it with 0A000; a plain SET is carried along instead of pinning.
 */
class PinningIT {
    static LocalPostgres pg;
    static ProxyServer proxy;

    @BeforeAll
    static void start() throws Exception {
        pg = TestServers.pg17();
        proxy = new ProxyServer("127.0.0.1:0", StaticRouter.empty()
                .put("pin", route(SessionStatePolicy.PIN))
                .put("refuse", route(SessionStatePolicy.ERROR))
                .put("ignore", route(SessionStatePolicy.IGNORE))).withThreads(1).start();
    }

    static BackendConfig route(SessionStatePolicy policy) {
        return BackendConfig.builder().host(pg.host()).port(pg.port()).user(TestServers.ALICE).database("postgres")
                .auth(AuthMode.PROXY).clientAuthMethod(ClientAuthMethod.TRUST)
                .password(Secret.of(TestServers.ALICE_PASSWORD))
                .pool(PoolConfig.builder().mode(PoolMode.TRANSACTION).size(3).onSessionState(policy).build()).build();
    }

    @AfterAll
    static void stop() {
        if (proxy != null) {
            proxy.close(Duration.ofSeconds(2));
        }
    }

    static Connection connect(String user) throws SQLException {
        Properties p = new Properties();
        p.setProperty("user", user);
        p.setProperty("sslmode", "disable");
        p.setProperty("socketTimeout", "20");
        p.setProperty("prepareThreshold", "1");
        return DriverManager.getConnection("jdbc:postgresql://127.0.0.1:" + proxy.port() + "/postgres", p);
    }

    static String one(Connection c, String sql) throws SQLException {
        try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery(sql)) {
            assertThat(rs.next()).isTrue();
            return rs.getString(1);
        }
    }

    static long pins(String user, String cause) {
        return proxy.poolStats().stream().filter(s -> s.pins().containsKey(cause))
                .mapToLong(s -> s.pins().get(cause)).sum();
    }

    /** Other clients keep the pool's servers busy, so that an unpinned client would soon get another one. */
    static void churn(int n) throws SQLException {
        try (Connection a = connect("pin"); Connection b = connect("pin")) {
            a.setAutoCommit(false);
            for (int i = 0; i < n; i++) {
                one(a, "select pg_backend_pid()");
                one(b, "select pg_backend_pid()");
            }
            a.commit();
        }
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
            "create temp table pin_t(x int)|temporary_object|select count(*) from pin_t|0",
            "select pg_advisory_lock(42)|advisory_lock|select count(*) from pg_locks where locktype = 'advisory' and pid = pg_backend_pid()|1",
            "prepare pin_p as select 7|prepare|execute pin_p|7",
            "select set_config('work_mem', '9MB', false)|set_config|show work_mem|9MB",
            "set time zone 'Pacific/Auckland'|set|show timezone|Pacific/Auckland",
            "declare pin_c cursor with hold for select 5|with_hold_cursor|select count(*) from pg_cursors where name = 'pin_c'|1",
    })
    void aStatementThatLeavesStateOnItsServerPinsItsClient(String statement, String cause, String check,
                                                           String expected) throws Exception {
        long before = pins("pin", cause);
        try (Connection c = connect("pin")) {
            String pid = one(c, "select pg_backend_pid()");
            try (Statement s = c.createStatement()) {
                s.execute(statement);
            }
            assertThat(pins("pin", cause)).isEqualTo(before + 1);
            Set<String> pids = new HashSet<>();
            for (int i = 0; i < 5; i++) {
                churn(3);
                assertThat(one(c, check)).isEqualTo(expected);
                pids.add(one(c, "select pg_backend_pid()"));
            }
            assertThat(pids).hasSize(1);
            assertThat(pids.iterator().next()).isEqualTo(one(c, "select pg_backend_pid()"));
            assertThat(pid).isNotNull();
        }
        // the pinned client's server was reset before anyone else got it
        for (int i = 0; i < 4; i++) {
            try (Connection c = connect("pin")) {
                assertThat(one(c, "select count(*) from pg_locks where locktype = 'advisory' and pid = pg_backend_pid()"))
                        .isEqualTo("0");
                assertThat(one(c, "show work_mem")).isEqualTo("4MB");
                assertThat(one(c, "select count(*) from pg_prepared_statements where name = 'pin_p'")).isEqualTo("0");
            }
        }
    }

    @Test
    void listenPinsSoThatNotificationsArrive() throws Exception {
        long before = pins("pin", "listen");
        try (Connection listener = connect("pin"); Connection sender = connect("pin")) {
            try (Statement s = listener.createStatement()) {
                s.execute("listen pin_chan");
            }
            assertThat(pins("pin", "listen")).isEqualTo(before + 1);
            churn(3);
            try (Statement s = sender.createStatement()) {
                s.execute("notify pin_chan, 'hello'");
            }
            PGNotification[] got = listener.unwrap(PGConnection.class).getNotifications(5000);
            assertThat(got).extracting(PGNotification::getParameter).containsExactly("hello");
        }
    }

    @Test
    void aPlainSetIsCarriedToEachServerInsteadOfPinning() throws Exception {
        long pinned = proxy.poolStats().stream().mapToLong(s -> s.pins().values().stream().mapToLong(Long::longValue)
                .sum()).sum();
        try (Connection c = connect("pin")) {
            try (Statement s = c.createStatement()) {
                s.execute("set work_mem = '6MB'");
            }
            Set<String> pids = new HashSet<>();
            try (Connection other = connect("pin"); Connection third = connect("pin")) {
                other.setAutoCommit(false);
                for (int i = 0; i < 6; i++) {
                    pids.add(one(c, "select pg_backend_pid()"));
                    one(other, "select 1"); // takes the server c just gave back, so that c gets another
                    assertThat(one(c, "show work_mem")).isEqualTo("6MB");
                    pids.add(one(c, "select pg_backend_pid()"));
                    other.rollback();
                    assertThat(one(third, "show work_mem")).isEqualTo("4MB"); // c's setting is c's only
                }
            }
            try (Statement s = c.createStatement()) {
                s.execute("reset work_mem");
            }
            assertThat(one(c, "show work_mem")).isEqualTo("4MB");
            assertThat(pids).hasSizeGreaterThan(1);
        }
        long after = proxy.poolStats().stream().mapToLong(s -> s.pins().values().stream().mapToLong(Long::longValue)
                .sum()).sum();
        assertThat(after).isEqualTo(pinned);
    }

    @Test
    void psqlScriptsRunThroughATransactionPool() throws Exception {
        org.junit.jupiter.api.Assumptions.assumeTrue(dev.pgmux.PsqlIT.onPath("psql"), "psql is not installed");
        ProcessBuilder pb = new ProcessBuilder("psql", "-X", "-v", "ON_ERROR_STOP=1", "-At",
                "host=127.0.0.1 port=" + proxy.port() + " user=pin dbname=postgres sslmode=disable",
                "-c", "select 40 + 2",
                "-c", "begin; create temp table psql_pool(x int); insert into psql_pool values (1), (2); commit",
                "-c", "\\copy psql_pool from stdin",
                "-c", "select sum(x) from psql_pool")
                .redirectErrorStream(true);
        Process p = pb.start();
        p.getOutputStream().write("3\n4\n\\.\n".getBytes(java.nio.charset.StandardCharsets.UTF_8));
        p.getOutputStream().close();
        assertThat(p.waitFor(30, java.util.concurrent.TimeUnit.SECONDS)).isTrue();
        String out = new String(p.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
        assertThat(p.exitValue()).as(out).isZero();
        assertThat(out.lines().toList()).as(out).contains("42", "COMMIT", "COPY 2", "10").last().isEqualTo("10");
    }

    @Test
    void onSessionStateErrorRefusesWith0A000() throws Exception {
        try (Connection c = connect("refuse")) {
            assertThatThrownBy(() -> {
                try (Statement s = c.createStatement()) {
                    s.execute("create temp table refused(x int)");
                }
            }).isInstanceOfSatisfying(PSQLException.class, e -> {
                assertThat(e.getSQLState()).isEqualTo("0A000");
                assertThat(e.getMessage()).contains("create temp table refused");
            });
            assertThat(one(c, "select 'still usable'")).isEqualTo("still usable");
        }
    }

    @Test
    void onSessionStateIgnoreDoesNotPin() throws Exception {
        long before = pins("ignore", "temporary_object");
        try (Connection c = connect("ignore")) {
            try (Statement s = c.createStatement()) {
                s.execute("create temp table ignored(x int)");
            }
        }
        assertThat(pins("ignore", "temporary_object")).isEqualTo(before);
    }
}
