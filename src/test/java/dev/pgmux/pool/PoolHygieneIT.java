package dev.pgmux.pool;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.pgmux.AuthMode;
import dev.pgmux.BackendConfig;
import dev.pgmux.ClientAuthMethod;
import dev.pgmux.Limits;
import dev.pgmux.PoolConfig;
import dev.pgmux.PoolMode;
import dev.pgmux.ProxyServer;
import dev.pgmux.Secret;
import dev.pgmux.StaticRouter;
import dev.pgmux.embedded.LocalPostgres;
import dev.pgmux.testing.RawClient;
import dev.pgmux.testing.TestServers;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.postgresql.PGConnection;
import org.postgresql.util.PSQLException;

/**
 * What a pooled server carries from one client to the next, in both modes: nothing. One event loop and a pool of
 * one, so that the next client gets the very server the last one left (or a new one, when that was too dirty to keep).
 * Clients log in with {@code trust} at pgmux, so that raw protocol clients can leave at any point.
 */
class PoolHygieneIT {
    static LocalPostgres pg;
    static ProxyServer proxy;

    @BeforeAll
    static void start() throws Exception {
        pg = TestServers.pg17();
        StaticRouter router = StaticRouter.empty()
                .put("session", route(PoolMode.SESSION))
                .put("transaction", route(PoolMode.TRANSACTION));
        proxy = new ProxyServer("127.0.0.1:0", router).withThreads(1)
                .withLimits(Limits.DEFAULT.withBackendConnectTimeout(Duration.ofSeconds(2)))
                .start();
    }

    static BackendConfig route(PoolMode mode) {
        return BackendConfig.builder().host(pg.host()).port(pg.port()).user(TestServers.ALICE)
                .auth(AuthMode.PROXY).clientAuthMethod(ClientAuthMethod.TRUST)
                .password(Secret.of(TestServers.ALICE_PASSWORD))
                .pool(PoolConfig.builder().mode(mode).size(1).waitTimeout(Duration.ofSeconds(5)).build()).build();
    }

    @AfterAll
    static void stop() {
        if (proxy != null) {
            proxy.close(Duration.ofSeconds(2));
        }
    }

    static Connection connect(String user, Properties extra) throws SQLException {
        Properties p = new Properties();
        p.setProperty("user", user);
        p.setProperty("sslmode", "disable");
        p.setProperty("connectTimeout", "10");
        p.setProperty("socketTimeout", "20");
        p.putAll(extra);
        return DriverManager.getConnection("jdbc:postgresql://127.0.0.1:" + proxy.port() + "/postgres", p);
    }

    static String one(Connection c, String sql) throws SQLException {
        try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery(sql)) {
            assertThat(rs.next()).isTrue();
            return rs.getString(1);
        }
    }

    static RawClient raw(String user) throws Exception {
        RawClient c = new RawClient("127.0.0.1", proxy.port());
        c.setTimeout(20_000);
        c.startup(0, RawClient.params("user", user, "database", "postgres"));
        c.readUntil('Z');
        return c;
    }

    /** A second client's view: its own answer only, outside a transaction, on a server with no leftovers. */
    static void nextClientSeesACleanServer(String user) throws Exception {
        try (RawClient c = raw(user)) {
            c.query("select 'next client'");
            List<Character> types = new ArrayList<>();
            RawClient.Message m;
            do {
                m = c.read();
                types.add(m.type());
                if (m.type() == 'D') {
                    assertThat(new String(m.body(), StandardCharsets.UTF_8)).contains("next client");
                }
            } while (m.type() != 'Z');
            assertThat(types).containsExactly('T', 'D', 'C', 'Z');
            assertThat(m.body()[0]).isEqualTo((byte) 'I');
        }
        try (Connection c = connect(user, new Properties())) {
            assertThat(one(c, "select count(*) from pg_class where relname = 'dirty' and relnamespace = pg_my_temp_schema()"))
                    .isEqualTo("0");
            assertThat(one(c, "select count(*) from pg_locks where locktype = 'advisory' and pid = pg_backend_pid()"))
                    .isEqualTo("0");
            assertThat(one(c, "show work_mem")).isEqualTo("4MB");
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"session", "transaction"})
    void aClientKilledMidQueryLeavesNothingBehind(String mode) throws Exception {
        RawClient a = raw(mode);
        a.query("select pg_sleep(0.3), 'first client'");
        a.close();
        nextClientSeesACleanServer(mode);
    }

    @ParameterizedTest
    @ValueSource(strings = {"session", "transaction"})
    void aClientKilledInsideATransactionLeavesNothingBehind(String mode) throws Exception {
        RawClient a = raw(mode);
        a.query("begin; create temp table dirty(x int); select pg_advisory_xact_lock(7); set local work_mem = '9MB'");
        a.readUntil('Z');
        a.close();
        Thread.sleep(100);
        nextClientSeesACleanServer(mode);
    }

    @ParameterizedTest
    @ValueSource(strings = {"session", "transaction"})
    void aClientKilledMidCopyLeavesNothingBehind(String mode) throws Exception {
        RawClient a = raw(mode);
        a.query("create temp table dirty(x int); copy dirty from stdin");
        a.readUntil('G');
        a.send(new byte[] {'d', 0, 0, 0, 6, '1', '\n'});
        a.close();
        Thread.sleep(100);
        nextClientSeesACleanServer(mode);
    }

    @ParameterizedTest
    @ValueSource(strings = {"session", "transaction"})
    void aClientThatLeftWithPipelinedQueriesUnreadLeavesNoRowsToTheNext(String mode) throws Exception {
        RawClient a = raw(mode);
        a.query("select 'leftover', g from generate_series(1, 200000) g");
        a.query("select 'leftover 2'");
        a.query("select 'leftover 3'");
        a.read();
        a.close();
        nextClientSeesACleanServer(mode);
    }

    @ParameterizedTest
    @ValueSource(strings = {"session", "transaction"})
    void resetReturnsToTheClientsOwnStartupValues(String mode) throws Exception {
        Properties p = new Properties();
        p.setProperty("options", "-c work_mem=5MB -c statement_timeout=123s");
        p.setProperty("ApplicationName", "hygiene-" + mode);
        try (Connection c = connect(mode, p)) {
            assertThat(((PGConnection) c).getParameterStatus("application_name")).isEqualTo("hygiene-" + mode);
            assertThat(one(c, "show work_mem")).isEqualTo("5MB");
            try (Statement s = c.createStatement()) {
                s.execute("set work_mem = '9MB'");
                assertThat(one(c, "show work_mem")).isEqualTo("9MB");
                s.execute("reset work_mem");
                assertThat(one(c, "show work_mem")).isEqualTo("5MB");
                s.execute("set statement_timeout = '1s'");
                s.execute("reset all");
                assertThat(one(c, "show statement_timeout")).isEqualTo("123s");
                s.execute("set work_mem = '9MB'");
                s.execute("discard all");
                assertThat(one(c, "show work_mem")).isEqualTo("5MB");
            }
        }
        // a client without those options gets the server's defaults, not the last client's
        try (Connection c = connect(mode, new Properties())) {
            assertThat(one(c, "show work_mem")).isEqualTo("4MB");
            assertThat(one(c, "show statement_timeout")).isEqualTo("0");
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"session", "transaction"})
    void aCancelReachesTheServerRunningTheQuery(String mode) throws Exception {
        try (Connection c = connect(mode, new Properties()); Statement s = c.createStatement()) {
            CompletableFuture<Void> cancel = CompletableFuture.runAsync(() -> {
                try {
                    Thread.sleep(300);
                    s.cancel();
                } catch (Exception e) {
                    throw new RuntimeException(e);
                }
            });
            long start = System.nanoTime();
            assertThatThrownBy(() -> s.execute("select pg_sleep(20)"))
                    .isInstanceOfSatisfying(PSQLException.class, e -> assertThat(e.getSQLState()).isEqualTo("57014"));
            assertThat(TimeUnit.NANOSECONDS.toSeconds(System.nanoTime() - start)).isLessThan(10);
            cancel.get();
            s.cancel(); // between transactions: nothing to cancel, nothing breaks
            assertThat(one(c, "select 'still here'")).isEqualTo("still here");
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"session", "transaction"})
    void aServerKilledWhileIdleIsReplaced(String mode) throws Exception {
        String pid;
        try (Connection c = connect(mode, new Properties())) {
            pid = one(c, "select pg_backend_pid()");
        }
        terminate(pid);
        Thread.sleep(200);
        try (Connection c = connect(mode, new Properties())) {
            assertThat(one(c, "select pg_backend_pid()")).isNotEqualTo(pid);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"session", "transaction"})
    void aServerKilledInUseFailsOnlyItsClient(String mode) throws Exception {
        try (Connection c = connect(mode, new Properties())) {
            c.setAutoCommit(false);
            String pid = one(c, "select pg_backend_pid()");
            terminate(pid);
            assertThatThrownBy(() -> one(c, "select 1")).isInstanceOf(SQLException.class);
        }
        try (Connection c = connect(mode, new Properties())) {
            assertThat(one(c, "select 'fine'")).isEqualTo("fine");
        }
    }

    static void terminate(String pid) throws SQLException {
        try (Connection su = DriverManager.getConnection(pg.jdbcUrl("postgres"), TestServers.SUPERUSER,
                TestServers.SUPERUSER_PASSWORD); Statement s = su.createStatement()) {
            s.execute("select pg_terminate_backend(" + pid + ")");
        }
    }
}
