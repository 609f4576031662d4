package dev.pgmux.session;

import dev.pgmux.metrics.ProxyMetrics;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Threads;
import org.openjdk.jmh.annotations.Warmup;

/**
 * What timing costs on the forwarding path: one {@code pgbench -S} round trip (its Query, then the server's
 * RowDescription, DataRow, CommandComplete and ReadyForQuery) through a session's two {@link MessageScanner}s, with
 * {@code timed} off (the scanners as before metrics) and on (a {@link RequestClock}: two clock reads and two
 * histogram observations, query and transaction); and one histogram observation alone, from one thread and from
 * two at once (the event loops share the histograms).
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class RequestTimingBench {

    @State(Scope.Thread)
    public static class RoundTrip {
        @Param({"false", "true"})
        public boolean timed;

        ByteBuf query;
        ByteBuf answer;
        MessageScanner fromClient;
        MessageScanner fromServer;

        @Setup(Level.Trial)
        public void setUp() {
            query = Unpooled.directBuffer();
            message(query, 'Q', "SELECT abalance FROM pgbench_accounts WHERE aid = 761234;\0".getBytes(
                    StandardCharsets.UTF_8));
            answer = Unpooled.directBuffer();
            ByteBuf body = Unpooled.buffer();
            body.writeShort(1).writeBytes("abalance\0".getBytes(StandardCharsets.UTF_8));
            body.writeInt(16397).writeShort(3).writeInt(23).writeShort(4).writeInt(-1).writeShort(0);
            message(answer, 'T', body);
            body.clear().writeShort(1).writeInt(4).writeBytes("1234".getBytes(StandardCharsets.UTF_8));
            message(answer, 'D', body);
            message(answer, 'C', "SELECT 1\0".getBytes(StandardCharsets.UTF_8));
            message(answer, 'Z', new byte[] {'I'});
            body.release();
            ProxyMetrics metrics = new ProxyMetrics();
            RequestClock clock = timed ? new RequestClock(metrics, null) : null;
            fromClient = new MessageScanner(true, clock, null);
            fromServer = new MessageScanner(false, clock, timed ? metrics : null);
        }

        @TearDown(Level.Trial)
        public void tearDown() {
            query.release();
            answer.release();
        }
    }

    @State(Scope.Benchmark)
    public static class Shared {
        final ProxyMetrics metrics = new ProxyMetrics();
    }

    @Benchmark
    public long roundTrip(RoundTrip s) {
        s.fromClient.scan(s.query);
        s.fromServer.scan(s.answer);
        return s.fromServer.syncPoints();
    }

    @Benchmark
    @Threads(1)
    public void observeOneThread(Shared s) {
        s.metrics.query(1_234_567);
    }

    @Benchmark
    @Threads(2)
    public void observeTwoThreads(Shared s) {
        s.metrics.query(1_234_567);
    }

    private static void message(ByteBuf out, char type, ByteBuf body) {
        out.writeByte(type).writeInt(4 + body.readableBytes()).writeBytes(body, body.readerIndex(),
                body.readableBytes());
    }

    private static void message(ByteBuf out, char type, byte[] body) {
        out.writeByte(type).writeInt(4 + body.length).writeBytes(body);
    }
}
