package dev.pgmux.reliability;

import static org.assertj.core.api.Assertions.assertThat;

import dev.pgmux.ProxyServer;
import dev.pgmux.session.ProxyContext;
import dev.pgmux.testing.Await;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.ByteBufAllocatorMetric;
import io.netty.buffer.ByteBufAllocatorMetricProvider;
import io.netty.buffer.PooledByteBufAllocator;
import io.netty.util.internal.PlatformDependent;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.management.BufferPoolMXBean;
import java.lang.management.ManagementFactory;
import java.lang.reflect.Field;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.stream.Stream;

/**
 * What the reliability tests look at from outside: a running proxy's counters, live sessions and cancel keys,
 * and this JVM's file descriptors and buffer memory ({@link dev.pgmux.testing.PgStatActivity}: the backends').
 */
final class Probe {
    private Probe() {
    }

    /**
     * The proxy's shared state. {@link ProxyServer} exposes only {@link ProxyServer#stats()}; the live-session
     * set and the cancel registry are what a leak would grow, so the tests read them directly.
     */
    static ProxyContext context(ProxyServer proxy) {
        try {
            Field f = ProxyServer.class.getDeclaredField("context");
            f.setAccessible(true);
            return (ProxyContext) f.get(proxy);
        } catch (ReflectiveOperationException e) {
            throw new AssertionError("ProxyServer has no field 'context' any more; update this probe", e);
        }
    }

    static int sessions(ProxyServer proxy) {
        return context(proxy).sessions().size();
    }

    static int cancelKeys(ProxyServer proxy) {
        return context(proxy).cancels().size();
    }

    /** Waits until the proxy has no connection, no session and no cancel key left. */
    static void awaitIdle(ProxyServer proxy, Duration within) {
        Await.until(within, () -> "current=" + proxy.stats().current() + " sessions=" + sessions(proxy) + " cancelKeys="
                + cancelKeys(proxy), () -> proxy.stats().current() == 0 && sessions(proxy) == 0 && cancelKeys(proxy) == 0);
    }

    static long openFileDescriptors() {
        try (Stream<Path> fds = Files.list(Path.of("/proc/self/fd"))) {
            return fds.count();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The soft limit on open files of this process ({@code ulimit -n}). */
    static long fileDescriptorLimit() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/limits"))) {
                if (line.startsWith("Max open files")) {
                    String soft = line.substring("Max open files".length()).trim().split("\\s+")[0];
                    return soft.equals("unlimited") ? Long.MAX_VALUE : Long.parseLong(soft);
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return 1024;
    }

    /**
     * Bytes of buffer memory in use: Netty's allocators (heap arenas, and direct memory as Netty counts it) and the
     * JDK's direct buffers. The proxy runs in this JVM, so this is where a proxy that buffers instead of applying
     * backpressure grows.
     */
    static long bufferMemory() {
        long heap = allocatorMetric(ByteBufAllocator.DEFAULT, false);
        long direct = allocatorMetric(ByteBufAllocator.DEFAULT, true);
        if (ByteBufAllocator.DEFAULT != PooledByteBufAllocator.DEFAULT) {
            heap += allocatorMetric(PooledByteBufAllocator.DEFAULT, false);
            direct += allocatorMetric(PooledByteBufAllocator.DEFAULT, true);
        }
        // Netty's own counter covers the allocators' direct chunks (when it keeps one), so the larger of the two.
        direct = Math.max(direct, PlatformDependent.usedDirectMemory());
        return heap + direct + jdkDirect();
    }

    private static long jdkDirect() {
        return ManagementFactory.getPlatformMXBeans(BufferPoolMXBean.class).stream()
                .filter(p -> p.getName().equals("direct")).mapToLong(BufferPoolMXBean::getMemoryUsed).sum();
    }

    private static long allocatorMetric(ByteBufAllocator alloc, boolean direct) {
        if (alloc instanceof ByteBufAllocatorMetricProvider p) {
            ByteBufAllocatorMetric m = p.metric();
            return Math.max(0, direct ? m.usedDirectMemory() : m.usedHeapMemory());
        }
        return 0;
    }

    /** The parts of {@link #bufferMemory()}, for a log line. */
    static String bufferMemoryDetail() {
        return "allocator=" + ByteBufAllocator.DEFAULT.getClass().getSimpleName()
                + " heap=" + allocatorMetric(ByteBufAllocator.DEFAULT, false)
                + " direct=" + allocatorMetric(ByteBufAllocator.DEFAULT, true)
                + " netty_direct=" + PlatformDependent.usedDirectMemory() + " jdk_direct=" + jdkDirect();
    }

    /** Heap in use after full collections (System.gc() twice, as G1 runs it as a full GC). */
    static long heapAfterGc() {
        for (int i = 0; i < 2; i++) {
            System.gc();
            try {
                Thread.sleep(100);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        return ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed();
    }

    static void assertIdle(ProxyServer proxy) {
        assertThat(proxy.stats().current()).as("open client connections").isZero();
        assertThat(sessions(proxy)).as("live sessions").isZero();
        assertThat(cancelKeys(proxy)).as("cancel keys").isZero();
    }
}
