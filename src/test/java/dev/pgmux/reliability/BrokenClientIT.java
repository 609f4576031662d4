package dev.pgmux.reliability;

import static dev.pgmux.testing.RawClient.params;
import static org.assertj.core.api.Assertions.assertThat;

import dev.pgmux.BackendConfig;
import dev.pgmux.ProxyServer;
import dev.pgmux.TlsConfig;
import dev.pgmux.embedded.LocalPostgres;
import dev.pgmux.reliability.Peer.End;
import dev.pgmux.reliability.Peer.Message;
import dev.pgmux.reliability.Peer.Reply;
import dev.pgmux.testing.PgStatActivity;
import dev.pgmux.testing.TestCerts;
import dev.pgmux.testing.TestServers;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Arrays;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Clients that break the protocol or vanish after the startup: impossible message lengths, unknown message
 * types, a message cut off by a disconnect, a disconnect in the middle of a query, a COPY, a TLS handshake or
 * an authentication. Each time the session must end promptly, and the backend session with it: no orphan left in
 * {@code pg_stat_activity}, no connection, session or cancel key left in pgmux.
 */
class BrokenClientIT {
    static final Duration PROMPTLY = Duration.ofSeconds(5);
    static final AtomicInteger names = new AtomicInteger();

    static LocalPostgres pg;
    static ProxyServer proxy;

    @BeforeAll
    static void start() throws Exception {
        pg = TestServers.pg17();
        proxy = new ProxyServer("127.0.0.1:0", request -> switch (request.user()) {
            case TestServers.ALICE -> BackendConfig.builder().host(pg.host()).port(pg.port()).build();
            default -> BackendConfig.builder().host(pg.host()).port(pg.port()).user(TestServers.TRUST_USER).build();
        }).withTls(TlsConfig.fromPemFiles(TestCerts.serverCert(), TestCerts.serverKey())).start();
    }

    @AfterAll
    static void stop() {
        if (proxy != null) {
            proxy.close(Duration.ofSeconds(1));
        }
    }

    @AfterEach
    void nothingLeftAndStillServing() throws Exception {
        Probe.awaitIdle(proxy, PROMPTLY);
        Jdbc.assertServes(proxy.port());
    }

    /** A logged-in raw session whose backend is recognisable by its application_name. */
    record LoggedIn(Peer peer, String app) {
    }

    static LoggedIn login() throws Exception {
        String app = "pgmux-broken-" + names.incrementAndGet();
        Peer peer = Peer.connect(proxy.port());
        peer.login(params("user", "raw", "database", "postgres", "application_name", app));
        assertThat(PgStatActivity.count(pg, "application_name = '" + app + "'")).isEqualTo(1);
        return new LoggedIn(peer, app);
    }

    static Stream<Arguments> impossibleMessages() {
        byte[] select = "select 1\0".getBytes(StandardCharsets.UTF_8);
        return Stream.of(
                Arguments.of("Query with length 2", Frames.message('Q', 2, select)),
                Arguments.of("Query with length 0", Frames.message('Q', 0, select)),
                Arguments.of("Query with length -1", Frames.message('Q', -1, select)),
                Arguments.of("Query with length 2^31-1", Frames.message('Q', Integer.MAX_VALUE, select)),
                Arguments.of("Sync with length 2^30", Frames.message('S', 1 << 30, new byte[16])),
                Arguments.of("unknown type '~'", Frames.message('~', 4, new byte[0])),
                Arguments.of("type 0", Frames.message('\0', 8, new byte[4])),
                Arguments.of("a startup packet after login", Frames.startup(params("user", "raw"))),
                Arguments.of("an SSLRequest after login", Frames.sslRequest()));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("impossibleMessages")
    void anImpossibleMessageEndsTheSessionAndItsBackend(String name, byte[] bytes) throws Exception {
        LoggedIn s = login();
        try (Peer peer = s.peer()) {
            peer.send(bytes);
            Reply reply = peer.awaitEnd(PROMPTLY);
            // PostgreSQL answers FATAL 08P01, or closes without a word when it cannot even trust the length.
            assertThat(reply.end()).as(reply.toString()).isEqualTo(End.CLOSED);
            for (Message m : reply.messages()) {
                assertThat(m.type()).as(reply.toString()).isEqualTo('E');
                assertThat(m.field('C')).as(reply.toString()).isEqualTo("08P01");
                assertThat(m.field('V')).isEqualTo("FATAL");
            }
        }
        PgStatActivity.awaitNone(pg, "application_name = '" + s.app() + "'", PROMPTLY);
    }

    @Test
    void aMessageCutOffByADisconnectLeavesNoBackend() throws Exception {
        for (boolean rst : new boolean[] {false, true}) {
            LoggedIn s = login();
            byte[] sql = ("select '" + "x".repeat(1000) + "'\0").getBytes(StandardCharsets.UTF_8);
            byte[] query = Frames.message('Q', 4 + sql.length, sql);
            s.peer().send(Arrays.copyOf(query, 100));
            if (rst) {
                s.peer().reset();
            } else {
                s.peer().close();
            }
            PgStatActivity.awaitNone(pg, "application_name = '" + s.app() + "'", PROMPTLY);
        }
    }

    @Test
    void aClientGoneInTheMiddleOfAPipelineCancelsItsQuery() throws Exception {
        LoggedIn s = login();
        // One query runs for a minute; the next one is half sent when the client dies.
        s.peer().send(Frames.query("select pg_sleep(60)"));
        PgStatActivity.awaitCount(pg, "application_name = '" + s.app() + "' and state = 'active'", 1, PROMPTLY);
        s.peer().send(Arrays.copyOf(Frames.query("select 2"), 7));
        long t0 = System.nanoTime();
        s.peer().reset();
        PgStatActivity.awaitNone(pg, "application_name = '" + s.app() + "'", PROMPTLY);
        assertThat(Duration.ofNanos(System.nanoTime() - t0)).isLessThan(PROMPTLY);
    }

    @Test
    void aClientGoneDuringCopyInLeavesNoBackend() throws Exception {
        LoggedIn s = login();
        Peer peer = s.peer();
        peer.send(Frames.query("create temp table sink(line text)"));
        peer.readUntil('Z');
        peer.send(Frames.query("copy sink from stdin"));
        assertThat(peer.read().type()).as("CopyInResponse").isEqualTo('G');
        byte[] line = ("row " + "y".repeat(100) + "\n").getBytes(StandardCharsets.UTF_8);
        for (int i = 0; i < 1000; i++) {
            peer.send(Frames.copyData(line));
        }
        // Half of a CopyData message, then the client is gone.
        peer.send(Arrays.copyOf(Frames.copyData(line), 20));
        peer.reset();
        PgStatActivity.awaitNone(pg, "application_name = '" + s.app() + "'", PROMPTLY);
    }

    @Test
    void aClientGoneDuringCopyOutLeavesNoBackend() throws Exception {
        LoggedIn s = login();
        Peer peer = s.peer();
        peer.send(Frames.query("copy (select repeat('z', 1000) from generate_series(1, 10000000)) to stdout"));
        assertThat(peer.read().type()).as("CopyOutResponse").isEqualTo('H');
        for (int i = 0; i < 100; i++) {
            assertThat(peer.read().type()).isEqualTo('d');
        }
        peer.reset();
        PgStatActivity.awaitNone(pg, "application_name = '" + s.app() + "'", PROMPTLY);
    }

    @Test
    void aClientGoneDuringTheTlsHandshakeIsForgotten() throws Exception {
        byte[] hello = Frames.clientHello("postgresql");
        try (Peer peer = Peer.connect(proxy.port())) {
            peer.send(Frames.sslRequest());
            assertThat(peer.in().read()).isEqualTo('S');
            peer.send(Arrays.copyOf(hello, hello.length / 2));
            Thread.sleep(50);
            peer.reset();
        }
        try (Peer peer = Peer.connect(proxy.port())) {
            peer.send(hello); // direct TLS; the server's flight arrives, the client never answers it
            assertThat(peer.in().read()).isEqualTo(0x16);
            peer.reset();
        }
        Probe.awaitIdle(proxy, PROMPTLY);
    }

    @Test
    void aClientGoneDuringAuthenticationLeavesNoBackend() throws Exception {
        String app = "pgmux-broken-auth";
        try (Peer peer = Peer.connect(proxy.port())) {
            peer.send(Frames.startup(params("user", TestServers.ALICE, "database", "postgres", "application_name", app)));
            Message sasl = peer.read();
            assertThat(sasl.type()).isEqualTo('R');
            assertThat(sasl.int32(0)).as("AuthenticationSASL").isEqualTo(10);
            peer.reset();
        }
        Probe.awaitIdle(proxy, PROMPTLY);
        // A backend still authenticating has no user yet; wait until the server has none of those either.
        PgStatActivity.awaitNone(pg, "usename is null or application_name = '" + app + "'", PROMPTLY);
    }
}
