package dev.pgmux.session;

import dev.pgmux.pool.ServerStatements;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.PooledByteBufAllocator;
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
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The transaction-pooling hot path of named prepared statements, as a {@code pgbench -M prepared} client drives it:
 * a Bind of the client's statement {@code P_1} looked up among the client's statements, its pgmux name checked in
 * the server's statement cache (an LRU of 500 names), and the Bind rewritten to that name (a new buffer, released);
 * the cache alone, hit and miss-with-eviction; and a Parse's name rewritten.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
@State(Scope.Thread)
public class PooledPathBench {
    private final ByteBufAllocator alloc = PooledByteBufAllocator.DEFAULT;
    private ByteBuf bind;
    private ByteBuf parse;
    private ClientStatements clientStatements;
    private ServerStatements serverStatements;
    private String serverName;
    private long miss;

    @Setup(Level.Trial)
    public void setUp() {
        // Bind: portal "", statement "P_1", one text parameter "761234", one result format (binary)
        ByteBuf body = Unpooled.buffer();
        body.writeByte(0).writeBytes("P_1\0".getBytes(StandardCharsets.US_ASCII));
        body.writeShort(0).writeShort(1).writeInt(6).writeBytes("761234".getBytes(StandardCharsets.US_ASCII));
        body.writeShort(1).writeShort(1);
        bind = Unpooled.directBuffer().writeByte('B').writeInt(4 + body.readableBytes()).writeBytes(body);
        ByteBuf p = Unpooled.buffer();
        p.writeBytes("P_1\0SELECT abalance FROM pgbench_accounts WHERE aid = $1;\0".getBytes(StandardCharsets.US_ASCII));
        p.writeShort(0);
        parse = Unpooled.directBuffer().writeByte('P').writeInt(4 + p.readableBytes()).writeBytes(p);
        clientStatements = new ClientStatements();
        int nameEnd = Frames.end(parse, 5);
        serverName = clientStatements.add("P_1", Frames.parseRest(parse, nameEnd), null).serverName();
        serverStatements = new ServerStatements(ServerStatements.DEFAULT_CAPACITY);
        for (int i = 0; i < ServerStatements.DEFAULT_CAPACITY - 1; i++) {
            serverStatements.add("pgmux_other" + i);
        }
        serverStatements.add(serverName);
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        bind.release();
        parse.release();
    }

    /** The Bind of a statement prepared on this server already: lookups and the rewrite of its name. */
    @Benchmark
    public int bindRewritten() {
        int from = bind.readerIndex() + 5;
        int portalEnd = Frames.end(bind, from);
        int nameEnd = Frames.end(bind, portalEnd + 1);
        String name = Frames.cstring(bind, portalEnd + 1);
        ClientStatements.Prepared p = clientStatements.get(name);
        if (!serverStatements.has(p.serverName())) {
            throw new IllegalStateException();
        }
        ByteBuf out = Frames.rename(alloc, bind, portalEnd + 1, nameEnd, p.serverName());
        int n = out.readableBytes();
        out.release();
        return n;
    }

    /** A Parse sent again under pgmux's name (a statement new on this server). */
    @Benchmark
    public int parseRenamed() {
        int nameEnd = Frames.end(parse, parse.readerIndex() + 5);
        ByteBuf out = Frames.parse(alloc, serverName, Frames.parseRest(parse, nameEnd));
        int n = out.readableBytes();
        out.release();
        return n;
    }

    /** The server's statement cache, a hit. */
    @Benchmark
    public boolean cacheHit() {
        return serverStatements.has(serverName);
    }

    /** The server's statement cache, a new name that evicts the least recently used. */
    @Benchmark
    public String cacheMissEvicts() {
        return serverStatements.add("pgmux_new" + (miss++));
    }
}
