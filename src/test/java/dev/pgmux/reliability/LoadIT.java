package dev.pgmux.reliability;

import static dev.pgmux.testing.RawClient.params;
import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.pgmux.BackendConfig;
import dev.pgmux.Limits;
import dev.pgmux.ProxyServer;
import dev.pgmux.Router;
import dev.pgmux.TlsConfig;
import dev.pgmux.embedded.LocalPostgres;
import dev.pgmux.reliability.Peer.Message;
import dev.pgmux.testing.Await;
import dev.pgmux.testing.PgStatActivity;
import dev.pgmux.testing.TestCerts;
import dev.pgmux.testing.TestServers;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.postgresql.PGConnection;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Load and abuse over loopback: thousands of clients trickling their startup (slowloris) while real clients log
 * in and query; a storm of abrupt closes (RST) in every phase of a session under a per-address limit; a storm
 * of cancel requests with random keys. pgmux keeps serving, enforces its limits with 53300, and its counters,
 * sessions and cancel keys return to zero.
 *
 * <p>{@code -Dpgmux.load.connections=5000} raises the slowloris count from {@value #SLOWLORIS} (it needs two file
 * descriptors per connection in this JVM, the client's and pgmux's).
 */
class LoadIT {
    private static final Logger log = LoggerFactory.getLogger(LoadIT.class);
    static final int SLOWLORIS = 2_000;

    static LocalPostgres pg;
    static ExecutorService threads;

    @BeforeAll
    static void start() {
        pg = TestServers.pg17();
        threads = Executors.newVirtualThreadPerTaskExecutor();
    }

    @AfterAll
    static void stop() {
        threads.shutdownNow();
    }

    /** alice passes through (SCRAM); every other user logs in as the trust user. */
    static Router router() {
        return request -> request.user().equals(TestServers.ALICE)
                ? BackendConfig.builder().host(pg.host()).port(pg.port()).build()
                : BackendConfig.builder().host(pg.host()).port(pg.port()).user(TestServers.TRUST_USER).build();
    }

    static void assertServes(ProxyServer proxy) throws SQLException {
        try (Connection c = Jdbc.connect(proxy.port(), TestServers.ALICE, TestServers.ALICE_PASSWORD)) {
            assertThat(Jdbc.one(c, "select current_user")).isEqualTo(TestServers.ALICE);
        }
    }

    // ---------------------------------------------------------------- slowloris

    @Test
    void slowlorisClientsAreClosedAtTheLoginTimeoutWhileRealClientsAreServed() throws Exception {
        int count = Integer.getInteger("pgmux.load.connections", SLOWLORIS);
        long needed = Probe.openFileDescriptors() + 2L * count + 500;
        assumeTrue(needed < Probe.fileDescriptorLimit(), "ulimit -n is " + Probe.fileDescriptorLimit() + "; " + count
                + " slow clients need about " + needed + " file descriptors");
        // Long enough for every slow client to be connected, and real clients served, before the first one times out.
        Duration loginTimeout = Duration.ofMillis(Math.max(5_000, count * 3L / 2));
        try (ProxyServer proxy = new ProxyServer("127.0.0.1:0", router())
                .withLimits(Limits.DEFAULT.withLoginTimeout(loginTimeout)).start()) {
            byte[] startup = Frames.startup(params("user", "slow", "database", "postgres",
                    "application_name", "x".repeat(200)));
            CountDownLatch connected = new CountDownLatch(count);
            AtomicLong failedToConnect = new AtomicLong();
            AtomicLong firstClosed = new AtomicLong(Long.MAX_VALUE);
            List<Future<Duration>> lifetimes = new ArrayList<>();
            for (int i = 0; i < count; i++) {
                lifetimes.add(threads.submit(() -> {
                    Duration lifetime = trickle(proxy.port(), startup, connected, failedToConnect);
                    firstClosed.accumulateAndGet(System.nanoTime(), Math::min);
                    return lifetime;
                }));
            }
            assertThat(connected.await(30, TimeUnit.SECONDS)).as("all slow clients connected").isTrue();
            assertThat(failedToConnect.get()).as("slow clients that could not connect").isZero();
            Await.until(Duration.ofSeconds(10), () -> "accepted: " + proxy.stats().current(),
                    () -> proxy.stats().current() == count);

            // Real clients log in (SCRAM) and query while the slow clients are open: four at a time, five rounds.
            // Loopback on a small machine: the slow clients' own threads compete for the same CPUs.
            record Login(Duration took, long endedAt) {
            }
            List<Future<List<Login>>> clients = new ArrayList<>();
            for (int i = 0; i < 4; i++) {
                clients.add(threads.submit(() -> {
                    List<Login> done = new ArrayList<>();
                    for (int round = 0; round < 5; round++) {
                        long t0 = System.nanoTime();
                        assertServes(proxy);
                        long t1 = System.nanoTime();
                        done.add(new Login(Duration.ofNanos(t1 - t0), t1));
                    }
                    return done;
                }));
            }
            List<Login> logins = new ArrayList<>();
            for (Future<List<Login>> client : clients) {
                logins.addAll(client.get(30, TimeUnit.SECONDS));
            }
            List<Duration> took = logins.stream().map(Login::took).sorted().toList();
            long duringStorm = logins.stream().filter(l -> l.endedAt() < firstClosed.get()).count();
            log.info("real clients during slowloris slow_clients={} logins_before_first_close={} login_median_ms={}"
                    + " login_max_ms={}", count, duringStorm, took.get(took.size() / 2).toMillis(),
                    took.getLast().toMillis());
            assertThat(took.getLast()).as("the slowest real client's login and query").isLessThan(Duration.ofSeconds(2));
            assertThat(duringStorm).as("real logins done before the first slow client was closed")
                    .isGreaterThanOrEqualTo(4);

            for (Future<Duration> lifetime : lifetimes) {
                assertThat(lifetime.get(30, TimeUnit.SECONDS)).as("a slow client's lifetime")
                        .isBetween(loginTimeout.minusMillis(100), loginTimeout.plusSeconds(4));
            }
            Probe.awaitIdle(proxy, Duration.ofSeconds(10));
            assertServes(proxy);
            proxy.close(Duration.ofSeconds(1));
        }
    }

    /**
     * Sends one byte of {@code startup} every 500 ms (each byte would reset an idle timeout, not the login timeout)
     * until the server closes; returns how long that took.
     */
    static Duration trickle(int port, byte[] startup, CountDownLatch connected, AtomicLong failed) throws IOException {
        try (Socket s = new Socket()) {
            try {
                s.connect(new InetSocketAddress(Peer.HOST, port), 20_000);
            } catch (IOException e) {
                failed.incrementAndGet();
                throw e;
            } finally {
                connected.countDown();
            }
            long t0 = System.nanoTime();
            s.setSoTimeout(500);
            OutputStream out = s.getOutputStream();
            InputStream in = s.getInputStream();
            for (int i = 0; i < startup.length; i++) {
                try {
                    out.write(startup[i]);
                    out.flush();
                    if (in.read() < 0) {
                        break;
                    }
                    throw new AssertionError("the server answered a trickled startup");
                } catch (SocketTimeoutException e) {
                    // still open
                } catch (IOException e) {
                    break; // reset
                }
            }
            return Duration.ofNanos(System.nanoTime() - t0);
        }
    }

    // ---------------------------------------------------------------- abrupt closes and the per-address limit

    @Test
    void anRstStormInEveryPhaseReleasesEveryCountAndBackend() throws Exception {
        int limit = 200;
        try (ProxyServer proxy = new ProxyServer("127.0.0.1:0", router())
                .withTls(TlsConfig.fromPemFiles(TestCerts.serverCert(), TestCerts.serverKey()))
                .withLimits(Limits.DEFAULT.withMaxConnectionsPerIp(limit)).start()) {
            for (int round = 0; round < 2; round++) {
                long rejectedBefore = proxy.stats().rejected();
                List<Peer> peers = openInEveryPhase(proxy, limit);
                Await.until(Duration.ofSeconds(5), () -> "open: " + proxy.stats().current(),
                        () -> proxy.stats().current() == limit);

                // One more from the same address is refused…
                try (Peer extra = Peer.connect(proxy.port())) {
                    extra.send(Frames.startup(params("user", "one-too-many", "database", "postgres")));
                    Message refused = extra.read();
                    assertThat(refused.field('C')).isEqualTo("53300");
                    assertThat(refused.field('M')).isEqualTo("sorry, too many connections from this client address");
                }
                assertThat(proxy.stats().rejected()).isEqualTo(rejectedBefore + 1);
                // …but a cancel request from it is still served (it must not count against the limit).
                Peer sleeper = peers.get(0);
                Message key = sleeperKeys.get(sleeper);
                try (Peer cancel = Peer.connect(proxy.port())) {
                    cancel.send(Frames.cancelRequest(key.int32(0), Arrays.copyOfRange(key.body(), 4, key.body().length)));
                }
                assertThat(sleeper.readUntil('E').field('C')).isEqualTo("57014");
                sleeper.send(Frames.query("select pg_sleep(30)"));

                peers.forEach(Peer::reset);
                Probe.awaitIdle(proxy, Duration.ofSeconds(10));
                PgStatActivity.awaitNone(pg, "application_name = 'pgmux-rst'", Duration.ofSeconds(10));
            }
            assertServes(proxy);
            proxy.close(Duration.ofSeconds(1));
        }
    }

    private final java.util.Map<Peer, Message> sleeperKeys = new java.util.concurrent.ConcurrentHashMap<>();

    /**
     * Opens {@code n} connections: a quarter logged in (some idle, some in pg_sleep, some in the middle of a COPY),
     * the rest before login (nothing sent, half a startup packet, halfway through a TLS handshake). The first one
     * is in pg_sleep.
     */
    List<Peer> openInEveryPhase(ProxyServer proxy, int n) throws Exception {
        List<Future<Peer>> opening = new ArrayList<>();
        byte[] hello = Frames.clientHello("postgresql");
        byte[] startup = Frames.startup(params("user", "rst", "database", "postgres", "application_name", "pgmux-rst"));
        for (int i = 0; i < n; i++) {
            int phase = i % 8;
            opening.add(threads.submit(() -> {
                Peer p = Peer.connect(proxy.port());
                switch (phase) {
                    case 0 -> {
                        Message key = p.login(params("user", "rst", "database", "postgres", "application_name", "pgmux-rst"));
                        sleeperKeys.put(p, key);
                        p.send(Frames.query("select pg_sleep(30)"));
                    }
                    case 1 -> p.login(params("user", "rst", "database", "postgres", "application_name", "pgmux-rst"));
                    case 2 -> {
                        p.login(params("user", "rst", "database", "postgres", "application_name", "pgmux-rst"));
                        p.send(Frames.query("create temp table sink(line text)"));
                        p.readUntil('Z');
                        p.send(Frames.query("copy sink from stdin"));
                        assertThat(p.read().type()).isEqualTo('G');
                        p.send(Frames.copyData("half a COPY\n".getBytes(StandardCharsets.UTF_8)));
                    }
                    case 3, 4 -> p.send(Arrays.copyOf(startup, startup.length / 2));
                    case 5 -> {
                        p.send(Frames.sslRequest());
                        assertThat(p.in().read()).isEqualTo('S');
                        p.send(Arrays.copyOf(hello, hello.length / 2));
                    }
                    default -> {
                        // connected, nothing sent
                    }
                }
                return p;
            }));
        }
        List<Peer> peers = new ArrayList<>();
        for (Future<Peer> f : opening) {
            peers.add(f.get(30, TimeUnit.SECONDS));
        }
        PgStatActivity.awaitCount(pg, "application_name = 'pgmux-rst' and query = 'select pg_sleep(30)'"
                + " and state = 'active'", n / 8, Duration.ofSeconds(10));
        return peers;
    }

    // ---------------------------------------------------------------- cancel storm

    @Test
    void aCancelStormWithRandomKeysDisturbsNoSessionAndValidCancelsStillWork() throws Exception {
        int storm = 2_400;
        try (ProxyServer proxy = new ProxyServer("127.0.0.1:0", router()).start()) {
            // A raw session whose process id the storm knows: only the secret is wrong.
            Peer target = Peer.connect(proxy.port());
            Message key = target.login(params("user", "storm-target", "database", "postgres"));
            int pid = key.int32(0);
            byte[] secret = Arrays.copyOfRange(key.body(), 4, key.body().length);

            AtomicBoolean storming = new AtomicBoolean(true);
            AtomicLong workerQueries = new AtomicLong();
            List<Future<?>> workers = new ArrayList<>();
            for (int i = 0; i < 4; i++) {
                workers.add(threads.submit(() -> {
                    try (Connection c = Jdbc.connect(proxy.port(), TestServers.ALICE, TestServers.ALICE_PASSWORD)) {
                        while (storming.get()) {
                            assertThat(Jdbc.one(c, "select 'ok' from pg_sleep(0.02)")).isEqualTo("ok");
                            workerQueries.incrementAndGet();
                        }
                    }
                    return null;
                }));
            }
            target.send(Frames.query("select 'slept' from pg_sleep(1.5)"));
            long cancelsBefore = proxy.stats().cancels();
            SecureRandom random = new SecureRandom();
            List<Future<?>> senders = new ArrayList<>();
            for (int t = 0; t < 16; t++) {
                senders.add(threads.submit(() -> {
                    for (int i = 0; i < storm / 16; i++) {
                        byte[] wrong = new byte[i % 3 == 0 ? 32 : 4];
                        random.nextBytes(wrong);
                        try (Peer p = Peer.connect(proxy.port())) {
                            p.send(Frames.cancelRequest(i % 2 == 0 ? pid : random.nextInt(), wrong));
                            p.awaitEnd(Duration.ofSeconds(5));
                        }
                    }
                    return null;
                }));
            }
            for (Future<?> f : senders) {
                f.get(60, TimeUnit.SECONDS);
            }
            // The target's query ran to its end.
            Message row = target.readUntil('D');
            assertThat(new String(row.body(), 6, 5, StandardCharsets.UTF_8)).isEqualTo("slept");
            target.readUntil('Z');
            storming.set(false);
            for (Future<?> f : workers) {
                f.get(30, TimeUnit.SECONDS);
            }
            assertThat(workerQueries.get()).isPositive();
            assertThat(proxy.stats().cancels() - cancelsBefore).isEqualTo(storm);

            // The right key still cancels, from a raw client and from pgjdbc.
            target.send(Frames.query("select pg_sleep(30)"));
            PgStatActivity.awaitRunning(pg, pid, "select pg_sleep(30)");
            try (Peer cancel = Peer.connect(proxy.port())) {
                cancel.send(Frames.cancelRequest(pid, secret));
            }
            assertThat(target.readUntil('E').field('C')).isEqualTo("57014");
            try (Connection c = Jdbc.connect(proxy.port(), TestServers.ALICE, TestServers.ALICE_PASSWORD);
                 Statement s = c.createStatement()) {
                Future<String> sleeping = threads.submit(() -> {
                    try {
                        s.execute("select pg_sleep(30)");
                        return "finished";
                    } catch (SQLException e) {
                        return e.getSQLState();
                    }
                });
                PgStatActivity.awaitRunning(pg, c.unwrap(PGConnection.class).getBackendPID(), "select pg_sleep(30)");
                s.cancel();
                assertThat(sleeping.get(10, TimeUnit.SECONDS)).isEqualTo("57014");
            }
            target.close();
            Probe.awaitIdle(proxy, Duration.ofSeconds(5));
            proxy.close(Duration.ofSeconds(1));
        }
    }
}
