package dev.pgmux;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.pgmux.embedded.LocalPostgres;
import dev.pgmux.testing.Await;
import dev.pgmux.testing.PgStatActivity;
import dev.pgmux.testing.TestServers;
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
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * A session's end from every side: graceful shutdown, limits, the backend going away, the client going away.
 */
class LifecycleIT {
    /** How long a closed session may take to be gone from pgmux and from the server. */
    static final Duration CLEANUP = Duration.ofSeconds(10);
    static LocalPostgres pg;

    @BeforeAll
    static void servers() {
        pg = TestServers.pg17();
    }

    static ProxyServer proxy(Limits limits) throws Exception {
        Router router = request -> BackendConfig.builder().host(pg.host()).port(pg.port()).user(TestServers.ALICE).build();
        return new ProxyServer("127.0.0.1:0", router).withLimits(limits).start();
    }

    static Connection connect(ProxyServer proxy) throws SQLException {
        Properties p = new Properties();
        p.setProperty("user", "someone");
        p.setProperty("password", TestServers.ALICE_PASSWORD);
        p.setProperty("sslmode", "disable");
        return DriverManager.getConnection("jdbc:postgresql://127.0.0.1:" + proxy.port() + "/postgres", p);
    }

    static String one(Connection c, String sql) throws SQLException {
        try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery(sql)) {
            rs.next();
            return rs.getString(1);
        }
    }

    static String stateOf(Throwable t) {
        while (t != null && !(t instanceof SQLException)) {
            t = t.getCause();
        }
        return t == null ? null : ((SQLException) t).getSQLState();
    }

    @Test
    void gracefulShutdownLetsRunningQueriesFinish() throws Exception {
        ProxyServer proxy = proxy(Limits.DEFAULT);
        Connection busy = connect(proxy);
        Connection idle = connect(proxy);
        Connection inTransaction = connect(proxy);
        inTransaction.setAutoCommit(false);
        one(inTransaction, "select 1");
        // Own threads: the common pool may have a single thread on a small machine, and close() must not wait
        // behind the query.
        var threads = java.util.concurrent.Executors.newVirtualThreadPerTaskExecutor();
        CompletableFuture<String> running = CompletableFuture.supplyAsync(() -> {
            try {
                return one(busy, "select 'finished' from pg_sleep(2.5)");
            } catch (SQLException e) {
                return e.getSQLState();
            }
        }, threads);
        PgStatActivity.awaitRunning(pg, "select 'finished' from pg_sleep(2.5)");
        long t0 = System.nanoTime();
        CompletableFuture<Void> closing = CompletableFuture.runAsync(() -> proxy.close(Duration.ofSeconds(6)), threads);
        assertThat(running.get(10, TimeUnit.SECONDS)).isEqualTo("finished");
        // The idle session was ended at once with 57P01; so is the busy one, after its query.
        assertThatThrownBy(() -> one(idle, "select 1")).satisfies(e -> assertThat(stateOf(e)).isIn("57P01", "08006", "08003"));
        assertThatThrownBy(() -> one(busy, "select 1")).satisfies(e -> assertThat(stateOf(e)).isIn("57P01", "08006", "08003"));
        // A new client is refused while shutting down.
        assertThatThrownBy(() -> connect(proxy).close()).isInstanceOf(SQLException.class);
        closing.get(10, TimeUnit.SECONDS);
        Duration took = Duration.ofNanos(System.nanoTime() - t0);
        // The open transaction kept the proxy waiting until the deadline.
        assertThat(took).isBetween(Duration.ofMillis(5500), Duration.ofSeconds(10));
        assertThatThrownBy(() -> one(inTransaction, "select 1")).isInstanceOf(SQLException.class);
        assertThat(proxy.stats().current()).isZero();
        for (Connection c : List.of(busy, idle, inTransaction)) {
            c.close();
        }
    }

    @Test
    void connectionLimitIsEnforcedAndReleased() throws Exception {
        try (ProxyServer proxy = proxy(Limits.DEFAULT.withMaxClientConnections(3))) {
            List<Connection> open = new ArrayList<>();
            for (int i = 0; i < 3; i++) {
                open.add(connect(proxy));
            }
            assertThatThrownBy(() -> connect(proxy).close())
                    .isInstanceOf(SQLException.class)
                    .satisfies(e -> assertThat(((SQLException) e).getSQLState()).isEqualTo("53300"));
            for (Connection c : open) {
                c.close();
            }
            awaitNoClients(proxy);
            for (int i = 0; i < 3; i++) {
                open.set(i, connect(proxy));
            }
            assertThat(one(open.get(2), "select 'ok'")).isEqualTo("ok");
            for (Connection c : open) {
                c.close();
            }
            assertThat(proxy.stats().rejected()).isGreaterThanOrEqualTo(1);
            proxy.close(Duration.ofSeconds(1));
        }
    }

    @Test
    void backendTerminationReachesTheClientAndCleansUp() throws Exception {
        try (ProxyServer proxy = proxy(Limits.DEFAULT); Connection c = connect(proxy)) {
            String pid = one(c, "select pg_backend_pid()");
            try (Connection admin = pg.connect("postgres", TestServers.SUPERUSER, TestServers.SUPERUSER_PASSWORD)) {
                one(admin, "select pg_terminate_backend(" + pid + ")");
            }
            assertThatThrownBy(() -> one(c, "select 1")).satisfies(e -> assertThat(stateOf(e)).isIn("57P01", "08006"));
            awaitNoClients(proxy);
            proxy.close(Duration.ofSeconds(1));
        }
    }

    @Test
    void aVanishedClientDoesNotLeaveItsQueryRunning() throws Exception {
        try (ProxyServer proxy = proxy(Limits.DEFAULT)) {
            Connection c = connect(proxy);
            String pid = one(c, "select pg_backend_pid()");
            CompletableFuture.runAsync(() -> {
                try (Statement s = c.createStatement()) {
                    s.execute("select pg_sleep(60)");
                } catch (SQLException ignored) {
                    // the connection is closed under it
                }
            });
            PgStatActivity.awaitRunning(pg, Integer.parseInt(pid), "select pg_sleep(60)");
            c.unwrap(org.postgresql.core.BaseConnection.class).getQueryExecutor().abort(); // drop the socket
            PgStatActivity.awaitNone(pg, "pid = " + pid, CLEANUP);
            awaitNoClients(proxy);
            proxy.close(Duration.ofSeconds(1));
        }
    }

    static void awaitNoClients(ProxyServer proxy) {
        Await.until(CLEANUP, () -> "clients: " + proxy.stats().current(), () -> proxy.stats().current() == 0);
    }
}
