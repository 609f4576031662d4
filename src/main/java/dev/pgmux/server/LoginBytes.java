package dev.pgmux.server;

import io.netty.buffer.ByteBuf;
import io.netty.handler.codec.ByteToMessageDecoder;
import io.netty.util.ReferenceCountUtil;

/**
 * What a client sent while its server connection logs in. Relayed logins send it on at once and keep a copy for
 * the next host until the owner commits to one (a host that fails before then needs the bytes again); logins that
 * pgmux answers itself hold it until the server is ready (the server would take it for an answer to its own
 * authentication request).
 */
final class LoginBytes {
    private final boolean holdUntilReady;
    private ByteBuf kept;
    private boolean committed;

    LoginBytes(boolean holdUntilReady) {
        this.holdUntilReady = holdUntilReady;
    }

    boolean holdsUntilReady() {
        return holdUntilReady;
    }

    boolean committed() {
        return committed;
    }

    /**
     * Takes client bytes over.
     *
     * @return the bytes to send to the server now, or null when they wait
     */
    ByteBuf add(ByteBuf bytes, boolean serverTakesThem) {
        if (holdUntilReady) {
            kept = kept == null ? bytes : ByteToMessageDecoder.MERGE_CUMULATOR.cumulate(bytes.alloc(), kept, bytes);
            return null;
        }
        if (!committed) {
            kept = kept == null ? bytes.retainedDuplicate()
                    : ByteToMessageDecoder.MERGE_CUMULATOR.cumulate(bytes.alloc(), kept, bytes.retainedDuplicate());
        }
        if (serverTakesThem) {
            return bytes;
        }
        bytes.release(); // still connecting: the copy is sent after the startup message
        return null;
    }

    /** What a new host gets after its startup message (a copy), or null. */
    ByteBuf replay() {
        return kept == null || holdUntilReady ? null : kept.retainedDuplicate();
    }

    /** The owner committed to the current host: the copy for another host is no longer needed. */
    void commit() {
        committed = true;
        if (!holdUntilReady) {
            release();
        }
    }

    /** What waited for the server to be ready, handed over (null if nothing). */
    ByteBuf takeHeld() {
        if (!holdUntilReady) {
            return null;
        }
        ByteBuf held = kept;
        kept = null;
        return held;
    }

    void release() {
        ReferenceCountUtil.release(kept);
        kept = null;
    }
}
