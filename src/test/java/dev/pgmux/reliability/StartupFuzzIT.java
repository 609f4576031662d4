package dev.pgmux.reliability;

import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.Level;
import dev.pgmux.Limits;
import dev.pgmux.ProxyServer;
import dev.pgmux.TlsConfig;
import dev.pgmux.embedded.LocalPostgres;
import dev.pgmux.reliability.Peer.End;
import dev.pgmux.reliability.Peer.Message;
import dev.pgmux.reliability.Peer.Reply;
import dev.pgmux.testing.LeakCheck;
import dev.pgmux.testing.PgStatActivity;
import dev.pgmux.testing.TestCerts;
import dev.pgmux.testing.TestServers;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.EdgeCasesMode;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.RandomDistribution;
import net.jqwik.api.ShrinkingMode;
import net.jqwik.api.Tuple;
import net.jqwik.api.lifecycle.AddLifecycleHook;
import net.jqwik.api.lifecycle.AfterContainer;
import net.jqwik.api.lifecycle.BeforeContainer;
import net.jqwik.api.lifecycle.LifecycleContext;
import net.jqwik.api.lifecycle.SkipExecutionHook;
import net.jqwik.api.statistics.Statistics;

/**
 * Random and mutated startup sequences against a running proxy over real TCP: valid packets, packets with
 * wrong lengths, unknown codes, hostile parameters, TLS records and garbage, concatenated, mutated (truncated,
 * bytes flipped or inserted), split across writes, and ended by keeping the socket open, a FIN or an RST.
 *
 * <p>Whatever the bytes, the client must get, within the login timeout: single-byte answers to SSLRequest or
 * GSSENCRequest, TLS, a login, and/or one FATAL ErrorResponse with a fitting SQLSTATE as the last thing before the
 * close; never a hang, a malformed reply, or an error that names the backend. After each batch the proxy holds
 * no connection, session, cancel key or backend session, a normal pgjdbc client is served, and nothing was
 * logged at ERROR level or with a stack trace. The container fails on any leaked buffer.
 *
 * <p>Each try throws a batch of sequences at the proxy concurrently, so that the ones that wait for the login
 * timeout overlap. CI runs {@value #TRIES} tries; {@code -Dpgmux.fuzz.long=true} adds a run of
 * {@value #LONG_TRIES} (see docs/RELIABILITY.md).
 */
class StartupFuzzIT {
    static final int TRIES = 16;
    static final int LONG_TRIES = 400;
    static final int BATCH = 48;
    static final Duration LOGIN_TIMEOUT = Duration.ofSeconds(1);
    static final Duration WAIT = LOGIN_TIMEOUT.plusSeconds(3);
    /** What pgmux itself answers to bad startups; backends may add their own (unknown parameter, database…). */
    static final Set<String> PGMUX_STATES = Set.of("08P01", "0A000", "28000", "57014", "08006", "53300");

    static LocalPostgres pg;
    static ProxyServer proxy;
    static LogCapture log;

    @BeforeContainer
    static void start() throws Exception {
        pg = TestServers.pg17();
        proxy = new ProxyServer("127.0.0.1:0", HostileStartupIT.router(pg))
                .withTls(TlsConfig.fromPemFiles(TestCerts.serverCert(), TestCerts.serverKey()))
                .withLimits(Limits.DEFAULT.withLoginTimeout(LOGIN_TIMEOUT))
                .start();
        log = LogCapture.withLevels(Map.of("dev.pgmux", Level.INFO));
    }

    @AfterContainer
    static void stop() throws Exception {
        if (log != null) {
            log.close();
        }
        if (proxy != null) {
            proxy.close(Duration.ofSeconds(1));
        }
        // jqwik containers are not JUnit Jupiter classes: run the leak check that Jupiter classes get by themselves.
        new LeakCheck().afterAll(null);
    }

    @Property(tries = TRIES, edgeCases = EdgeCasesMode.NONE, shrinking = ShrinkingMode.BOUNDED)
    void hostileStartupSequencesEndCleanly(@ForAll("batches") List<Attempt> batch) throws Exception {
        log.clear(); // each try (and each shrinking step) is judged by its own log
        List<String> failures = new ArrayList<>();
        try (ExecutorService threads = Executors.newVirtualThreadPerTaskExecutor()) {
            List<Future<Outcome>> results = new ArrayList<>();
            for (Attempt a : batch) {
                results.add(threads.submit(() -> run(a)));
            }
            for (Future<Outcome> f : results) {
                Outcome o = f.get();
                Statistics.label("outcome").collect(o.label());
                if (o.failure() != null) {
                    failures.add(o.failure());
                }
            }
        }
        assertThat(failures).as("sequences that did not end cleanly").isEmpty();
        Probe.awaitIdle(proxy, Duration.ofSeconds(5));
        PgStatActivity.awaitNone(pg, "usename = '" + TestServers.TRUST_USER + "'",
                Duration.ofSeconds(5));
        Jdbc.assertServes(proxy.port());
        Probe.awaitIdle(proxy, Duration.ofSeconds(5));
        assertThat(log.events()).as(log.text())
                .noneMatch(e -> e.level().isGreaterOrEqual(Level.ERROR) || e.hasThrowable());
    }

    @Property(tries = LONG_TRIES, edgeCases = EdgeCasesMode.NONE, shrinking = ShrinkingMode.BOUNDED)
    @AddLifecycleHook(OnlyInLongRuns.class)
    void hostileStartupSequencesEndCleanlyLongRun(@ForAll("batches") List<Attempt> batch) throws Exception {
        hostileStartupSequencesEndCleanly(batch);
    }

    /** Skips a property unless {@code -Dpgmux.fuzz.long=true}. */
    public static final class OnlyInLongRuns implements SkipExecutionHook {
        @Override
        public SkipResult shouldBeSkipped(LifecycleContext context) {
            return Boolean.getBoolean("pgmux.fuzz.long") ? SkipResult.doNotSkip()
                    : SkipResult.skip("long fuzz run: -Dpgmux.fuzz.long=true");
        }
    }

    /** How one sequence ended (for the statistics jqwik prints), and why it failed, or null. */
    record Outcome(String label, String failure) {
    }

    static Outcome run(Attempt a) {
        try (Peer peer = Peer.connect(proxy.port())) {
            for (byte[] write : a.writes()) {
                if (!peer.send(write)) {
                    break; // the proxy already closed: read what it said
                }
            }
            switch (a.ending()) {
                case RESET -> {
                    peer.reset();
                    return new Outcome("RST", null);
                }
                case HALF_CLOSE -> peer.halfClose();
                case KEEP_OPEN -> {
                }
            }
            Reply reply = peer.awaitEnd(WAIT);
            String problem = judge(reply);
            Message error = reply.error();
            String label = reply.end() + (error == null ? "" : " " + error.field('C'));
            return new Outcome(label, problem == null ? null : problem + "\n  " + reply + "\n  " + a);
        } catch (Exception e) {
            return new Outcome("exception", e + "\n  " + a);
        }
    }

    /** Why this reply is not acceptable, or null. */
    static String judge(Reply reply) {
        if (reply.end() == End.TIMEOUT) {
            return "no close within " + WAIT.toMillis() + " ms";
        }
        if (reply.end() == End.MALFORMED) {
            return "malformed reply";
        }
        if (reply.answers().length() > 2) {
            return "more answers than SSLRequest + GSSENCRequest";
        }
        List<Message> messages = reply.messages();
        for (int i = 0; i < messages.size(); i++) {
            Message m = messages.get(i);
            if (m.type() != 'E') {
                continue;
            }
            String state = m.field('C');
            if (!"FATAL".equals(m.field('V'))) {
                return "error that is not FATAL";
            }
            if (state == null || state.length() != 5) {
                return "error without SQLSTATE";
            }
            boolean fromBackend = !PGMUX_STATES.contains(state);
            if (fromBackend && (state.startsWith("XX") || state.startsWith("58"))) {
                return "internal or system error " + state;
            }
            if (m.field('M') == null || m.field('M').contains(":" + pg.port())) {
                return "error message missing or naming the backend";
            }
            if (i != messages.size() - 1 || reply.end() != End.CLOSED) {
                return "the connection went on after a FATAL error";
            }
        }
        return null;
    }

    // ---------------------------------------------------------------- generators

    enum Ending { KEEP_OPEN, HALF_CLOSE, RESET }

    /** One labelled piece of a startup sequence. */
    record Piece(String label, byte[] bytes) {
    }

    /** A change to the whole byte sequence. */
    sealed interface Mutation {
        byte[] apply(byte[] in);
    }

    record Unchanged() implements Mutation {
        public byte[] apply(byte[] in) {
            return in;
        }
    }

    record Truncate(int permille) implements Mutation {
        public byte[] apply(byte[] in) {
            return Arrays.copyOf(in, (int) ((long) in.length * permille / 1000));
        }
    }

    record Flip(int permille, int xor) implements Mutation {
        public byte[] apply(byte[] in) {
            if (in.length == 0) {
                return in;
            }
            byte[] out = in.clone();
            int at = (int) ((long) (in.length - 1) * permille / 1000);
            out[at] ^= (byte) xor;
            return out;
        }
    }

    record Insert(int permille, byte[] bytes) implements Mutation {
        public byte[] apply(byte[] in) {
            int at = (int) ((long) in.length * permille / 1000);
            return Frames.concat(Arrays.copyOf(in, at), bytes, Arrays.copyOfRange(in, at, in.length));
        }

        @Override
        public String toString() {
            return "Insert[" + permille + "‰, " + HexFormat.of().formatHex(bytes) + "]";
        }
    }

    /** A sequence, how it is cut into writes, and how the client ends. */
    record Attempt(List<Piece> pieces, Mutation mutation, List<Integer> cuts, Ending ending) {
        byte[] bytes() {
            return mutation.apply(Frames.concat(pieces.stream().map(Piece::bytes).toArray(byte[][]::new)));
        }

        List<byte[]> writes() {
            byte[] all = bytes();
            List<byte[]> writes = new ArrayList<>();
            int from = 0;
            for (int permille : cuts.stream().sorted().toList()) {
                int to = (int) ((long) all.length * permille / 1000);
                if (to > from) {
                    writes.add(Arrays.copyOfRange(all, from, to));
                    from = to;
                }
            }
            writes.add(Arrays.copyOfRange(all, from, all.length));
            return writes;
        }

        @Override
        public String toString() {
            byte[] all = bytes();
            String hex = HexFormat.of().formatHex(all, 0, Math.min(all.length, 160));
            return "Attempt[" + pieces.stream().map(Piece::label).toList() + " " + mutation + " cuts=" + cuts + " "
                    + ending + " " + all.length + " bytes: " + hex + (all.length > 160 ? "…" : "") + "]";
        }
    }

    @Provide
    Arbitrary<List<Attempt>> batches() {
        return attempts().list().ofMinSize(1).ofMaxSize(BATCH).withSizeDistribution(RandomDistribution.uniform());
    }

    Arbitrary<Attempt> attempts() {
        return Combinators.combine(
                pieces().list().ofMinSize(1).ofMaxSize(4),
                mutations(),
                Arbitraries.integers().between(0, 1000).list().ofMaxSize(3),
                Arbitraries.frequencyOf(
                        Tuple.of(25, Arbitraries.just(Ending.KEEP_OPEN)),
                        Tuple.of(60, Arbitraries.just(Ending.HALF_CLOSE)),
                        Tuple.of(15, Arbitraries.just(Ending.RESET))))
                .as(Attempt::new);
    }

    Arbitrary<Mutation> mutations() {
        return Arbitraries.frequencyOf(
                Tuple.of(40, Arbitraries.just(new Unchanged())),
                Tuple.of(20, Arbitraries.integers().between(0, 999).map(Truncate::new)),
                Tuple.of(20, Combinators.combine(Arbitraries.integers().between(0, 1000),
                        Arbitraries.integers().between(1, 255)).as(Flip::new)),
                Tuple.of(20, Combinators.combine(Arbitraries.integers().between(0, 1000),
                        Arbitraries.bytes().array(byte[].class).ofMinSize(1).ofMaxSize(16)).as(Insert::new)));
    }

    Arbitrary<Piece> pieces() {
        return Arbitraries.frequencyOf(
                Tuple.of(20, validStartups()),
                Tuple.of(20, hostileStartups()),
                Tuple.of(8, Arbitraries.just(new Piece("SSLRequest", Frames.sslRequest()))),
                Tuple.of(6, Arbitraries.just(new Piece("GSSENCRequest", Frames.gssEncRequest()))),
                Tuple.of(6, cancelRequests()),
                Tuple.of(12, lengthWords()),
                Tuple.of(8, Arbitraries.bytes().array(byte[].class).ofMinSize(1).ofMaxSize(64)
                        .map(b -> new Piece("garbage", b))),
                Tuple.of(5, Arbitraries.of(
                        new Piece("ClientHello", Frames.clientHello("postgresql")),
                        new Piece("ClientHello without ALPN", Frames.clientHello()))),
                Tuple.of(3, bigStartups()),
                Tuple.of(4, queries()));
    }

    Arbitrary<Piece> validStartups() {
        return Arbitraries.of(0, 0, 0, 1, 2, 3, 99).map(minor -> new Piece("startup 3." + minor,
                Frames.startup(minor, Map.of("user", "fuzz", "database", "postgres",
                        "application_name", "pgmux-fuzz"))));
    }

    /** Startup packets with any code and hostile name/value pairs, terminated or not. */
    Arbitrary<Piece> hostileStartups() {
        Arbitrary<Integer> codes = Arbitraries.frequencyOf(
                Tuple.of(10, Arbitraries.of(Frames.V3_0, Frames.V3_0 | 2, Frames.V3_0 | 0xFFFF,
                        2 << 16, 4 << 16, 0, Frames.SSL_REQUEST + 2, Frames.CANCEL_REQUEST - 1)),
                Tuple.of(2, Arbitraries.integers()));
        Arbitrary<byte[]> names = Arbitraries.frequencyOf(
                Tuple.of(10, Arbitraries.of("user", "database", "application_name", "options",
                        "replication", "client_encoding", "_pq_.fuzz", "", "DateStyle").map(StartupFuzzIT::utf8)),
                Tuple.of(3, Arbitraries.strings().ofMaxLength(12).map(StartupFuzzIT::utf8)),
                Tuple.of(2, Arbitraries.bytes().filter(b -> b != 0).array(byte[].class).ofMaxSize(8)));
        Arbitrary<byte[]> values = Arbitraries.frequencyOf(
                Tuple.of(10, Arbitraries.of("fuzz", "nobody", "postgres", "", "true", "database",
                        "-c work_mem=64kB", "-c", "SQL_ASCII", "UTF8").map(StartupFuzzIT::utf8)),
                Tuple.of(3, Arbitraries.strings().ofMaxLength(40).map(StartupFuzzIT::utf8)),
                Tuple.of(2, Arbitraries.bytes().filter(b -> b != 0).array(byte[].class).ofMaxSize(16)),
                Tuple.of(1, Arbitraries.integers().between(100, 9_990).map(n -> utf8("v".repeat(n)))));
        Arbitrary<List<byte[]>> pairs = names.list().ofMaxSize(6).flatMap(ns ->
                values.list().ofSize(ns.size()).map(vs -> {
                    List<byte[]> out = new ArrayList<>();
                    for (int i = 0; i < ns.size(); i++) {
                        out.add(ns.get(i));
                        out.add(vs.get(i));
                    }
                    return out;
                }));
        Arbitrary<Integer> terminators = Arbitraries.of(0, 0, 0, 1, 2); // proper, none, extra bytes after
        return Combinators.combine(codes, pairs, terminators).as((code, kv, terminator) -> {
            ByteArrayOutputStream body = new ByteArrayOutputStream();
            for (byte[] s : kv) {
                body.writeBytes(s);
                body.write(0);
            }
            switch (terminator) {
                case 0 -> body.write(0);
                case 2 -> body.writeBytes(new byte[] {0, 'x', 0});
                default -> {
                }
            }
            return new Piece("startup code " + code + " " + kv.size() / 2 + " params", Frames.packet(code,
                    body.toByteArray()));
        });
    }

    Arbitrary<Piece> cancelRequests() {
        return Combinators.combine(Arbitraries.integers(), Arbitraries.of(0, 3, 4, 8, 32, 256, 257, 300))
                .as((pid, n) -> new Piece("CancelRequest secret=" + n, Frames.cancelRequest(pid, new byte[n])));
    }

    /** A length word from the edges (and anywhere), any code, and a body that rarely matches the length. */
    Arbitrary<Piece> lengthWords() {
        Arbitrary<Integer> lengths = Arbitraries.frequencyOf(
                Tuple.of(6, Arbitraries.of(0, 1, 3, 4, 7, 8, 9, 16, 9_999, 10_000, 10_001,
                        Integer.MAX_VALUE, Integer.MIN_VALUE, -1)),
                Tuple.of(2, Arbitraries.integers()),
                Tuple.of(2, Arbitraries.integers().between(8, 200)));
        Arbitrary<Integer> codes = Arbitraries.oneOf(Arbitraries.of(Frames.V3_0, Frames.SSL_REQUEST,
                Frames.GSSENC_REQUEST, Frames.CANCEL_REQUEST), Arbitraries.integers());
        return Combinators.combine(lengths, codes, Arbitraries.bytes().array(byte[].class).ofMaxSize(64))
                .as((length, code, body) -> new Piece("length " + length + " code " + code,
                        Frames.packet(length, code, body)));
    }

    Arbitrary<Piece> bigStartups() {
        return Arbitraries.of(
                new Piece("user of 9000 bytes", Frames.startup(Map.of("user", "u".repeat(9_000)))),
                new Piece("user of 10000 bytes", Frames.startup(Map.of("user", "u".repeat(10_000)))),
                new Piece("1000 parameters", HostileStartupIT.manyParameters(1_000, "fuzz")),
                new Piece("10000 parameters", HostileStartupIT.manyParameters(10_000, "fuzz")),
                new Piece("startup of 10000 bytes", HostileStartupIT.startupOfLength("fuzz", 10_000)));
    }

    /** Regular messages, as a client would send after the startup (or instead of it). */
    Arbitrary<Piece> queries() {
        return Arbitraries.of(
                new Piece("Query", Frames.query("select 1")),
                new Piece("Terminate", Frames.terminate()),
                new Piece("Query with length 2", Frames.message('Q', 2, new byte[0])),
                new Piece("Query with length MAX", Frames.message('Q', Integer.MAX_VALUE, utf8("select 1"))),
                new Piece("unknown type", Frames.message('~', 4, new byte[0])),
                new Piece("PasswordMessage", Frames.message('p', 9, utf8("pass\0"))));
    }

    static byte[] utf8(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }
}
