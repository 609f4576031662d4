package dev.pgmux.reliability;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.pgmux.BackendConfig;
import dev.pgmux.ProxyServer;
import dev.pgmux.embedded.LocalPostgres;
import dev.pgmux.testing.TestServers;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.DigestInputStream;
import java.security.DigestOutputStream;
import java.security.MessageDigest;
import java.sql.Connection;
import java.sql.Statement;
import java.time.Duration;
import java.util.HexFormat;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.postgresql.PGConnection;
import org.postgresql.copy.CopyManager;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Nothing is lost or changed on the way: a large COPY in and out through pgmux has the checksum of the data sent
 * and of the same COPY taken directly from the server, and pgbench through pgmux leaves exactly as many rows in
 * {@code pgbench_history} as transactions it reports.
 *
 * <p>CI copies {@value #DEFAULT_MB} MB; {@code -Dpgmux.copy.mb=1024} copies 1 GB.
 */
class NothingLostIT {
    private static final Logger log = LoggerFactory.getLogger(NothingLostIT.class);
    static final int DEFAULT_MB = 256;

    static LocalPostgres pg;
    static ProxyServer proxy;

    @BeforeAll
    static void start() throws Exception {
        pg = TestServers.pg17b();
        Jdbc.ensureDatabase(pg);
        proxy = new ProxyServer("127.0.0.1:0", request -> BackendConfig.builder().host(pg.host()).port(pg.port())
                .user(TestServers.ALICE).build()).start();
    }

    @AfterAll
    static void stop() {
        if (proxy != null) {
            proxy.close(Duration.ofSeconds(1));
        }
    }

    @Test
    void aLargeCopyInAndOutKeepsEveryByte() throws Exception {
        long size = Long.getLong("pgmux.copy.mb", DEFAULT_MB) << 20;
        try (Connection c = Jdbc.connect(proxy.port(), TestServers.ALICE, TestServers.ALICE_PASSWORD, Jdbc.DATABASE,
                new java.util.Properties());
             Connection direct = pg.connect(Jdbc.DATABASE, TestServers.ALICE, TestServers.ALICE_PASSWORD)) {
            try (Statement s = c.createStatement()) {
                s.execute("drop table if exists copy_data");
                s.execute("create unlogged table copy_data(n bigint, payload text)");
            }
            long t0 = System.nanoTime();
            Rows rows = new Rows(size);
            MessageDigest sent = MessageDigest.getInstance("SHA-256");
            CopyManager viaProxy = c.unwrap(PGConnection.class).getCopyAPI();
            long copied = viaProxy.copyIn("copy copy_data from stdin", new DigestInputStream(rows, sent));
            assertThat(copied).isEqualTo(rows.count());
            long t1 = System.nanoTime();

            Sink outViaProxy = new Sink();
            viaProxy.copyOut("copy copy_data to stdout", outViaProxy.stream());
            long t2 = System.nanoTime();
            Sink outDirect = new Sink();
            direct.unwrap(PGConnection.class).getCopyAPI().copyOut("copy copy_data to stdout", outDirect.stream());

            log.info("copy through pgmux mb={} rows={} in_seconds={} out_seconds={}", rows.bytes() >> 20, copied,
                    (t1 - t0) / 1e9, (t2 - t1) / 1e9);
            String in = HexFormat.of().formatHex(sent.digest());
            assertThat(outViaProxy.bytes()).isEqualTo(rows.bytes());
            assertThat(outViaProxy.sha256()).as("COPY OUT through pgmux").isEqualTo(in);
            assertThat(outDirect.sha256()).as("COPY OUT directly").isEqualTo(in);
            try (Statement s = c.createStatement()) {
                s.execute("drop table copy_data");
            }
        }
        Probe.awaitIdle(proxy, Duration.ofSeconds(5));
    }

    @Test
    void pgbenchThroughPgmuxLeavesOneHistoryRowPerTransaction(@TempDir Path dir) throws Exception {
        assumeTrue(Pgbench.installed(), "pgbench is not installed");
        Pgbench.run(proxy.port(), dir.resolve("init.log"), 120, "-i", "-s", "1", "-q");
        // The first run truncates pgbench_history first; the second (-n) adds to it, with prepared statements.
        Pgbench.Result simple = Pgbench.run(proxy.port(), dir.resolve("simple.log"), 120,
                "-c", "4", "-j", "2", "-t", "250");
        Pgbench.Result prepared = Pgbench.run(proxy.port(), dir.resolve("prepared.log"), 120,
                "-n", "-M", "prepared", "-c", "4", "-j", "2", "-t", "250");
        assertThat(simple.processed()).as(simple.output()).isEqualTo(1000);
        assertThat(prepared.processed()).as(prepared.output()).isEqualTo(1000);
        assertThat(simple.failed() + prepared.failed()).isZero();
        try (Connection direct = pg.connect(Jdbc.DATABASE, TestServers.ALICE, TestServers.ALICE_PASSWORD)) {
            assertThat(Long.parseLong(Jdbc.one(direct, "select count(*) from pgbench_history")))
                    .isEqualTo(simple.processed() + prepared.processed());
            // Every transaction's update reached the accounts as well: the deltas add up on both sides.
            assertThat(Jdbc.one(direct, "select sum(delta) from pgbench_history"))
                    .isEqualTo(Jdbc.one(direct, "select sum(abalance) from pgbench_accounts"));
        }
        Probe.awaitIdle(proxy, Duration.ofSeconds(5));
    }

    /**
     * COPY text rows generated as they are read, until {@code size} bytes: a number, a tab, and a payload with
     * multi-byte characters and an escaped backslash (which COPY OUT writes back the same way).
     */
    static final class Rows extends InputStream {
        private final long size;
        private long produced;
        private long count;
        private byte[] line = new byte[0];
        private int pos;

        Rows(long size) {
            this.size = size;
        }

        long count() {
            return count;
        }

        long bytes() {
            return produced;
        }

        private boolean next() {
            if (produced >= size) {
                return false;
            }
            long n = count++;
            String payload = "row " + n + " é ü ∑ \\\\ " + Long.toHexString(n * 0x9E3779B97F4A7C15L) + " "
                    + "abcdefghijklmnopqrstuvwxyz0123456789".repeat(5);
            line = (n + "\t" + payload + "\n").getBytes(StandardCharsets.UTF_8);
            pos = 0;
            produced += line.length;
            return true;
        }

        @Override
        public int read() {
            if (pos == line.length && !next()) {
                return -1;
            }
            return line[pos++] & 0xFF;
        }

        @Override
        public int read(byte[] b, int off, int len) {
            if (len == 0) {
                return 0;
            }
            int n = 0;
            while (n < len) {
                if (pos == line.length && !next()) {
                    break;
                }
                int k = Math.min(len - n, line.length - pos);
                System.arraycopy(line, pos, b, off + n, k);
                pos += k;
                n += k;
            }
            return n == 0 ? -1 : n;
        }
    }

    /** Counts and hashes what is written to it, keeping nothing. */
    static final class Sink {
        private final MessageDigest digest;
        private long bytes;

        Sink() throws Exception {
            digest = MessageDigest.getInstance("SHA-256");
        }

        OutputStream stream() {
            return new DigestOutputStream(new OutputStream() {
                @Override
                public void write(int b) {
                    bytes++;
                }

                @Override
                public void write(byte[] b, int off, int len) throws IOException {
                    bytes += len;
                }
            }, digest);
        }

        long bytes() {
            return bytes;
        }

        String sha256() {
            return HexFormat.of().formatHex(digest.digest());
        }
    }
}
