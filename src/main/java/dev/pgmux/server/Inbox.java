package dev.pgmux.server;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.handler.codec.ByteToMessageDecoder;

/** Bytes read from a peer and not yet taken: one cumulation buffer, or none. Released once, by its holder. */
public final class Inbox {
    private ByteBuf buf;

    public void add(ByteBufAllocator alloc, ByteBuf bytes) {
        buf = buf == null ? bytes : ByteToMessageDecoder.MERGE_CUMULATOR.cumulate(alloc, buf, bytes);
    }

    /** The bytes held, or null; still held. */
    public ByteBuf peek() {
        return buf;
    }

    /** How many bytes are held. */
    public int readableBytes() {
        return buf == null ? 0 : buf.readableBytes();
    }

    public boolean isReadable() {
        return buf != null && buf.isReadable();
    }

    /** Hands over what is held (null if nothing). */
    public ByteBuf take() {
        ByteBuf b = buf;
        buf = null;
        if (b != null && !b.isReadable()) {
            b.release();
            return null;
        }
        return b;
    }

    /** Releases the buffer once nothing is left to read in it. */
    public void compact() {
        if (buf != null && !buf.isReadable()) {
            buf.release();
            buf = null;
        }
    }

    public void release() {
        if (buf != null && buf.refCnt() > 0) {
            buf.release();
        }
        buf = null;
    }
}
