package dev.pgmux.listen;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.haproxy.HAProxyMessageDecoder;
import io.netty.handler.codec.haproxy.HAProxyProtocolException;
import io.netty.util.ReferenceCountUtil;

/**
 * Netty's PROXY header decoder (v1 and v2), which first checks that the connection starts like a header. Without
 * that check a client that reached pgmux past its load balancer would wait for an answer to its SSLRequest (8
 * bytes) while the decoder waits for the 13 bytes it needs to choose a version, or for a v1 line end. Like Netty's
 * decoder it removes itself once the header is decoded; what the client sent after the header goes on as bytes.
 */
final class ProxyHeaderDecoder extends HAProxyMessageDecoder {
    /**
     * The most v2 TLV bytes taken (Netty counts them beyond the largest address block, AF_UNIX's 216 bytes). Load
     * balancers send a few short ones: the authority (at most 255 bytes), a unique id (at most 128), TLS details, a
     * cloud's endpoint id; the protocol would allow 64 KiB.
     */
    static final int MAX_TLV_BYTES = 4096;

    /** The signature being matched (chosen by the first byte), and how much of it has been seen. */
    private byte[] signature;
    private int matched;
    private boolean refused;

    ProxyHeaderDecoder() {
        super(MAX_TLV_BYTES);
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) throws Exception {
        if (refused) {
            ReferenceCountUtil.release(msg); // read before the close took effect
            return;
        }
        if (msg instanceof ByteBuf buf && (signature == null || matched < signature.length) && !matches(buf)) {
            refused = true;
            buf.release();
            ctx.close();
            // Through exceptionCaught to ProxyHeaderReader, which logs it.
            throw new HAProxyProtocolException("the connection does not start with a PROXY protocol header");
        }
        super.channelRead(ctx, msg);
    }

    /** Whether any byte has arrived. */
    boolean started() {
        return signature != null;
    }

    /** Whether the bytes of {@code buf} continue the signature as far as they go. */
    private boolean matches(ByteBuf buf) {
        int i = buf.readerIndex();
        int end = buf.writerIndex();
        if (signature == null) {
            if (i == end) {
                return true; // nothing to judge yet
            }
            signature = ProxyHeaders.signatureStartingWith(buf.getByte(i));
            if (signature == null) {
                return false;
            }
        }
        for (; i < end && matched < signature.length; i++, matched++) {
            if (buf.getByte(i) != signature[matched]) {
                return false;
            }
        }
        return true;
    }
}
