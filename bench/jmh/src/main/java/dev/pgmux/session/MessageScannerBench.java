package dev.pgmux.session;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
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
import org.openjdk.jmh.annotations.Warmup;

/**
 * The header scanner that runs on every buffer pgmux forwards ({@link MessageScanner#scan}), over the streams of
 * the benchmark scenarios: the answer to one {@code pgbench -S} query, a frontend stream of simple queries, 64 KB
 * of 100-byte DataRows and 64 KB of 8 KB CopyData messages. {@code chunk} cuts the stream into buffers of that
 * size (0: one buffer), as reads from a socket do, so that headers straddle buffers.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class MessageScannerBench {

    @Param({"select1", "queries", "datarows", "copydata"})
    public String stream;

    @Param({"0", "1021"})
    public int chunk;

    private final List<ByteBuf> buffers = new ArrayList<>();
    private MessageScanner scanner;

    @Setup(Level.Trial)
    public void setUp() {
        ByteBuf all = Unpooled.buffer();
        switch (stream) {
            case "select1" -> selectOneAnswer(all);
            case "queries" -> {
                while (all.readableBytes() < 65536) {
                    message(all, 'Q', "SELECT abalance FROM pgbench_accounts WHERE aid = 761234;\0"
                            .getBytes(StandardCharsets.UTF_8));
                }
            }
            case "datarows" -> {
                byte[] row = new byte[95];
                while (all.readableBytes() < 65536) {
                    message(all, 'D', row);
                }
            }
            case "copydata" -> {
                byte[] data = new byte[8192];
                while (all.readableBytes() < 65536) {
                    message(all, 'd', data);
                }
            }
            default -> throw new IllegalArgumentException(stream);
        }
        int step = chunk == 0 ? all.readableBytes() : chunk;
        for (int i = 0; i < all.readableBytes(); i += step) {
            int n = Math.min(step, all.readableBytes() - i);
            ByteBuf b = Unpooled.directBuffer(n);
            b.writeBytes(all, i, n);
            buffers.add(b);
        }
        all.release();
        scanner = new MessageScanner(!stream.equals("select1") && !stream.equals("datarows"));
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        buffers.forEach(ByteBuf::release);
        buffers.clear();
    }

    /** Scans the whole stream; the result (messages that await or are a ReadyForQuery) keeps the work alive. */
    @Benchmark
    public long scan() {
        for (int i = 0; i < buffers.size(); i++) {
            scanner.scan(buffers.get(i));
        }
        return scanner.syncPoints();
    }

    /** RowDescription, DataRow, CommandComplete and ReadyForQuery, as PostgreSQL answers pgbench's select. */
    private static void selectOneAnswer(ByteBuf out) {
        ByteBuf body = Unpooled.buffer();
        body.writeShort(1);
        body.writeBytes("abalance\0".getBytes(StandardCharsets.UTF_8));
        body.writeInt(16397).writeShort(3).writeInt(23).writeShort(4).writeInt(-1).writeShort(0);
        message(out, 'T', bytes(body));
        body.clear().writeShort(1).writeInt(4).writeBytes("1234".getBytes(StandardCharsets.UTF_8));
        message(out, 'D', bytes(body));
        message(out, 'C', "SELECT 1\0".getBytes(StandardCharsets.UTF_8));
        message(out, 'Z', new byte[] {'I'});
        body.release();
    }

    private static byte[] bytes(ByteBuf b) {
        byte[] a = new byte[b.readableBytes()];
        b.getBytes(b.readerIndex(), a);
        return a;
    }

    private static void message(ByteBuf out, char type, byte[] body) {
        out.writeByte(type).writeInt(4 + body.length).writeBytes(body);
    }
}
