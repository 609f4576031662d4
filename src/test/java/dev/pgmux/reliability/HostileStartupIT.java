package dev.pgmux.reliability;

import static dev.pgmux.testing.RawClient.params;
import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.Level;
import dev.pgmux.BackendConfig;
import dev.pgmux.Limits;
import dev.pgmux.ProxyServer;
import dev.pgmux.Router;
import dev.pgmux.TlsConfig;
import dev.pgmux.embedded.LocalPostgres;
import dev.pgmux.reliability.Peer.End;
import dev.pgmux.reliability.Peer.Message;
import dev.pgmux.reliability.Peer.Reply;
import dev.pgmux.testing.PgStatActivity;
import dev.pgmux.testing.TestCerts;
import dev.pgmux.testing.TestServers;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Hand-written hostile startup sequences against a running proxy over real TCP, each with the answer
 * PostgreSQL itself would give: a FATAL ErrorResponse with the fitting SQLSTATE, or a silent close (at once, or
 * at the login timeout for a client that stops mid-packet). After each, the proxy holds no connection, session
 * or cancel key, and it still serves a normal client. {@link StartupFuzzIT} throws random sequences at the
 * same kind of proxy.
 */
class HostileStartupIT {
    static final Duration LOGIN_TIMEOUT = Duration.ofSeconds(1);
    /** Bytes the client sends before it stops: must be silent until the login timeout, then closed. */
    static final Duration WAIT = LOGIN_TIMEOUT.plusSeconds(3);

    static LocalPostgres pg;
    static ProxyServer tlsProxy;
    static ProxyServer plainProxy;
    static LogCapture log;

    /**
     * "fuzz" logs in as the backend's trust user (a rewrite); the trust user and alice pass through unchanged;
     * every other user has no route.
     */
    static Router router(LocalPostgres pg) {
        return request -> switch (request.user()) {
            case "fuzz" -> BackendConfig.builder().host(pg.host()).port(pg.port()).user(TestServers.TRUST_USER).build();
            case TestServers.ALICE, TestServers.TRUST_USER ->
                    BackendConfig.builder().host(pg.host()).port(pg.port()).build();
            default -> null;
        };
    }

    @BeforeAll
    static void start() throws Exception {
        pg = TestServers.pg17();
        Limits limits = Limits.DEFAULT.withLoginTimeout(LOGIN_TIMEOUT);
        tlsProxy = new ProxyServer("127.0.0.1:0", router(pg))
                .withTls(TlsConfig.fromPemFiles(TestCerts.serverCert(), TestCerts.serverKey()))
                .withLimits(limits).start();
        plainProxy = new ProxyServer("127.0.0.1:0", router(pg)).withLimits(limits).start();
        log = LogCapture.open();
    }

    @AfterAll
    static void stop() {
        if (log != null) {
            log.close();
        }
        for (ProxyServer p : new ProxyServer[] {tlsProxy, plainProxy}) {
            if (p != null) {
                p.close(Duration.ofSeconds(1));
            }
        }
    }

    @AfterEach
    void proxiesAreIdleAndQuiet() {
        for (ProxyServer p : new ProxyServer[] {tlsProxy, plainProxy}) {
            Probe.awaitIdle(p, Duration.ofSeconds(5));
        }
        // Hostile input is the client's fault: at most a one-line warning, never an error or a stack trace.
        try {
            assertThat(log.events()).as(log.text())
                    .noneMatch(e -> e.level().isGreaterOrEqual(Level.ERROR) || e.hasThrowable());
        } finally {
            log.clear();
        }
    }

    /** How the client ends its side after sending. */
    enum Ending { KEEP_OPEN, HALF_CLOSE }

    /** When the answer must come: at once, or at the login timeout (and not before). */
    enum Timing { PROMPT, AT_LOGIN_TIMEOUT }

    /**
     * One hostile sequence and the answer it must get.
     *
     * @param answers   single-byte answers to SSLRequest/GSSENCRequest expected first
     * @param sqlState  the FATAL error expected, or null for none
     * @param message   a part of the error's message, or null
     */
    record Case(String name, boolean tls, byte[] bytes, Ending ending, String answers, Set<End> ends, String sqlState,
                String message, Timing timing) {
        @Override
        public String toString() {
            return name;
        }
    }

    static Case fatal(String name, byte[] bytes, String sqlState, String message) {
        return new Case(name, true, bytes, Ending.KEEP_OPEN, "", Set.of(End.CLOSED), sqlState, message, Timing.PROMPT);
    }

    /** A fault PostgreSQL only logs (COMMERROR): the connection closes without a word, at once. */
    static Case silent(String name, byte[] bytes) {
        return new Case(name, true, bytes, Ending.KEEP_OPEN, "", Set.of(End.CLOSED), null, null, Timing.PROMPT);
    }

    static Map<String, String> fuzzUser() {
        return params("user", "fuzz", "database", "postgres", "application_name", "pgmux-hostile");
    }

    static Stream<Case> cases() {
        List<Case> cases = new ArrayList<>();
        cases.add(new Case("nothing sent", true, new byte[0], Ending.KEEP_OPEN, "", Set.of(End.CLOSED), null, null,
                Timing.AT_LOGIN_TIMEOUT));
        for (int length : new int[] {0, 1, 2, 3, 4, 5, 6, 7, 10_001, 65_536, Integer.MAX_VALUE, -1, -8,
                Integer.MIN_VALUE}) {
            cases.add(silent("length " + length, Frames.packet(length, Frames.V3_0, new byte[0])));
        }
        cases.add(new Case("length exactly 10000", true, startupOfLength(TestServers.TRUST_USER, 10_000),
                Ending.KEEP_OPEN, "", Set.of(End.LOGGED_IN), null, null, Timing.PROMPT));
        // "fuzz" becomes "trust_user" toward the backend: six bytes more than PostgreSQL accepts.
        cases.add(fatal("length 10000, too long once the user is rewritten", startupOfLength("fuzz", 10_000), "08P01",
                "invalid length of startup packet"));
        byte[] valid = Frames.startup(fuzzUser());
        byte[] half = Arrays.copyOf(valid, valid.length / 2);
        cases.add(new Case("truncated, then silence", true, half, Ending.KEEP_OPEN, "", Set.of(End.CLOSED), null, null,
                Timing.AT_LOGIN_TIMEOUT));
        cases.add(new Case("truncated, then FIN", true, half, Ending.HALF_CLOSE, "", Set.of(End.CLOSED), null, null,
                Timing.PROMPT));
        cases.add(new Case("only the length word", true, new byte[] {0, 0, 0, 100}, Ending.KEEP_OPEN, "", Set.of(End.CLOSED),
                null, null, Timing.AT_LOGIN_TIMEOUT));
        cases.add(fatal("protocol 1234.5677", Frames.packet((1234 << 16) | 5677, new byte[] {0}), "0A000",
                "unsupported frontend protocol 1234.5677"));
        cases.add(fatal("protocol 2.0", Frames.packet(2 << 16, new byte[] {0}), "0A000",
                "unsupported frontend protocol 2.0"));
        cases.add(fatal("protocol 4.0", withCode(Frames.startup(params("user", "fuzz")), 4 << 16),
                "0A000", "unsupported frontend protocol 4.0"));
        cases.add(fatal("code next to SSLRequest", Frames.packet(Frames.SSL_REQUEST + 2, new byte[0]), "0A000",
                "unsupported frontend protocol"));
        cases.add(fatal("missing user", Frames.startup(params("database", "postgres")), "28000",
                "no PostgreSQL user name specified in startup packet"));
        cases.add(fatal("empty user", Frames.startup(params("user", "", "database", "postgres")), "28000",
                "no PostgreSQL user name specified in startup packet"));
        cases.add(fatal("no parameters at all", Frames.packet(Frames.V3_0, new byte[] {0}), "28000",
                "no PostgreSQL user name specified in startup packet"));
        cases.add(silent("user of 10000 bytes", Frames.startup(params("user", "u".repeat(10_000)))));
        // A driver that gives up while connecting may send Terminate before its StartupMessage: 'X' 0 0 0 4 reads as
        // a length of 1,476,395,008.
        cases.add(silent("Terminate instead of a startup packet", new byte[] {'X', 0, 0, 0, 4}));
        cases.add(fatal("user of 9000 bytes", Frames.startup(params("user", "u".repeat(9_000))), "28000", "no route"));
        cases.add(fatal("non-UTF-8 user", Frames.startupRaw(Frames.V3_0, bytes("user"), new byte[] {(byte) 0xff,
                (byte) 0xfe, 'x', (byte) 0xc3}), "28000", "no route"));
        cases.add(fatal("non-UTF-8 parameter name", Frames.startupRaw(Frames.V3_0, new byte[] {(byte) 0xc0, (byte) 0x80},
                bytes("x"), bytes("user"), bytes("nobody")), "28000", "no route"));
        cases.add(fatal("no terminator after the last value", Frames.packet(Frames.V3_0, bytes("user\0fuzz\0")), "08P01",
                "invalid startup packet layout"));
        cases.add(fatal("value without its zero byte", Frames.packet(Frames.V3_0, bytes("user\0fuzz")), "08P01",
                "invalid startup packet layout"));
        cases.add(fatal("name without a value", Frames.packet(Frames.V3_0, bytes("user\0")), "08P01",
                "invalid startup packet layout"));
        cases.add(fatal("bytes after the terminator", Frames.packet(Frames.V3_0, bytes("user\0fuzz\0\0junk\0")), "08P01",
                "invalid startup packet layout"));
        cases.add(new Case("duplicate user: the last one counts", true, Frames.startupRaw(Frames.V3_0, bytes("user"),
                bytes("nobody"), bytes("user"), bytes("fuzz"), bytes("database"), bytes("postgres"),
                bytes("application_name"), bytes("pgmux-hostile")), Ending.KEEP_OPEN,
                "", Set.of(End.LOGGED_IN), null, null, Timing.PROMPT));
        cases.add(silent("10000 parameters", manyParameters(10_000, "fuzz")));
        cases.add(fatal("1000 unknown parameters reach the backend", manyParameters(1_000, "fuzz"), "42704",
                "unrecognized configuration parameter"));
        cases.add(new Case("SSLRequest twice without TLS", false, Frames.concat(Frames.sslRequest(), Frames.sslRequest()),
                Ending.KEEP_OPEN, "N", Set.of(End.CLOSED), "0A000", "unsupported frontend protocol 1234.5679",
                Timing.PROMPT));
        cases.add(new Case("GSSENCRequest twice", true, Frames.concat(Frames.gssEncRequest(), Frames.gssEncRequest()),
                Ending.KEEP_OPEN, "N", Set.of(End.CLOSED), "0A000", "unsupported frontend protocol 1234.5680",
                Timing.PROMPT));
        cases.add(new Case("SSLRequest, then silence", true, Frames.sslRequest(), Ending.KEEP_OPEN, "S",
                Set.of(End.TLS), null, null, Timing.AT_LOGIN_TIMEOUT));
        cases.add(new Case("ClientHello without ALPN, then silence", true, Frames.clientHello(), Ending.KEEP_OPEN, "",
                Set.of(End.TLS), null, null, Timing.AT_LOGIN_TIMEOUT));
        // The proxy may or may not get its ServerHello out before it sees the FIN.
        cases.add(new Case("ClientHello, then FIN", true, Frames.clientHello("postgresql"), Ending.HALF_CLOSE, "",
                Set.of(End.TLS, End.CLOSED), null, null, Timing.PROMPT));
        cases.add(new Case("TLS record header, then garbage", true, new byte[] {0x16, 3, 1, 0, 5, 1, 2, 3, 4, 5},
                Ending.KEEP_OPEN, "", Set.of(End.TLS, End.CLOSED), null, null, Timing.PROMPT));
        cases.add(new Case("direct TLS to a proxy without TLS", false, Frames.clientHello("postgresql"), Ending.KEEP_OPEN,
                "", Set.of(End.CLOSED), null, null, Timing.PROMPT));
        cases.add(silent("cancel request without secret", Frames.packet(Frames.CANCEL_REQUEST, new byte[4])));
        cases.add(silent("cancel request with a 300-byte secret", Frames.cancelRequest(7, new byte[300])));
        cases.add(new Case("cancel request with an unknown key", true, Frames.cancelRequest(12345, new byte[4]),
                Ending.KEEP_OPEN, "", Set.of(End.CLOSED), null, null, Timing.PROMPT));
        cases.add(new Case("garbage after the startup", true, Frames.concat(valid, new byte[] {0, 1, 2, 3, 4, 5, 6, 7}),
                Ending.KEEP_OPEN, "", Set.of(End.LOGGED_IN), null, null, Timing.PROMPT));
        cases.add(new Case("SSLRequest after the startup", true, Frames.concat(valid, Frames.sslRequest()),
                Ending.KEEP_OPEN, "", Set.of(End.LOGGED_IN), null, null, Timing.PROMPT));
        return cases.stream();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void hostileStartupGetsPostgresqlsAnswer(Case c) throws Exception {
        ProxyServer proxy = c.tls() ? tlsProxy : plainProxy;
        try (Peer peer = Peer.connect(proxy.port())) {
            peer.send(c.bytes());
            if (c.ending() == Ending.HALF_CLOSE) {
                peer.halfClose();
            }
            Reply reply = peer.awaitEnd(WAIT);

            assertThat(reply.end()).as(reply.toString()).isIn(c.ends());
            assertThat(reply.answers()).as(reply.toString()).isEqualTo(c.answers());
            Message error = reply.error();
            if (c.sqlState() == null) {
                assertThat(error).as(reply.toString()).isNull();
            } else {
                assertThat(error).as(reply.toString()).isNotNull();
                assertThat(error.field('V')).isEqualTo("FATAL");
                assertThat(error.field('C')).isEqualTo(c.sqlState());
                if (c.message() != null) {
                    assertThat(error.field('M')).contains(c.message());
                }
                assertThat(error.field('M')).as("no backend address in errors").doesNotContain(":" + pg.port());
                assertThat(reply.messages().getLast()).as("the error is the last thing sent").isSameAs(error);
            }
            switch (c.timing()) {
                case PROMPT -> assertThat(reply.took()).as(reply.toString()).isLessThan(LOGIN_TIMEOUT.minusMillis(200));
                case AT_LOGIN_TIMEOUT -> assertThat(reply.took()).as(reply.toString())
                        .isBetween(LOGIN_TIMEOUT.minusMillis(100), WAIT);
            }
            if (reply.end() == End.LOGGED_IN) {
                // Whatever came after the startup reached the backend, which ends the session over it (or the
                // session is fine, when it came as a whole message); closing now must leave no backend behind.
                peer.reset();
            }
        }
        PgStatActivity.awaitNone(pg, "application_name like 'pgmux-hostile%'", Duration.ofSeconds(5));
    }

    @Test
    void garbageAfterTheStartupEndsTheSessionWithTheBackendsProtocolError() throws Exception {
        try (Peer peer = Peer.connect(tlsProxy.port())) {
            peer.send(Frames.concat(Frames.startup(fuzzUser()), new byte[] {0, 1, 2, 3, 4, 5, 6, 7}));
            assertThat(peer.awaitEnd(WAIT).end()).isEqualTo(End.LOGGED_IN);
            Reply rest = peer.awaitEnd(Duration.ofSeconds(5));
            assertThat(rest.end()).as(rest.toString()).isEqualTo(End.CLOSED);
            Message error = rest.error();
            if (error != null) {
                assertThat(error.field('C')).isEqualTo("08P01");
                assertThat(error.field('V')).isEqualTo("FATAL");
            }
        }
        PgStatActivity.awaitNone(pg, "application_name like 'pgmux-hostile%'", Duration.ofSeconds(5));
    }

    @Test
    void plaintextAfterTheSslAnswerIsNotTakenForTls() throws Exception {
        try (Peer peer = Peer.connect(tlsProxy.port())) {
            peer.send(Frames.sslRequest());
            assertThat(peer.in().read()).isEqualTo('S');
            peer.send(Frames.startup(fuzzUser()));
            Reply rest = peer.awaitEnd(WAIT);
            assertThat(rest.end()).as(rest.toString()).isIn(End.TLS, End.CLOSED);
            assertThat(rest.messages()).as(rest.toString()).isEmpty();
            assertThat(rest.took()).isLessThan(LOGIN_TIMEOUT.minusMillis(200));
        }
    }

    @Test
    void tlsRequiredAdmitsNoPlaintextSessionInAnyOrder() throws Exception {
        byte[][] packets = {Frames.sslRequest(), Frames.gssEncRequest(), Frames.startup(fuzzUser())};
        List<List<byte[]>> sequences = new ArrayList<>();
        for (int length = 1; length <= 3; length++) {
            for (int n = 0; n < Math.pow(3, length); n++) {
                List<byte[]> seq = new ArrayList<>();
                for (int i = 0, k = n; i < length; i++, k /= 3) {
                    seq.add(packets[k % 3]);
                }
                sequences.add(seq);
            }
        }
        try (ProxyServer required = new ProxyServer("127.0.0.1:0", router(pg))
                .withTls(TlsConfig.fromPemFiles(TestCerts.serverCert(), TestCerts.serverKey()).withRequired(true))
                .withLimits(Limits.DEFAULT.withLoginTimeout(LOGIN_TIMEOUT)).start();
             var threads = java.util.concurrent.Executors.newVirtualThreadPerTaskExecutor()) {
            List<java.util.concurrent.Future<String>> results = new ArrayList<>();
            for (List<byte[]> seq : sequences) {
                for (boolean oneByOne : new boolean[] {false, true}) {
                    results.add(threads.submit(() -> {
                        try (Peer peer = Peer.connect(required.port())) {
                            if (oneByOne) {
                                for (byte[] packet : seq) {
                                    peer.send(packet);
                                    Thread.sleep(30); // the answer comes before the next packet
                                }
                            } else {
                                peer.send(Frames.concat(seq.toArray(byte[][]::new)));
                            }
                            peer.halfClose();
                            Reply reply = peer.awaitEnd(WAIT);
                            boolean reachedBackend = reply.end() == End.LOGGED_IN
                                    || reply.messages().stream().anyMatch(m -> m.type() != 'E');
                            Message error = reply.error();
                            boolean fitting = error == null
                                    || Set.of("28000", "0A000", "08P01").contains(error.field('C'));
                            return reachedBackend || !fitting || reply.end() == End.TIMEOUT ? reply.toString() : null;
                        }
                    }));
                }
            }
            List<String> admitted = new ArrayList<>();
            for (var r : results) {
                if (r.get() != null) {
                    admitted.add(r.get());
                }
            }
            assertThat(admitted).as("plaintext sequences that got further than a refusal").isEmpty();
            Probe.awaitIdle(required, Duration.ofSeconds(5));
            required.close(Duration.ofSeconds(1));
        }
    }

    @Test
    void aNormalClientIsServedAfterAllOfIt() throws Exception {
        for (ProxyServer p : new ProxyServer[] {tlsProxy, plainProxy}) {
            Jdbc.assertServes(p.port());
        }
    }

    /** A valid StartupMessage of exactly {@code length} bytes, padded through application_name. */
    static byte[] startupOfLength(String user, int length) {
        Map<String, String> p = new LinkedHashMap<>(fuzzUser());
        p.put("user", user);
        p.put("application_name", "");
        int base = Frames.startup(p).length;
        p.put("application_name", "pgmux-hostile" + "x".repeat(length - base - "pgmux-hostile".length()));
        byte[] packet = Frames.startup(p);
        assertThat(packet).hasSize(length);
        return packet;
    }

    static byte[] manyParameters(int n, String user) {
        Map<String, String> p = new LinkedHashMap<>(params("user", user, "database", "postgres"));
        for (int i = 0; i < n; i++) {
            p.put("p" + i, "v");
        }
        return Frames.startup(p);
    }

    static byte[] withCode(byte[] packet, int code) {
        byte[] copy = packet.clone();
        ByteBuffer.wrap(copy).putInt(4, code);
        return copy;
    }

    static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }
}
