package dev.pgmux;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.pgmux.embedded.LocalPostgres;
import dev.pgmux.testing.PgStatActivity;
import dev.pgmux.testing.RawClient;
import dev.pgmux.testing.TestCerts;
import dev.pgmux.testing.TestServers;
import java.io.IOException;
import java.net.ServerSocket;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Clients on the Unix-domain socket {@code DIR/.s.PGSQL.PORT}: psql and a raw client log in and query, SSLRequest
 * gets 'N' even where TCP clients must use TLS, the router sees no client address, cancel requests arrive on the
 * socket, per-address limits leave such clients alone; and the socket file's life: its mode, a stale file replaced,
 * a running pgmux's socket taken over and left to it, anything else refused.
 */
@Timeout(value = 2, unit = TimeUnit.MINUTES)
class UnixSocketIT {
    static LocalPostgres pg;

    @TempDir
    Path dir;

    final List<RouteRequest> routed = new CopyOnWriteArrayList<>();
    final List<ProxyServer> proxies = new ArrayList<>();

    @BeforeAll
    static void servers() {
        pg = TestServers.pg17();
    }

    @AfterEach
    void stop() {
        proxies.forEach(p -> p.close(Duration.ofSeconds(1)));
    }

    Router router() {
        return request -> {
            routed.add(request);
            return BackendConfig.builder().host(pg.host()).port(pg.port()).build();
        };
    }

    ProxyServer start(ProxyServer proxy) throws IOException {
        proxies.add(proxy);
        return proxy.start();
    }

    Path socket(ProxyServer proxy) {
        return dir.resolve(".s.PGSQL." + proxy.port());
    }

    @Test
    void psqlConnectsThroughTheDirectoryEvenWhereTcpClientsNeedTls() throws Exception {
        assumeTrue(PsqlIT.onPath("psql"), "psql is not installed");
        ProxyServer proxy = start(new ProxyServer("127.0.0.1:0", router()).withUnixSocketDir(dir)
                .withTls(TlsConfig.fromPemFiles(TestCerts.serverCert(), TestCerts.serverKey()).withRequired(true)));
        assertThat(proxy.unixSocketPaths()).containsExactly(socket(proxy));

        // sslmode=prefer (libpq's default) sends SSLRequest first: 'N' here, as PostgreSQL answers on a local socket.
        String out = psql("host=" + dir + " port=" + proxy.port() + " user=alice dbname=lab sslmode=prefer",
                "select current_user, current_database(), (select server from whoami)");
        assertThat(out).isEqualTo("alice|lab|" + TestServers.PG17);
        assertThat(routed).singleElement().satisfies(r -> {
            assertThat(r.clientAddress()).as("no address, as client_addr is NULL in PostgreSQL").isNull();
            assertThat(r.tls()).isFalse();
            assertThat(r.user()).isEqualTo("alice");
        });
        assertThatThrownBy(() -> psql("host=127.0.0.1 port=" + proxy.port() + " user=alice dbname=lab sslmode=disable",
                "select 1")).as("TCP without TLS").hasMessageContaining("SSL connection is required");
        assertThat(Files.getPosixFilePermissions(socket(proxy))).isEqualTo(PosixFilePermissions.fromString("rwxrwxrwx"));
    }

    @ParameterizedTest
    @ValueSource(strings = {"epoll", "nio"})
    void aRawClientLogsInQueriesAndCancelsOnTheSocket(String transport) throws Exception {
        ProxyServer proxy = new ProxyServer("127.0.0.1:0", router()).withUnixSocketDir(dir)
                .withLimits(Limits.DEFAULT.withMaxConnectionsPerIp(1));
        if (transport.equals("nio")) {
            proxy.withNioTransport();
        }
        start(proxy);
        Path socket = socket(proxy);
        try (RawClient first = RawClient.unix(socket); RawClient second = RawClient.unix(socket)) {
            first.send(sslRequestPacket());
            assertThat((char) first.readByte()).isEqualTo('N');
            int[] key = first.loginWithoutPassword(TestServers.TRUST_USER, "postgres");
            // A second client "from the same address": Unix clients have none to count.
            second.loginWithoutPassword(TestServers.TRUST_USER, "postgres");
            second.query("select 'second'");
            assertThat(new String(second.readUntil('D').body(), StandardCharsets.UTF_8)).contains("second");
            second.readUntil('Z');

            first.query("select pg_sleep(30)");
            PgStatActivity.awaitRunning(pg, "select pg_sleep(30)");
            RawClient.sendCancel(socket, key[0], new byte[] {(byte) (key[1] >>> 24), (byte) (key[1] >>> 16),
                    (byte) (key[1] >>> 8), (byte) key[1]});
            RawClient.Message error = first.readUntil('E');
            assertThat(error.field('C')).isEqualTo("57014");
            first.readUntil('Z');
        }
        assertThat(routed).hasSize(2).allSatisfy(r -> assertThat(r.clientAddress()).isNull());
        assertThat(proxy.stats().cancels()).isEqualTo(1);
    }

    @Test
    void theModeIsSetAndTheFileRemovedAtClose() throws Exception {
        ProxyServer proxy = start(new ProxyServer("127.0.0.1:0", router()).withUnixSocketDir(dir, 0660));
        Path socket = socket(proxy);
        assertThat(Files.getPosixFilePermissions(socket)).isEqualTo(PosixFilePermissions.fromString("rw-rw----"));
        try (var files = Files.list(dir)) {
            assertThat(files.map(p -> p.getFileName().toString())).as("no temporary name left")
                    .containsExactly(socket.getFileName().toString());
        }
        proxy.close(Duration.ofSeconds(1));
        assertThat(socket).doesNotExist();
    }

    @Test
    void aStaleSocketFileIsReplaced() throws Exception {
        int port = freePort();
        Path socket = dir.resolve(".s.PGSQL." + port);
        try (ServerSocketChannel crashed = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
            crashed.bind(UnixDomainSocketAddress.of(socket)); // closing it leaves the file, as a killed process does
        }
        assertThat(socket).exists();
        ProxyServer proxy = start(new ProxyServer("127.0.0.1:" + port, router()).withUnixSocketDir(dir));
        try (RawClient c = RawClient.unix(socket)) {
            c.loginWithoutPassword(TestServers.TRUST_USER, "postgres");
        }
        assertThat(routed).hasSize(1);
        proxy.close(Duration.ofSeconds(1));
        assertThat(socket).doesNotExist();
    }

    @Test
    void aSecondProxyTakesTheSocketOverAndTheFirstLeavesItAtClose() throws Exception {
        int port = freePort();
        List<RouteRequest> first = new CopyOnWriteArrayList<>();
        List<RouteRequest> second = new CopyOnWriteArrayList<>();
        ProxyServer old = start(new ProxyServer("127.0.0.1:" + port, recording(first)).withUnixSocketDir(dir));
        Path socket = socket(old);
        Object oldInode = Files.getAttribute(socket, "unix:ino");
        // The same address and port: SO_REUSEPORT lets the second proxy bind while the first listens.
        ProxyServer next = start(new ProxyServer("127.0.0.1:" + port, recording(second)).withUnixSocketDir(dir));
        assertThat(Files.getAttribute(socket, "unix:ino")).as("renamed over the old one").isNotEqualTo(oldInode);

        try (RawClient c = RawClient.unix(socket)) {
            c.loginWithoutPassword(TestServers.TRUST_USER, "postgres");
        }
        assertThat(second).hasSize(1);
        assertThat(first).isEmpty();

        old.close(Duration.ofSeconds(1));
        assertThat(socket).as("the first proxy left the second's socket").exists();
        try (RawClient c = RawClient.unix(socket)) {
            c.loginWithoutPassword(TestServers.TRUST_USER, "postgres");
        }
        assertThat(second).hasSize(2);
        next.close(Duration.ofSeconds(1));
        assertThat(socket).doesNotExist();
    }

    @Test
    void aPathThatIsNotASocketOrAnotherUsersLiveSocketIsRefused() throws Exception {
        int port = freePort();
        Path socket = dir.resolve(".s.PGSQL." + port);
        Files.writeString(socket, "not a socket");
        assertThatThrownBy(() -> start(new ProxyServer("127.0.0.1:" + port, router()).withUnixSocketDir(dir)))
                .isInstanceOf(IOException.class).hasMessageContaining("exists and is not a socket");
        assertThat(Files.readString(socket)).isEqualTo("not a socket");
        Files.delete(socket);

        assumeTrue("root".equals(System.getProperty("user.name")), "needs root to give the socket another owner");
        try (ServerSocketChannel postgres = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
            postgres.bind(UnixDomainSocketAddress.of(socket)); // a live socket, as PostgreSQL's own
            Files.setAttribute(socket, "unix:uid", 65534, LinkOption.NOFOLLOW_LINKS);
            assertThatThrownBy(() -> start(new ProxyServer("127.0.0.1:" + port, router()).withUnixSocketDir(dir)))
                    .isInstanceOf(IOException.class).hasMessageContaining("another user's process listens on");
            assertThat(Files.getAttribute(socket, "unix:uid")).isEqualTo(65534);
        }
        try (var files = Files.list(dir)) {
            assertThat(files.map(p -> p.getFileName().toString())).containsExactly(socket.getFileName().toString());
        }
    }

    // ---------------------------------------------------------------- helpers

    static Router recording(List<RouteRequest> into) {
        return request -> {
            into.add(request);
            return BackendConfig.builder().host(pg.host()).port(pg.port()).build();
        };
    }

    static byte[] sslRequestPacket() {
        return new byte[] {0, 0, 0, 8, 0x04, (byte) 0xD2, 0x16, 0x2F};
    }

    static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }

    static String psql(String conninfo, String sql) throws Exception {
        ProcessBuilder pb = new ProcessBuilder("psql", "-X", "-v", "ON_ERROR_STOP=1", "-At", conninfo, "-c", sql)
                .redirectErrorStream(true);
        pb.environment().put("PGPASSWORD", TestServers.ALICE_PASSWORD);
        pb.environment().put("PGCONNECT_TIMEOUT", "10");
        Process p = pb.start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
        assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
        if (p.exitValue() != 0) {
            throw new IllegalStateException(out);
        }
        return out;
    }
}
