package dev.pgmux.routing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import dev.pgmux.BackendConfig;
import dev.pgmux.LoadBalanceHosts;
import dev.pgmux.ProxyServer;
import dev.pgmux.RoleCheck;
import dev.pgmux.Router;
import dev.pgmux.StaticRouter;
import dev.pgmux.TargetSessionAttrs;
import dev.pgmux.config.ConfigSource;
import dev.pgmux.config.ServerConfig;
import dev.pgmux.embedded.LocalPostgres;
import dev.pgmux.testing.RawClient;
import dev.pgmux.testing.TestServers;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Backends with several hosts, against real servers: a primary, a hot standby copied from it, and a second
 * primary. A host that refuses, is stopped, or is refusing new connections while it shuts down is passed over;
 * {@code target_session_attrs} picks the primary or the standby from what the servers report
 * ({@code in_hot_standby}); {@code load_balance_hosts} spreads connections. Each test has a proxy of its own, so
 * that what one proxy has learnt of the hosts' roles does not leak into the next test.
 */
class HostListIT {
    static LocalPostgres primary;
    static LocalPostgres standby;
    static LocalPostgres other;
    ProxyServer proxy;

    @TempDir
    static Path dir;

    @BeforeAll
    static void start() {
        primary = server();
        standby = primary.standby();
        other = server();
    }

    static LocalPostgres server() {
        return LocalPostgres.builder().version("17").superuserPassword(TestServers.SUPERUSER_PASSWORD)
                .user(TestServers.ALICE, TestServers.ALICE_PASSWORD, "scram-sha-256").start();
    }

    @AfterAll
    static void stop() {
        for (LocalPostgres pg : new LocalPostgres[] {other, standby, primary}) {
            if (pg != null) {
                pg.close();
            }
        }
    }

    @AfterEach
    void closeProxy() {
        if (proxy != null) {
            proxy.close(Duration.ofSeconds(2));
        }
    }

    int proxy(Router router) throws Exception {
        proxy = new ProxyServer("127.0.0.1:0", router).start();
        return proxy.port();
    }

    int proxy(BackendConfig backend) throws Exception {
        return proxy(StaticRouter.of(Map.of(TestServers.ALICE, backend)));
    }

    static BackendConfig.Builder hosts(LocalPostgres... servers) {
        BackendConfig.Builder b = BackendConfig.builder();
        for (LocalPostgres pg : servers) {
            b.addHost(LocalPostgres.HOST, pg.port());
        }
        return b;
    }

    static Connection connect(int port) throws SQLException {
        return connect(port, new Properties());
    }

    static Connection connect(int port, Properties extra) throws SQLException {
        Properties p = new Properties();
        p.putAll(extra);
        p.setProperty("user", TestServers.ALICE);
        p.setProperty("password", TestServers.ALICE_PASSWORD);
        p.setProperty("sslmode", "disable");
        p.setProperty("connectTimeout", "20");
        return DriverManager.getConnection("jdbc:postgresql://127.0.0.1:" + port + "/postgres", p);
    }

    /** The port of the server a new connection through the proxy lands on. */
    static int landsOn(int port) throws SQLException {
        try (Connection c = connect(port); Statement s = c.createStatement();
             ResultSet rs = s.executeQuery("select inet_server_port()")) {
            rs.next();
            return rs.getInt(1);
        }
    }

    static int deadPort() throws Exception {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }

    @Test
    void aHostThatRefusesConnectionsIsPassedOver() throws Exception {
        int port = proxy(BackendConfig.builder().addHost("127.0.0.1", deadPort())
                .addHost("no-such-host.invalid", 5432).addHost(LocalPostgres.HOST, primary.port()).build());
        assertThat(landsOn(port)).isEqualTo(primary.port());
    }

    @Test
    void whenEveryHostFailsTheClientGetsOneConnectionFailure() throws Exception {
        int port = proxy(BackendConfig.builder().addHost("127.0.0.1", deadPort()).addHost("127.0.0.1", deadPort())
                .build());
        SQLException e = catchThrowableOfType(SQLException.class, () -> landsOn(port));
        assertThat(e.getSQLState()).isEqualTo("08006");
        assertThat(e.getMessage()).contains("could not connect to the backend server");
    }

    @Test
    void aStoppedServerFailsOverToTheNextHostAndBack() throws Exception {
        int port = proxy(hosts(other, primary).build());
        assertThat(landsOn(port)).isEqualTo(other.port());
        other.stop();
        try {
            assertThat(landsOn(port)).isEqualTo(primary.port());
        } finally {
            other.restart();
        }
        assertThat(landsOn(port)).isEqualTo(other.port());
    }

    @Test
    void aServerThatIsShuttingDownRefusesBeforeAuthenticationAndIsPassedOver() throws Exception {
        int port = proxy(hosts(other, primary).build());
        // A smart shutdown waits for this session to end and meanwhile refuses new ones with 57P03 — before
        // asking for a password, so the client has not taken part yet.
        try (Connection held = other.connect("postgres", TestServers.ALICE, TestServers.ALICE_PASSWORD)) {
            beginSmartShutdown(other);
            assertThat(landsOn(port)).isEqualTo(primary.port());
        } finally {
            other.restart();
        }
        assertThat(landsOn(port)).isEqualTo(other.port());
    }

    /** Begins a smart shutdown and waits until the server refuses new sessions (the signal takes a moment). */
    static void beginSmartShutdown(LocalPostgres pg) throws InterruptedException {
        pg.beginSmartShutdown();
        long end = System.nanoTime() + java.util.concurrent.TimeUnit.SECONDS.toNanos(20);
        while (true) {
            try {
                pg.connect("postgres", TestServers.ALICE, TestServers.ALICE_PASSWORD).close();
            } catch (SQLException e) {
                if ("57P03".equals(e.getSQLState())) {
                    return;
                }
            }
            if (System.nanoTime() > end) {
                throw new AssertionError("the server did not begin to shut down");
            }
            Thread.sleep(20);
        }
    }

    @Test
    void theLastHostsRefusalReachesTheClientAsTheServerSentIt() throws Exception {
        int port = proxy(BackendConfig.builder().addHost("127.0.0.1", deadPort())
                .addHost(LocalPostgres.HOST, other.port()).build());
        try (Connection held = other.connect("postgres", TestServers.ALICE, TestServers.ALICE_PASSWORD)) {
            beginSmartShutdown(other);
            SQLException e = catchThrowableOfType(SQLException.class, () -> landsOn(port));
            assertThat(e.getSQLState()).isEqualTo("57P03");
        } finally {
            other.restart();
        }
    }

    @Test
    void bytesAClientSentBeforeTheFirstHostRefusedReachTheNextHost() throws Exception {
        // A first host that reads the startup message, waits, then refuses before authentication (57P03).
        try (java.net.ServerSocket refusing = new java.net.ServerSocket(0, 5, java.net.InetAddress.getLoopbackAddress())) {
            Thread.ofVirtual().start(() -> {
                try (java.net.Socket s = refusing.accept()) {
                    java.io.DataInputStream in = new java.io.DataInputStream(s.getInputStream());
                    in.readNBytes(in.readInt() - 4);
                    Thread.sleep(500);
                    byte[] fields = "SFATAL\0C57P03\0Mthe database system is starting up\0\0".getBytes(StandardCharsets.UTF_8);
                    java.io.DataOutputStream out = new java.io.DataOutputStream(s.getOutputStream());
                    out.writeByte('E');
                    out.writeInt(4 + fields.length);
                    out.write(fields);
                    out.flush();
                    s.getInputStream().readAllBytes();
                } catch (Exception e) {
                    // the proxy went on
                }
            });
            LocalPostgres trust = TestServers.pg17();
            int port = proxy(BackendConfig.builder().addHost("127.0.0.1", refusing.getLocalPort())
                    .addHost(trust.host(), trust.port()).user(TestServers.TRUST_USER).build());
            try (RawClient c = new RawClient("127.0.0.1", port)) {
                c.setTimeout(10_000);
                c.startup(0, RawClient.params("user", TestServers.ALICE, "database", "postgres"));
                Thread.sleep(150); // pgmux is waiting for the first host's answer now
                c.query("select 'pipelined' as x");
                c.readUntil('Z'); // the login on the second host
                RawClient.Message row = c.readUntil('D');
                assertThat(new String(row.body(), StandardCharsets.UTF_8)).contains("pipelined");
                c.readUntil('Z');
            }
        }
    }

    @Test
    void readWriteSkipsTheStandbyOnceItsRoleIsKnown() throws Exception {
        int port = proxy(hosts(standby, primary).targetSessionAttrs(TargetSessionAttrs.READ_WRITE).build());
        // Nothing is known of the standby yet, so the first session may reach it, and, having authenticated
        // there, cannot move: it ends with 08001, as libpq ends when no host fits.
        SQLException first = catchThrowableOfType(SQLException.class, () -> landsOn(port));
        assertThat(first.getSQLState()).isEqualTo("08001");
        assertThat(first.getMessage()).contains("target_session_attrs=read-write", "hot standby");
        for (int i = 0; i < 5; i++) {
            assertThat(landsOn(port)).isEqualTo(primary.port());
        }
    }

    @Test
    void aSessionThatMakesItselfReadOnlyDoesNotMarkTheHostReadOnly() throws Exception {
        int port = proxy(hosts(other, primary).targetSessionAttrs(TargetSessionAttrs.READ_WRITE).build());
        Properties readOnly = new Properties();
        readOnly.setProperty("options", "-c default_transaction_read_only=on");
        SQLException e = catchThrowableOfType(SQLException.class, () -> connect(port, readOnly).close());
        assertThat(e.getSQLState()).as("its own session is read-only").isEqualTo("08001");
        // other clients still go to the first host: its role was not taken from that session's setting
        assertThat(landsOn(port)).isEqualTo(other.port());
    }

    @Test
    void standbyAndPreferStandbyFindTheStandby() throws Exception {
        int port = proxy(hosts(primary, standby).targetSessionAttrs(TargetSessionAttrs.STANDBY).build());
        SQLException first = catchThrowableOfType(SQLException.class, () -> landsOn(port));
        assertThat(first.getSQLState()).isEqualTo("08001");
        assertThat(landsOn(port)).isEqualTo(standby.port());
        proxy.close(Duration.ofSeconds(2));

        // prefer-standby takes the first host it reaches when it knows no standby, and tries hosts of unknown
        // role before known primaries, so it soon finds the standby and then stays with it.
        int prefer = proxy(hosts(primary, standby).targetSessionAttrs(TargetSessionAttrs.PREFER_STANDBY).build());
        assertThat(landsOn(prefer)).isEqualTo(primary.port());
        assertThat(landsOn(prefer)).isEqualTo(standby.port());
        assertThat(landsOn(prefer)).isEqualTo(standby.port());
    }

    @Test
    void anyAcceptsTheStandbyAndReadOnlyAcceptsIt() throws Exception {
        int port = proxy(hosts(standby, primary).build());
        assertThat(landsOn(port)).isEqualTo(standby.port());
        proxy.close(Duration.ofSeconds(2));
        int readOnly = proxy(hosts(standby, primary).targetSessionAttrs(TargetSessionAttrs.READ_ONLY).build());
        assertThat(landsOn(readOnly)).isEqualTo(standby.port());
    }

    @Test
    void roundRobinSpreadsConnectionsOverTheHosts() throws Exception {
        int port = proxy(hosts(primary, other).loadBalanceHosts(LoadBalanceHosts.ROUND_ROBIN).build());
        List<Integer> seen = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            seen.add(landsOn(port));
        }
        assertThat(seen).containsExactly(primary.port(), other.port(), primary.port(), other.port());
    }

    @Test
    void withARoleCheckEvenTheFirstSessionLandsOnAFittingHost() throws Exception {
        RoleCheck check = new RoleCheck(TestServers.SUPERUSER, TestServers.SUPERUSER_PASSWORD, null);
        proxy = new ProxyServer("127.0.0.1:0", StaticRouter.of(Map.of(TestServers.ALICE,
                hosts(standby, primary).targetSessionAttrs(TargetSessionAttrs.READ_WRITE).build())))
                .withRoleCheck(check).start();
        assertThat(landsOn(proxy.port())).isEqualTo(primary.port());
        proxy.close(Duration.ofSeconds(2));
        proxy = new ProxyServer("127.0.0.1:0", StaticRouter.of(Map.of(TestServers.ALICE,
                hosts(primary, standby).targetSessionAttrs(TargetSessionAttrs.STANDBY).build())))
                .withRoleCheck(check).start();
        assertThat(landsOn(proxy.port())).isEqualTo(standby.port());
    }

    @Test
    void aRoleCheckThatCannotLogInLeavesTheRoleToTheSessions() throws Exception {
        proxy = new ProxyServer("127.0.0.1:0", StaticRouter.of(Map.of(TestServers.ALICE,
                hosts(standby, primary).targetSessionAttrs(TargetSessionAttrs.READ_WRITE).build())))
                .withRoleCheck(new RoleCheck(TestServers.SUPERUSER, "wrong password", null))
                .start();
        SQLException first = catchThrowableOfType(SQLException.class, () -> landsOn(proxy.port()));
        assertThat(first.getSQLState()).isEqualTo("08001");
        assertThat(landsOn(proxy.port())).isEqualTo(primary.port());
    }

    @Test
    void hostsAndTargetSessionAttrsFromTheConfigFile() throws Exception {
        Path config = dir.resolve("pgmux.yaml");
        Files.writeString(config, """
                routes:
                  alice:
                    hosts: ["127.0.0.1:%d", "127.0.0.1:%d"]
                    target_session_attrs: primary
                role_check:
                  user: postgres
                  password_env: CHECK_PASSWORD
                """.formatted(standby.port(), primary.port()));
        ServerConfig c = new ConfigSource(config, Map.of("CHECK_PASSWORD", TestServers.SUPERUSER_PASSWORD), List.of())
                .load();
        proxy = new ProxyServer("127.0.0.1:0", c.routing().build()).withRoleCheck(c.roleCheck()).start();
        assertThat(landsOn(proxy.port())).isEqualTo(primary.port());
        // and the flags' one-line notation
        BackendConfig b = BackendSpec.fromNotation(
                "127.0.0.1:%d,127.0.0.1:%d?target_session_attrs=standby&load_balance_hosts=random"
                        .formatted(primary.port(), standby.port())).toBackendConfig();
        assertThat(b.hosts()).hasSize(2);
        assertThat(b.targetSessionAttrs()).isEqualTo(TargetSessionAttrs.STANDBY);
        assertThat(b.loadBalanceHosts()).isEqualTo(LoadBalanceHosts.RANDOM);
    }
}
