package dev.pgmux.reliability;

import static dev.pgmux.testing.RawClient.params;
import static org.assertj.core.api.Assertions.assertThat;

import dev.pgmux.BackendConfig;
import dev.pgmux.ProxyServer;
import dev.pgmux.embedded.LocalPostgres;
import dev.pgmux.reliability.Peer.Message;
import dev.pgmux.testing.PgStatActivity;
import dev.pgmux.testing.TestServers;
import java.io.DataInputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A client that reads a large result slowly, with stalls: pgmux must pass the slowness on to the backend
 * (backpressure) instead of buffering the result. The test measures the proxy's memory while it reads — buffer
 * memory (Netty's allocators, direct memory) sampled all along, and the heap after a full GC during a stall — and
 * sees the backend wait in {@code ClientWrite} while the client stalls. Every row must arrive intact.
 *
 * <p>CI reads {@value #DEFAULT_MB} MB; {@code -Dpgmux.slowreader.mb=1024} reads 1 GB.
 */
class SlowReaderIT {
    private static final Logger log = LoggerFactory.getLogger(SlowReaderIT.class);
    static final int DEFAULT_MB = 300;
    static final long BOUND = 64L << 20;
    static final int ROW = 1000;
    /** Bytes a second the client reads at, between stalls: well below what PostgreSQL and pgmux can deliver. */
    static final long RATE = 150L << 20;

    @Test
    void aSlowReaderOfALargeResultDoesNotGrowTheProxysMemory() throws Exception {
        LocalPostgres pg = TestServers.pg17();
        int rows = Integer.getInteger("pgmux.slowreader.mb", DEFAULT_MB) * (1 << 20) / ROW;
        try (ProxyServer proxy = new ProxyServer("127.0.0.1:0", request -> BackendConfig.builder().host(pg.host())
                .port(pg.port()).user(TestServers.TRUST_USER).build()).start();
             Peer peer = Peer.connectSlow(proxy.port(), 64 * 1024)) {
            peer.login(params("user", "reader", "database", "postgres", "application_name", "pgmux-slow-reader"));
            long baseHeap = Probe.heapAfterGc();
            long baseBuffers = Probe.bufferMemory();

            AtomicBoolean sampling = new AtomicBoolean(true);
            AtomicLong peakBuffers = new AtomicLong(baseBuffers);
            Thread sampler = Thread.ofPlatform().daemon().name("buffer-sampler").start(() -> {
                while (sampling.get()) {
                    peakBuffers.accumulateAndGet(Probe.bufferMemory(), Math::max);
                    try {
                        Thread.sleep(10);
                    } catch (InterruptedException e) {
                        return;
                    }
                }
            });

            peer.send(Frames.query("select repeat('x', " + ROW + ") from generate_series(1, " + rows + ")"));
            DataInputStream in = peer.in();
            Message description = peer.read();
            assertThat(description.type()).as("RowDescription").isEqualTo('T');
            long t0 = System.nanoTime();
            long bytes = 0;
            long stallHeap = 0;
            byte[] body = new byte[2 + 4 + ROW];
            for (int row = 0; row < rows; row++) {
                int type = in.readUnsignedByte();
                int length = in.readInt();
                if (type != 'D' || length != 4 + body.length) {
                    throw new AssertionError("row " + row + ": message " + (char) type + " of length " + length);
                }
                in.readFully(body);
                // Int16 column count 1, Int32 value length ROW, then the value.
                if (body[1] != 1 || ByteBuffer.wrap(body).getInt(2) != ROW || body[6] != 'x'
                        || body[body.length - 1] != 'x') {
                    throw new AssertionError("row " + row + " is not one column of " + ROW + " x");
                }
                bytes += 1 + length;
                if (row == rows / 3 || row == 2 * rows / 3) {
                    // Stall: the backend must end up waiting to write, and pgmux must not hold the result.
                    PgStatActivity.awaitNone(pg, "application_name = 'pgmux-slow-reader'"
                            + " and coalesce(wait_event, '') <> 'ClientWrite'", Duration.ofSeconds(5));
                    stallHeap = Math.max(stallHeap, Probe.heapAfterGc());
                    Thread.sleep(500);
                }
                long ahead = bytes * 1_000_000_000L / RATE - (System.nanoTime() - t0);
                if (ahead > 2_000_000) {
                    Thread.sleep(ahead / 1_000_000);
                }
            }
            Message complete = peer.readUntil('C');
            assertThat(new String(complete.body(), StandardCharsets.UTF_8)).isEqualTo("SELECT " + rows + "\0");
            peer.readUntil('Z');
            sampling.set(false);
            sampler.join();

            log.info("slow reader done mb={} seconds={} buffer_baseline_mb={} buffer_peak_mb={} heap_baseline_mb={}"
                            + " heap_in_stall_mb={}", bytes >> 20, (System.nanoTime() - t0) / 1_000_000_000.0,
                    baseBuffers >> 20, peakBuffers.get() >> 20, baseHeap >> 20, stallHeap >> 20);
            log.info("buffer memory now: {}", Probe.bufferMemoryDetail());
            assertThat(peakBuffers.get() - baseBuffers).as("buffer memory growth, bytes").isLessThan(BOUND);
            assertThat(stallHeap - baseHeap).as("heap growth after GC while the client stalls, bytes").isLessThan(BOUND);
        }
    }
}
