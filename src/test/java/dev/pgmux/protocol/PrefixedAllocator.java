package dev.pgmux.protocol;

import io.netty.buffer.AbstractByteBufAllocator;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.UnpooledDirectByteBuf;
import io.netty.buffer.UnpooledHeapByteBuf;
import java.util.Arrays;

/**
 * An allocator whose buffers already hold a few bytes when the encoder gets them, so that the message starts at a
 * non-zero writer index. An encoder that patches its length word at index 1 instead of relative to the message
 * start overwrites the prefix and writes a wrong length.
 */
public final class PrefixedAllocator extends AbstractByteBufAllocator {
    public static final byte FILL = (byte) 0xA5;

    private final int prefix;

    public PrefixedAllocator(int prefix) {
        super(false);
        this.prefix = prefix;
    }

    @Override
    protected ByteBuf newHeapBuffer(int initialCapacity, int maxCapacity) {
        return fill(new UnpooledHeapByteBuf(this, initialCapacity + prefix, Math.max(maxCapacity, initialCapacity + prefix)));
    }

    @Override
    protected ByteBuf newDirectBuffer(int initialCapacity, int maxCapacity) {
        return fill(new UnpooledDirectByteBuf(this, initialCapacity + prefix, Math.max(maxCapacity, initialCapacity + prefix)));
    }

    private ByteBuf fill(ByteBuf buf) {
        for (int i = 0; i < prefix; i++) {
            buf.writeByte(FILL);
        }
        return buf;
    }

    @Override
    public boolean isDirectBufferPooled() {
        return false;
    }

    /** The prefix this allocator writes, for comparisons. */
    public byte[] prefixBytes() {
        byte[] b = new byte[prefix];
        Arrays.fill(b, FILL);
        return b;
    }

    /** Everything the buffer holds from index 0, releasing it. */
    public static byte[] drain(ByteBuf buf) {
        try {
            byte[] all = new byte[buf.writerIndex()];
            buf.getBytes(0, all);
            return all;
        } finally {
            buf.release();
        }
    }
}
