package dev.pgmux;

import static dev.pgmux.testing.ProxyHeaderBytes.authority;
import static dev.pgmux.testing.ProxyHeaderBytes.concat;
import static dev.pgmux.testing.ProxyHeaderBytes.v1;
import static dev.pgmux.testing.ProxyHeaderBytes.v2;
import static dev.pgmux.testing.ProxyHeaderBytes.v2Local;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import dev.pgmux.embedded.LocalPostgres;
import dev.pgmux.listen.ProxyHeaders;
import dev.pgmux.testing.Await;
import dev.pgmux.testing.Haproxy;
import dev.pgmux.testing.PgStatActivity;
import dev.pgmux.testing.RawClient;
import dev.pgmux.testing.TestServers;
import java.io.DataOutputStream;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
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
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.LoggerFactory;

/**
 * pgmux behind a load balancer that sends PROXY protocol headers: hand-made v1 and v2 headers from a trusted address
 * (the header's address is the one the router sees, per-address limits count and cancel requests come with; a v2
 * authority TLV is the router's SNI; LOCAL keeps the real address), broken ones (truncated, oversized, garbage, none
 * at all) closed with a log line, a header from an untrusted address refused; and Debian's haproxy with
 * {@code send-proxy-v2} in front, where it is installed.
 */
@Timeout(value = 2, unit = TimeUnit.MINUTES)
class ProxyProtocolIT {
    static LocalPostgres pg;

    final List<RouteRequest> routed = new CopyOnWriteArrayList<>();
    final List<ProxyServer> proxies = new ArrayList<>();
    final ListAppender<ILoggingEvent> logs = new ListAppender<>();

    @BeforeAll
    static void servers() {
        pg = TestServers.pg17();
    }

    @BeforeEach
    void captureLogs() {
        logs.start();
        ((Logger) LoggerFactory.getLogger(ProxyHeaders.class)).addAppender(logs);
    }

    @AfterEach
    void stop() {
        ((Logger) LoggerFactory.getLogger(ProxyHeaders.class)).detachAppender(logs);
        proxies.forEach(p -> p.close(Duration.ofSeconds(1)));
    }

    /** A proxy on loopback that trusts {@code trusted} to send headers. */
    ProxyServer proxy(Limits limits, String... trusted) throws IOException {
        ProxyServer proxy = new ProxyServer("127.0.0.1:0", request -> {
            routed.add(request);
            return BackendConfig.builder().host(pg.host()).port(pg.port()).build();
        }).withLimits(limits).withProxyProtocol(ProxyProtocol.trusting(trusted));
        proxies.add(proxy);
        return proxy.start();
    }

    ProxyServer trustingLoopback() throws IOException {
        return proxy(Limits.DEFAULT, "127.0.0.0/8");
    }

    List<String> refusals() {
        return logs.list.stream().map(ILoggingEvent::getFormattedMessage).toList();
    }

    @Test
    void aV1HeadersAddressIsTheClientsForTheRouter() throws Exception {
        ProxyServer proxy = trustingLoopback();
        try (RawClient c = new RawClient("127.0.0.1", proxy.port())) {
            c.send(v1("PROXY TCP4 203.0.113.7 192.0.2.1 4242 5434"));
            c.loginWithoutPassword(TestServers.TRUST_USER, "postgres");
            assertThat(c.queryOne("select 'through a balancer'")).isEqualTo("through a balancer");
        }
        assertThat(routed).singleElement().satisfies(r -> {
            assertThat(r.clientAddress()).isEqualTo(new InetSocketAddress("203.0.113.7", 4242));
            assertThat(r.sniHost()).isNull();
        });
        assertThat(refusals()).isEmpty();
    }

    @Test
    void aV2HeadersAuthorityTlvIsTheRoutersSniHost() throws Exception {
        ProxyServer proxy = trustingLoopback();
        try (RawClient c = new RawClient("127.0.0.1", proxy.port())) {
            // The header and the startup message in one write, as a balancer forwards a client's first bytes.
            c.send(concat(v2("2001:db8::42", 50123, "2001:db8::1", 5434, authority("Acme.DB.example.com")),
                    RawClient.startupPacket(3, 0, RawClient.params("user", TestServers.TRUST_USER,
                            "database", "postgres"))));
            c.readUntil('Z');
        }
        assertThat(routed).singleElement().satisfies(r -> {
            assertThat(r.clientAddress()).isEqualTo(new InetSocketAddress("2001:db8::42", 50123));
            assertThat(r.sniHost()).isEqualTo("acme.db.example.com");
            assertThat(r.tls()).isFalse();
        });
    }

    @Test
    void aV2LocalCommandKeepsTheBalancersOwnAddress() throws Exception {
        ProxyServer proxy = trustingLoopback();
        try (RawClient c = new RawClient("127.0.0.1", proxy.port())) {
            c.send(v2Local());
            c.loginWithoutPassword(TestServers.TRUST_USER, "postgres");
        }
        assertThat(routed).singleElement().satisfies(r ->
                assertThat(r.clientAddress().getAddress().getHostAddress()).isEqualTo("127.0.0.1"));
    }

    @Test
    void perAddressLimitsCountTheHeadersAddress() throws Exception {
        ProxyServer proxy = proxy(Limits.DEFAULT.withMaxConnectionsPerIp(1), "127.0.0.0/8");
        try (RawClient first = new RawClient("127.0.0.1", proxy.port());
             RawClient sameClient = new RawClient("127.0.0.1", proxy.port());
             RawClient otherClient = new RawClient("127.0.0.1", proxy.port())) {
            first.send(v1("PROXY TCP4 198.51.100.1 192.0.2.1 1000 5434"));
            first.loginWithoutPassword(TestServers.TRUST_USER, "postgres");
            sameClient.send(v1("PROXY TCP4 198.51.100.1 192.0.2.1 1001 5434"));
            sameClient.startup(0, RawClient.params("user", TestServers.TRUST_USER, "database", "postgres"));
            RawClient.Message refused = sameClient.readUntil('E');
            assertThat(refused.field('C')).isEqualTo("53300");
            assertThat(refused.field('M')).isEqualTo("sorry, too many connections from this client address");
            // All three come from 127.0.0.1, but the third client is another one behind the balancer.
            otherClient.send(v1("PROXY TCP4 198.51.100.2 192.0.2.1 1000 5434"));
            otherClient.loginWithoutPassword(TestServers.TRUST_USER, "postgres");
        }
    }

    @Test
    void aCancelRequestComesThroughTheBalancerToo() throws Exception {
        ProxyServer proxy = trustingLoopback();
        try (RawClient c = new RawClient("127.0.0.1", proxy.port())) {
            c.send(v1("PROXY TCP4 203.0.113.7 192.0.2.1 4242 5434"));
            int[] key = c.loginWithoutPassword(TestServers.TRUST_USER, "postgres");
            c.query("select pg_sleep(30)");
            PgStatActivity.awaitRunning(pg, "select pg_sleep(30)");
            try (Socket s = new Socket("127.0.0.1", proxy.port());
                 DataOutputStream out = new DataOutputStream(s.getOutputStream())) {
                out.write(v1("PROXY TCP4 203.0.113.7 192.0.2.1 4243 5434"));
                out.writeInt(16);
                out.writeInt(80877102);
                out.writeInt(key[0]);
                out.writeInt(key[1]);
                out.flush();
                assertThat(s.getInputStream().read()).as("closed after the cancel, as PostgreSQL does").isEqualTo(-1);
            }
            assertThat(c.readUntil('E').field('C')).isEqualTo("57014");
            c.readUntil('Z');
        }
        assertThat(proxy.stats().cancels()).isEqualTo(1);
    }

    @Test
    void aTrustedPeerWithoutAHeaderIsClosedWithALogLine() throws Exception {
        ProxyServer proxy = trustingLoopback();
        assertThatThrownBy(() -> jdbc("127.0.0.1", proxy.port(), new Properties()).close())
                .isInstanceOf(SQLException.class);
        assertThat(routed).isEmpty();
        awaitRefusal("reason=\"the connection does not start with a PROXY protocol header\"");
        assertThat(refusals()).allSatisfy(line -> assertThat(line).contains("client=/127.0.0.1:"));
    }

    @Test
    void brokenHeadersAreClosed() throws Exception {
        ProxyServer proxy = proxy(Limits.DEFAULT.withLoginTimeout(Duration.ofSeconds(1)), "127.0.0.0/8");
        try (RawClient garbage = new RawClient("127.0.0.1", proxy.port())) {
            garbage.send("GET / HTTP/1.1\r\nHost: pgmux\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
            assertThat(garbage.closedByServer()).isTrue();
        }
        try (RawClient badAddress = new RawClient("127.0.0.1", proxy.port())) {
            badAddress.send(v1("PROXY TCP4 203.0.113.999 192.0.2.1 4242 5434"));
            assertThat(badAddress.closedByServer()).isTrue();
        }
        try (RawClient oversized = new RawClient("127.0.0.1", proxy.port())) {
            oversized.send(("PROXY TCP4 " + " ".repeat(200)).getBytes(StandardCharsets.US_ASCII));
            assertThat(oversized.closedByServer()).isTrue();
        }
        try (RawClient truncated = new RawClient("127.0.0.1", proxy.port())) {
            byte[] header = v2("198.51.100.1", 1000, "192.0.2.1", 5434);
            truncated.send(java.util.Arrays.copyOf(header, header.length - 4));
            long t0 = System.nanoTime();
            assertThat(truncated.closedByServer()).isTrue();
            assertThat(Duration.ofNanos(System.nanoTime() - t0)).as("closed at the login timeout")
                    .isBetween(Duration.ofMillis(500), Duration.ofSeconds(10));
        }
        assertThat(routed).isEmpty();
        awaitRefusal("no complete PROXY protocol header within 1000 ms");
        assertThat(refusals()).hasSize(4).anySatisfy(l -> assertThat(l).contains("does not start with a PROXY"))
                .anySatisfy(l -> assertThat(l).contains("exceeds the allowed maximum"));
        // pgmux still serves.
        try (RawClient c = new RawClient("127.0.0.1", proxy.port())) {
            c.send(v1("PROXY TCP4 203.0.113.7 192.0.2.1 4242 5434"));
            c.loginWithoutPassword(TestServers.TRUST_USER, "postgres");
        }
    }

    @Test
    void aHeaderFromAnUntrustedAddressIsRefusedWhileOrdinaryClientsThereAreServed() throws Exception {
        ProxyServer proxy = proxy(Limits.DEFAULT, "10.0.0.0/8", "fd00::/8");
        try (RawClient c = new RawClient("127.0.0.1", proxy.port())) {
            c.send(v1("PROXY TCP4 203.0.113.7 192.0.2.1 4242 5434"));
            assertThat(c.closedByServer()).isTrue();
        }
        try (RawClient c = new RawClient("127.0.0.1", proxy.port())) {
            c.send(v2("203.0.113.7", 4242, "192.0.2.1", 5434));
            assertThat(c.closedByServer()).isTrue();
        }
        assertThat(routed).isEmpty();
        awaitRefusal("PROXY protocol header from an address not in proxy_protocol.trusted");
        Await.until(Duration.ofSeconds(5), this::toString, () -> refusals().size() == 2);

        try (Connection c = jdbc("127.0.0.1", proxy.port(), new Properties())) {
            assertThat(one(c, "select 'direct'")).isEqualTo("direct");
        }
        assertThat(routed).singleElement().satisfies(r ->
                assertThat(r.clientAddress().getAddress().getHostAddress()).isEqualTo("127.0.0.1"));
    }

    @Test
    void haproxyWithSendProxyV2(@TempDir Path dir) throws Exception {
        assumeTrue(Haproxy.command() != null, "haproxy is not installed (Debian: haproxy)");
        ProxyServer proxy = trustingLoopback();
        try (Haproxy haproxy = Haproxy.inFrontOf(proxy.port(), dir)) {
            // The client connects from 127.0.0.2; haproxy connects to pgmux from 127.0.0.1.
            Properties from = new Properties();
            from.setProperty("localSocketAddress", "127.0.0.2");
            try (Connection c = jdbc("127.0.0.1", haproxy.port(), from); Statement s = c.createStatement()) {
                assertThat(one(c, "select current_user")).isEqualTo(TestServers.ALICE);
                CompletableFuture<String> sleep = CompletableFuture.supplyAsync(() -> {
                    try {
                        s.execute("select pg_sleep(30)");
                        return "finished";
                    } catch (SQLException e) {
                        return e.getSQLState();
                    }
                });
                PgStatActivity.awaitRunning(pg, "select pg_sleep(30)");
                s.cancel(); // pgjdbc's cancel request goes through haproxy too, from 127.0.0.2
                assertThat(sleep.get(20, TimeUnit.SECONDS)).isEqualTo("57014");
            }
        }
        assertThat(routed).singleElement().satisfies(r -> {
            assertThat(r.clientAddress().getAddress().getHostAddress()).isEqualTo("127.0.0.2");
            assertThat(r.user()).isEqualTo(TestServers.ALICE);
        });
        assertThat(proxy.stats().cancels()).isEqualTo(1);
        assertThat(refusals()).isEmpty();
    }

    // ---------------------------------------------------------------- helpers

    void awaitRefusal(String text) {
        Await.until(Duration.ofSeconds(10), () -> "a log line with " + text + " in " + refusals(),
                () -> refusals().stream().anyMatch(l -> l.contains(text)));
    }

    static Connection jdbc(String host, int port, Properties extra) throws SQLException {
        Properties p = new Properties();
        p.setProperty("user", TestServers.ALICE);
        p.setProperty("password", TestServers.ALICE_PASSWORD);
        p.setProperty("sslmode", "disable");
        p.setProperty("connectTimeout", "10");
        p.setProperty("socketTimeout", "30");
        p.putAll(extra);
        return DriverManager.getConnection("jdbc:postgresql://" + host + ":" + port + "/postgres", p);
    }

    static String one(Connection c, String sql) throws SQLException {
        try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery(sql)) {
            rs.next();
            return rs.getString(1);
        }
    }
}
