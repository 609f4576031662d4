package dev.pgmux;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.pgmux.embedded.LocalPostgres;
import dev.pgmux.testing.PgStatActivity;
import dev.pgmux.testing.TestCerts;
import dev.pgmux.testing.TestServers;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.net.ServerSocket;
import java.security.MessageDigest;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.postgresql.PGConnection;
import org.postgresql.PGNotification;
import org.postgresql.copy.CopyManager;

/**
 * The proxy end to end: real PostgreSQL servers behind it, pgjdbc in front of it.
 */
class ProxyIT {
    static LocalPostgres pg17;
    static LocalPostgres pg17b;
    static LocalPostgres pg18;
    static ProxyServer proxy;
    static int deadPort;

    @BeforeAll
    static void start() throws Exception {
        pg17 = TestServers.pg17();
        pg17b = TestServers.pg17b();
        pg18 = TestServers.pg18();
        try (ServerSocket s = new ServerSocket(0)) {
            deadPort = s.getLocalPort();
        }
        StaticRouter router = StaticRouter.empty()
                .put("app17", backend(pg17).user(TestServers.ALICE).build())
                .put(TestServers.ALICE, backend(pg17).build())
                .put(TestServers.BOB, backend(pg17b).build())
                .put("alice18", backend(pg18).user(TestServers.ALICE).build())
                .put("lab_user", backend(pg17).user(TestServers.ALICE).database(TestServers.LAB).build())
                .put(TestServers.MD5_USER, backend(pg17).build())
                .put("md5_renamed", backend(pg17).user(TestServers.MD5_USER).build())
                .put(TestServers.CLEAR_USER, backend(pg17).build())
                .put(TestServers.TRUST_USER, backend(pg18).build())
                .put("tls_full", backend(pg17).host("localhost").user(TestServers.ALICE)
                        .sslMode(SslMode.VERIFY_FULL).sslRootCert(TestCerts.caCert()).build())
                .put("tls_wrong_ca", backend(pg17).host("localhost").user(TestServers.ALICE)
                        .sslMode(SslMode.VERIFY_FULL).sslRootCert(TestCerts.otherCert()).build())
                .put("plain", backend(pg17).user(TestServers.ALICE).build())
                .put("down", BackendConfig.of("127.0.0.1", deadPort, TestServers.ALICE));
        proxy = new ProxyServer("127.0.0.1:0", router)
                .withTls(TlsConfig.fromPemFiles(TestCerts.serverCert(), TestCerts.serverKey()))
                .withLimits(Limits.DEFAULT.withBackendConnectTimeout(Duration.ofSeconds(2)))
                .start();
    }

    @AfterAll
    static void stop() {
        if (proxy != null) {
            proxy.close(Duration.ofSeconds(2));
        }
    }

    static BackendConfig.Builder backend(LocalPostgres pg) {
        return BackendConfig.builder().host(pg.host()).port(pg.port());
    }

    static Connection connect(String user, String password) throws SQLException {
        return connect(user, password, "postgres", new Properties());
    }

    static Connection connect(String user, String password, String database, Properties extra) throws SQLException {
        Properties p = new Properties();
        p.setProperty("user", user);
        if (password != null) {
            p.setProperty("password", password);
        }
        p.setProperty("sslmode", "disable");
        p.setProperty("connectTimeout", "10");
        p.putAll(extra);
        return DriverManager.getConnection("jdbc:postgresql://127.0.0.1:" + proxy.port() + "/" + database, p);
    }

    static String one(Connection c, String sql) throws SQLException {
        try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery(sql)) {
            assertThat(rs.next()).isTrue();
            return rs.getString(1);
        }
    }

    static String sqlState(ThrowingRunnable r) {
        try {
            r.run();
        } catch (SQLException e) {
            return e.getSQLState();
        } catch (Exception e) {
            throw new AssertionError(e);
        }
        throw new AssertionError("no error");
    }

    interface ThrowingRunnable {
        void run() throws Exception;
    }

    @Test
    void routesUsersToTheirServersAndRewritesTheUser() throws Exception {
        try (Connection c = connect("app17", TestServers.ALICE_PASSWORD)) {
            assertThat(one(c, "select current_user")).isEqualTo(TestServers.ALICE);
            assertThat(one(c, "select server from whoami")).isEqualTo(TestServers.PG17);
        }
        try (Connection c = connect(TestServers.BOB, TestServers.BOB_PASSWORD)) {
            assertThat(one(c, "select current_user")).isEqualTo(TestServers.BOB);
            assertThat(one(c, "select server from whoami")).isEqualTo(TestServers.PG17B);
        }
        try (Connection c = connect("alice18", TestServers.ALICE_PASSWORD)) {
            assertThat(one(c, "select server from whoami")).isEqualTo(TestServers.PG18);
            assertThat(one(c, "show server_version_num")).startsWith("18");
        }
    }

    @Test
    void rewritesTheDatabase() throws Exception {
        try (Connection c = connect("lab_user", TestServers.ALICE_PASSWORD, "whatever", new Properties())) {
            assertThat(one(c, "select current_database()")).isEqualTo(TestServers.LAB);
        }
    }

    @Test
    void relaysEveryPasswordMethod() throws Exception {
        try (Connection c = connect(TestServers.MD5_USER, TestServers.MD5_PASSWORD)) {
            assertThat(one(c, "select current_user")).isEqualTo(TestServers.MD5_USER);
        }
        try (Connection c = connect(TestServers.CLEAR_USER, TestServers.CLEAR_PASSWORD)) {
            assertThat(one(c, "select current_user")).isEqualTo(TestServers.CLEAR_USER);
        }
        try (Connection c = connect(TestServers.TRUST_USER, null)) {
            assertThat(one(c, "select current_user")).isEqualTo(TestServers.TRUST_USER);
        }
        assertThat(sqlState(() -> connect("app17", "wrong").close())).isEqualTo("28P01");
        assertThat(sqlState(() -> connect(TestServers.MD5_USER, "wrong").close())).isEqualTo("28P01");
    }

    @Test
    void md5WithARenamedUserFailsWithAClearMessage() {
        assertThatThrownBy(() -> connect("md5_renamed", TestServers.MD5_PASSWORD).close())
                .isInstanceOf(SQLException.class)
                .hasMessageContaining("MD5")
                .satisfies(e -> assertThat(((SQLException) e).getSQLState()).isEqualTo("28000"));
    }

    @Test
    void unknownUserAndUnreachableBackendGetErrors() {
        assertThatThrownBy(() -> connect("nobody_here", "x").close())
                .isInstanceOf(SQLException.class)
                .hasMessageContaining("no route for user \"nobody_here\"")
                .satisfies(e -> assertThat(((SQLException) e).getSQLState()).isEqualTo("28000"));
        long t0 = System.nanoTime();
        assertThatThrownBy(() -> connect("down", "x").close())
                .isInstanceOf(SQLException.class)
                .hasMessageContaining("could not connect to the backend server")
                .hasMessageNotContaining(String.valueOf(deadPort))
                .satisfies(e -> assertThat(((SQLException) e).getSQLState()).isEqualTo("08006"));
        assertThat(Duration.ofNanos(System.nanoTime() - t0)).isLessThan(Duration.ofSeconds(5));
    }

    @Test
    void tlsOnBothHops() throws Exception {
        Properties tls = new Properties();
        tls.setProperty("sslmode", "verify-full");
        tls.setProperty("sslrootcert", TestCerts.caCert().toString());
        // TLS ends at pgmux, so SCRAM channel binding cannot reach the backend: the client turns it off.
        tls.setProperty("channelBinding", "disable");
        Properties p = new Properties();
        p.setProperty("user", "tls_full");
        p.setProperty("password", TestServers.ALICE_PASSWORD);
        p.putAll(tls);
        try (Connection c = DriverManager.getConnection("jdbc:postgresql://localhost:" + proxy.port() + "/postgres", p)) {
            assertThat(one(c, "select ssl from pg_stat_ssl where pid = pg_backend_pid()")).isEqualTo("t");
            assertThat(one(c, "select current_user")).isEqualTo(TestServers.ALICE);
        }
        // A TLS client that keeps channel binding on gets a clear FATAL, not a hang.
        p.remove("channelBinding");
        assertThatThrownBy(() -> DriverManager.getConnection("jdbc:postgresql://localhost:" + proxy.port() + "/postgres", p).close())
                .isInstanceOf(SQLException.class).hasMessageContaining("channel binding");
        // The default sslmode is disable: plain TCP toward the backend.
        try (Connection c = connect("plain", TestServers.ALICE_PASSWORD)) {
            assertThat(one(c, "select ssl from pg_stat_ssl where pid = pg_backend_pid()")).isEqualTo("f");
        }
        assertThatThrownBy(() -> connect("tls_wrong_ca", TestServers.ALICE_PASSWORD).close())
                .isInstanceOf(SQLException.class)
                .satisfies(e -> assertThat(((SQLException) e).getSQLState()).isEqualTo("08006"));
    }

    @Test
    void extendedProtocolAndServerPreparedStatements() throws Exception {
        Properties p = new Properties();
        p.setProperty("prepareThreshold", "1");
        try (Connection c = connect("app17", TestServers.ALICE_PASSWORD, "postgres", p)) {
            try (Statement s = c.createStatement()) {
                s.execute("create temp table items(id int primary key, name text)");
            }
            try (PreparedStatement ps = c.prepareStatement("insert into items values (?, ?)")) {
                for (int i = 0; i < 500; i++) {
                    ps.setInt(1, i);
                    ps.setString(2, "item " + i);
                    ps.addBatch();
                }
                ps.executeBatch();
            }
            try (PreparedStatement ps = c.prepareStatement("select name from items where id = ?")) {
                for (int i = 0; i < 20; i++) {
                    ps.setInt(1, i * 7);
                    try (ResultSet rs = ps.executeQuery()) {
                        assertThat(rs.next()).isTrue();
                        assertThat(rs.getString(1)).isEqualTo("item " + (i * 7));
                    }
                }
            }
            assertThat(one(c, "select count(*) from items")).isEqualTo("500");
            // An error inside a pipelined batch must leave the session usable.
            assertThat(sqlState(() -> one(c, "select 1/0"))).isEqualTo("22012");
            assertThat(one(c, "select 42")).isEqualTo("42");
        }
    }

    @Test
    void copyInAndOutKeepsEveryByte() throws Exception {
        try (Connection c = connect("app17", TestServers.ALICE_PASSWORD)) {
            try (Statement s = c.createStatement()) {
                s.execute("create temp table blob_lines(n int, line text)");
            }
            StringBuilder sb = new StringBuilder();
            for (int i = 0; i < 200_000; i++) {
                sb.append(i).append('\t').append("line ").append(i).append(" é ü \\\\ ").append(Integer.toHexString(i * 31)).append('\n');
            }
            byte[] data = sb.toString().getBytes(java.nio.charset.StandardCharsets.UTF_8);
            CopyManager copy = c.unwrap(PGConnection.class).getCopyAPI();
            long rows = copy.copyIn("copy blob_lines from stdin", new ByteArrayInputStream(data));
            assertThat(rows).isEqualTo(200_000);
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            copy.copyOut("copy (select * from blob_lines order by n) to stdout", out);
            assertThat(sha256(out.toByteArray())).isEqualTo(sha256(data));
        }
    }

    @Test
    void listenNotify() throws Exception {
        try (Connection listener = connect("app17", TestServers.ALICE_PASSWORD);
             Connection notifier = connect("app17", TestServers.ALICE_PASSWORD)) {
            try (Statement s = listener.createStatement()) {
                s.execute("listen pgmux_channel");
            }
            try (Statement s = notifier.createStatement()) {
                s.execute("notify pgmux_channel, 'hello through pgmux'");
            }
            PGNotification[] got = listener.unwrap(PGConnection.class).getNotifications(5000);
            assertThat(got).isNotNull().hasSize(1);
            assertThat(got[0].getName()).isEqualTo("pgmux_channel");
            assertThat(got[0].getParameter()).isEqualTo("hello through pgmux");
            // The process id in the cancel key is the backend's, as PostgreSQL gives it: clients compare it with
            // pg_backend_pid() and with a notification's sender to skip their own notifications.
            int notifierPid = notifier.unwrap(PGConnection.class).getBackendPID();
            assertThat(got[0].getPID()).isEqualTo(notifierPid);
            assertThat(one(notifier, "select pg_backend_pid()")).isEqualTo(Integer.toString(notifierPid));
            try (Statement s = listener.createStatement()) {
                s.execute("notify pgmux_channel, 'to myself'");
            }
            PGNotification[] own = listener.unwrap(PGConnection.class).getNotifications(5000);
            assertThat(own).hasSize(1);
            assertThat(own[0].getPID()).isEqualTo(listener.unwrap(PGConnection.class).getBackendPID());
        }
    }

    @Test
    void cancelReachesTheRightBackend() throws Exception {
        try (Connection c = connect("app17", TestServers.ALICE_PASSWORD); Statement s = c.createStatement()) {
            ExecutorService ex = Executors.newSingleThreadExecutor();
            try {
                long t0 = System.nanoTime();
                Future<String> state = ex.submit(() -> sqlState(() -> s.execute("select pg_sleep(30)")));
                PgStatActivity.awaitRunning(pg17, c.unwrap(PGConnection.class).getBackendPID(), "select pg_sleep(30)");
                s.cancel();
                assertThat(state.get()).isEqualTo("57014");
                assertThat(Duration.ofNanos(System.nanoTime() - t0)).isLessThan(Duration.ofSeconds(10));
                assertThat(one(c, "select 'still usable'")).isEqualTo("still usable");
            } finally {
                ex.shutdownNow();
            }
        }
    }

    @Test
    void largeValuesStreamBothWays() throws Exception {
        int size = 100 * 1024 * 1024;
        try (Connection c = connect("app17", TestServers.ALICE_PASSWORD)) {
            try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery("select repeat('x', " + size + ")")) {
                assertThat(rs.next()).isTrue();
                assertThat(rs.getString(1)).hasSize(size);
            }
            String big = "y".repeat(20 * 1024 * 1024);
            try (PreparedStatement ps = c.prepareStatement("select length(?), md5(?)")) {
                ps.setString(1, big);
                ps.setString(2, big);
                try (ResultSet rs = ps.executeQuery()) {
                    assertThat(rs.next()).isTrue();
                    assertThat(rs.getInt(1)).isEqualTo(big.length());
                    assertThat(rs.getString(2)).isEqualTo(HexFormat.of().formatHex(
                            MessageDigest.getInstance("MD5").digest(big.getBytes())));
                }
            }
        }
    }

    @Test
    void manyConcurrentClients() throws Exception {
        int clients = 200;
        ExecutorService ex = Executors.newFixedThreadPool(50);
        try {
            List<Future<String>> results = new ArrayList<>();
            for (int i = 0; i < clients; i++) {
                String user = i % 2 == 0 ? "app17" : TestServers.BOB;
                String password = i % 2 == 0 ? TestServers.ALICE_PASSWORD : TestServers.BOB_PASSWORD;
                results.add(ex.submit(() -> {
                    try (Connection c = connect(user, password)) {
                        return one(c, "select server from whoami");
                    }
                }));
            }
            int i = 0;
            for (Future<String> f : results) {
                assertThat(f.get()).isEqualTo(i++ % 2 == 0 ? TestServers.PG17 : TestServers.PG17B);
            }
        } finally {
            ex.shutdownNow();
        }
    }

    static String sha256(byte[] data) throws Exception {
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(data));
    }
}
