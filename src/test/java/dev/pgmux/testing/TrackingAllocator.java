package dev.pgmux.testing;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.buffer.AbstractByteBufAllocator;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.UnpooledDirectByteBuf;
import io.netty.buffer.UnpooledHeapByteBuf;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/** Hands out unpooled buffers and remembers each, so that a test can check all were released. */
public final class TrackingAllocator extends AbstractByteBufAllocator {
    private final List<ByteBuf> allocated = new CopyOnWriteArrayList<>();

    public TrackingAllocator() {
        super(false);
    }

    @Override
    protected ByteBuf newHeapBuffer(int initialCapacity, int maxCapacity) {
        return track(new UnpooledHeapByteBuf(this, initialCapacity, maxCapacity));
    }

    @Override
    protected ByteBuf newDirectBuffer(int initialCapacity, int maxCapacity) {
        return track(new UnpooledDirectByteBuf(this, initialCapacity, maxCapacity));
    }

    private ByteBuf track(ByteBuf buf) {
        allocated.add(buf);
        return buf;
    }

    @Override
    public boolean isDirectBufferPooled() {
        return false;
    }

    /** A new buffer holding {@code bytes}, with room to spare after them. */
    public ByteBuf of(byte[] bytes) {
        return buffer(bytes.length + 64).writeBytes(bytes);
    }

    public int count() {
        return allocated.size();
    }

    public void assertAllReleased() {
        assertThat(allocated).as("buffers allocated").allSatisfy(b ->
                assertThat(b.refCnt()).as("reference count of %s", b).isZero());
    }
}
