package dev.pgmux.protocol;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.Unpooled;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The per-connection codec work: decoding a client's StartupMessage (as libpq and pgjdbc send it) and encoding
 * the rewritten one for the backend. It runs once per connection, so it matters for {@code pgbench -C}.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class StartupPacketBench {

    private ByteBuf packet;
    private StartupPacket.StartupMessage message;

    @Setup(Level.Trial)
    public void setUp() {
        Map<String, String> params = new LinkedHashMap<>();
        params.put("user", "bench");
        params.put("database", "bench");
        params.put("application_name", "pgbench");
        params.put("client_encoding", "UTF8");
        params.put("DateStyle", "ISO");
        params.put("extra_float_digits", "2");
        message = new StartupPacket.StartupMessage(3, 0, params, List.of());
        ByteBuf whole = message.encode(ByteBufAllocator.DEFAULT);
        packet = Unpooled.directBuffer(whole.readableBytes() - 4);
        packet.writeBytes(whole, whole.readerIndex() + 4, whole.readableBytes() - 4);   // without the length word
        whole.release();
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        packet.release();
    }

    @Benchmark
    public StartupPacket decode() throws ProtocolException {
        packet.readerIndex(0);
        return StartupPacket.decode(packet);
    }

    @Benchmark
    public int encode() {
        ByteBuf out = message.encode(ByteBufAllocator.DEFAULT);
        int n = out.readableBytes();
        out.release();
        return n;
    }
}
