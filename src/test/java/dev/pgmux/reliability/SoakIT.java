package dev.pgmux.reliability;

import static dev.pgmux.testing.RawClient.params;
import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.Level;
import dev.pgmux.BackendConfig;
import dev.pgmux.ProxyServer;
import dev.pgmux.embedded.LocalPostgres;
import dev.pgmux.testing.TestServers;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A soak: for {@value #DEFAULT_SECONDS} s in CI ({@code -Dpgmux.soak.seconds=300} for five minutes), pgbench
 * through pgmux on persistent connections and with a new connection per transaction ({@code -C}), next to pgjdbc
 * clients that connect, query, cancel and vanish with an RST. Afterwards: zero failed transactions, one history
 * row per reported transaction, no warning logged, no connection/session/cancel key left, pgmux's heap after GC
 * and this process's file descriptors back where they were. Without pgbench, the pgjdbc clients run alone.
 */
class SoakIT {
    private static final Logger log = LoggerFactory.getLogger(SoakIT.class);
    static final int DEFAULT_SECONDS = 20;
    static final long HEAP_SLACK = 16L << 20;
    static final long FD_SLACK = 8;

    @Test
    void soak(@TempDir Path dir) throws Exception {
        int seconds = Integer.getInteger("pgmux.soak.seconds", DEFAULT_SECONDS);
        LocalPostgres pg = TestServers.pg17b();
        Jdbc.ensureDatabase(pg);
        boolean pgbench = Pgbench.installed();
        // "raw" clients log in as the trust user (a raw client speaks no SCRAM); everyone else is alice.
        try (ProxyServer proxy = new ProxyServer("127.0.0.1:0", request -> BackendConfig.builder().host(pg.host())
                .port(pg.port()).user(request.user().equals("raw") ? TestServers.TRUST_USER : TestServers.ALICE)
                .database(Jdbc.DATABASE).build()).start();
             ExecutorService threads = Executors.newVirtualThreadPerTaskExecutor()) {
            if (pgbench) {
                Pgbench.run(proxy.port(), dir.resolve("init.log"), 120, "-i", "-s", "1", "-q");
                Process warmup = Pgbench.start(proxy.port(), dir.resolve("warmup.log"), "-n", "-c", "2", "-T", "2");
                runClients(proxy, threads, Duration.ofSeconds(2));
                Pgbench.finish(warmup, dir.resolve("warmup.log"), 60);
            } else {
                runClients(proxy, threads, Duration.ofSeconds(2));
            }
            Probe.awaitIdle(proxy, Duration.ofSeconds(5));
            long historyBefore = pgbench ? history(pg) : 0;
            long heapBefore = Probe.heapAfterGc();
            long fdsBefore = Probe.openFileDescriptors();

            Clients clients;
            long processed = 0;
            try (LogCapture warnings = LogCapture.withLevels(Map.of("dev.pgmux", Level.WARN))) {
                List<Process> runs = new ArrayList<>();
                if (pgbench) {
                    runs.add(Pgbench.start(proxy.port(), dir.resolve("persistent.log"),
                            "-n", "-c", "4", "-j", "2", "-T", String.valueOf(seconds)));
                    runs.add(Pgbench.start(proxy.port(), dir.resolve("reconnecting.log"),
                            "-n", "-C", "-c", "2", "-j", "1", "-T", String.valueOf(seconds)));
                }
                clients = runClients(proxy, threads, Duration.ofSeconds(seconds));
                String[] logs = {"persistent.log", "reconnecting.log"};
                for (int i = 0; i < runs.size(); i++) {
                    Pgbench.Result r = Pgbench.finish(runs.get(i), dir.resolve(logs[i]), seconds + 60L);
                    assertThat(r.failed()).as(r.output()).isZero();
                    assertThat(r.processed()).as(r.output()).isPositive();
                    processed += r.processed();
                }
                assertThat(warnings.events()).as(warnings.text()).isEmpty();
            }
            assertThat(clients.errors()).as("pgjdbc client errors").isEmpty();
            assertThat(clients.sessions.get()).isPositive();
            if (pgbench) {
                assertThat(history(pg) - historyBefore).as("history rows").isEqualTo(processed);
            }

            Probe.awaitIdle(proxy, Duration.ofSeconds(10));
            long heapAfter = Probe.heapAfterGc();
            long fdsAfter = Probe.openFileDescriptors();
            log.info("soak done seconds={} pgbench_transactions={} jdbc_sessions={} jdbc_queries={} cancels={} resets={}"
                            + " heap_before_mb={} heap_after_mb={} fds_before={} fds_after={}", seconds, processed,
                    clients.sessions.get(), clients.queries.get(), clients.cancels.get(), clients.resets.get(),
                    heapBefore >> 20, heapAfter >> 20, fdsBefore, fdsAfter);
            assertThat(heapAfter - heapBefore).as("heap growth after GC, bytes").isLessThan(HEAP_SLACK);
            assertThat(fdsAfter - fdsBefore).as("file descriptors left open").isLessThanOrEqualTo(FD_SLACK);
            proxy.close(Duration.ofSeconds(1));
        }
    }

    static long history(LocalPostgres pg) throws SQLException {
        try (Connection c = pg.connect(Jdbc.DATABASE, TestServers.ALICE, TestServers.ALICE_PASSWORD)) {
            return Long.parseLong(Jdbc.one(c, "select count(*) from pgbench_history"));
        }
    }

    /** What the pgjdbc clients did, and the errors they saw. */
    record Clients(AtomicLong sessions, AtomicLong queries, AtomicLong cancels, AtomicLong resets,
                   List<Throwable> failures) {
        List<String> errors() {
            return failures.stream().map(Throwable::toString).toList();
        }
    }

    /**
     * Three pgjdbc clients, each in a loop until {@code time} is up: connect, a few queries (simple, prepared,
     * a transaction), every fifth session a cancelled pg_sleep, every seventh a raw session that ends with an RST.
     */
    static Clients runClients(ProxyServer proxy, ExecutorService threads, Duration time) throws Exception {
        Clients c = new Clients(new AtomicLong(), new AtomicLong(), new AtomicLong(), new AtomicLong(),
                java.util.Collections.synchronizedList(new ArrayList<>()));
        long end = System.nanoTime() + time.toNanos();
        List<Future<?>> loops = new ArrayList<>();
        for (int t = 0; t < 3; t++) {
            loops.add(threads.submit(() -> {
                while (System.nanoTime() < end) {
                    long n = c.sessions().incrementAndGet();
                    try {
                        if (n % 7 == 0) {
                            Peer peer = Peer.connect(proxy.port());
                            peer.login(params("user", "raw", "database", Jdbc.DATABASE));
                            peer.send(Frames.query("select pg_sleep(0.2)"));
                            peer.reset();
                            c.resets().incrementAndGet();
                            continue;
                        }
                        try (Connection conn = Jdbc.connect(proxy.port(), TestServers.ALICE, TestServers.ALICE_PASSWORD,
                                Jdbc.DATABASE, new java.util.Properties())) {
                            session(conn, n, c, threads);
                        }
                    } catch (Throwable e) {
                        c.failures().add(e);
                    }
                }
                return null;
            }));
        }
        for (Future<?> f : loops) {
            f.get(time.toSeconds() + 60, TimeUnit.SECONDS);
        }
        return c;
    }

    static void session(Connection conn, long n, Clients c, ExecutorService threads) throws Exception {
        for (int i = 0; i < 5; i++) {
            assertThat(Jdbc.one(conn, "select " + i)).isEqualTo(String.valueOf(i));
            c.queries().incrementAndGet();
        }
        try (PreparedStatement ps = conn.prepareStatement("select ?::int + 1")) {
            for (int i = 0; i < 10; i++) {
                ps.setInt(1, i);
                try (ResultSet rs = ps.executeQuery()) {
                    rs.next();
                    assertThat(rs.getInt(1)).isEqualTo(i + 1);
                }
                c.queries().incrementAndGet();
            }
        }
        conn.setAutoCommit(false);
        assertThat(Jdbc.one(conn, "select count(*) from generate_series(1, 1000)")).isEqualTo("1000");
        conn.commit();
        conn.setAutoCommit(true);
        if (n % 5 == 0) {
            try (Statement s = conn.createStatement()) {
                Future<String> sleeping = threads.submit(() -> {
                    try {
                        s.execute("select pg_sleep(10)");
                        return "finished";
                    } catch (SQLException e) {
                        return e.getSQLState();
                    }
                });
                Thread.sleep(100);
                s.cancel();
                assertThat(sleeping.get(10, TimeUnit.SECONDS)).isEqualTo("57014");
                c.cancels().incrementAndGet();
            }
        }
    }
}
