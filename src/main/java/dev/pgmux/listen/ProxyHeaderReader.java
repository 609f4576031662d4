package dev.pgmux.listen;

import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.haproxy.HAProxyCommand;
import io.netty.handler.codec.haproxy.HAProxyMessage;
import io.netty.handler.codec.haproxy.HAProxyProtocolException;
import io.netty.handler.codec.haproxy.HAProxyTLV;
import io.netty.util.NetUtil;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.ScheduledFuture;
import java.net.IDN;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Locale;
import java.util.concurrent.TimeUnit;

/**
 * Waits for the PROXY header of a connection from a trusted load balancer, records what it says
 * ({@link ClientAddress}), and only then lets the session start: channelActive is held back until the header is
 * there, so that the session counts the connection against the client's address from its first moment. Then it
 * removes itself.
 *
 * <p>A header that does not decode, or is not complete within the login timeout, closes the connection with a log
 * line (the protocol's section 2: a receiver must not guess). A peer that leaves before its first byte (a
 * balancer's plain TCP health check) is closed without one. LOCAL (v2: the balancer's own connection, such as a
 * health check) and UNKNOWN or AF_UNIX headers name no client address: the connection's own peer counts, as
 * sections 2.1 and 2.2 say ("use the real connection endpoints").
 */
final class ProxyHeaderReader extends ChannelInboundHandlerAdapter {
    /** A host name is at most 253 characters (RFC 1035); a longer authority is not one. */
    private static final int MAX_AUTHORITY = 253;

    private final ProxyHeaderDecoder decoder;
    private final Duration timeout;
    private ScheduledFuture<?> deadline;
    private boolean done;

    ProxyHeaderReader(ProxyHeaderDecoder decoder, Duration timeout) {
        this.decoder = decoder;
        this.timeout = timeout;
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) {
        deadline = ctx.executor().schedule(() -> refuse(ctx, "no complete PROXY protocol header within "
                + timeout.toMillis() + " ms"), timeout.toMillis(), TimeUnit.MILLISECONDS);
        ctx.read(); // AUTO_READ is off
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (!(msg instanceof HAProxyMessage header)) {
            // Bytes after a header that was refused (a good one removes this handler before they come).
            ReferenceCountUtil.release(msg);
            return;
        }
        ClientAddress.Proxied proxied;
        try {
            proxied = proxied(header);
        } catch (IllegalArgumentException e) {
            refuse(ctx, e.getMessage());
            return;
        } finally {
            header.release();
        }
        done = true;
        deadline.cancel(false);
        ctx.channel().attr(ClientAddress.PROXIED).set(proxied);
        ctx.fireChannelActive(); // the session starts, with the client's address
        ctx.pipeline().remove(this);
        // Netty's decoder removes itself next and passes on whatever followed the header.
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) {
        if (!done) {
            ctx.read(); // the rest of the header; the session has not started, so nothing further down waits
        }
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        if (done) {
            ctx.fireExceptionCaught(cause);
        } else if (cause instanceof HAProxyProtocolException) {
            refuse(ctx, cause.getMessage() == null ? "malformed PROXY protocol header" : cause.getMessage());
        } else {
            ProxyHeaders.log.debug("connection error before its PROXY header client={} error={}",
                    ctx.channel().remoteAddress(), cause.toString());
            done = true;
            ctx.close();
        }
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        if (!done) {
            if (decoder.started()) {
                refuse(ctx, "closed in the middle of its PROXY protocol header");
            }
            done = true;
            if (deadline != null) {
                deadline.cancel(false);
            }
        }
        // The session never started: nothing further down to tell.
    }

    private void refuse(ChannelHandlerContext ctx, String reason) {
        if (done) {
            return;
        }
        done = true;
        deadline.cancel(false);
        ProxyHeaders.logRefused(ctx.channel().remoteAddress(), reason);
        ctx.close();
    }

    static ClientAddress.Proxied proxied(HAProxyMessage header) {
        if (header.command() == HAProxyCommand.LOCAL) {
            return new ClientAddress.Proxied(null, null);
        }
        String authority = authority(header);
        return switch (header.proxiedProtocol()) {
            case TCP4, TCP6, UDP4, UDP6 -> {
                InetAddress source = NetUtil.createInetAddressFromIpAddressString(header.sourceAddress());
                if (source == null) {
                    throw new IllegalArgumentException("bad source address in PROXY protocol header");
                }
                yield new ClientAddress.Proxied(new InetSocketAddress(source, header.sourcePort()), authority);
            }
            default -> new ClientAddress.Proxied(null, authority);
        };
    }

    /**
     * The v2 authority TLV (the host name the client asked the balancer for, usually its TLS SNI) as Netty's
     * SniHandler gives a server name: ASCII (IDN), lower case. One that is not a host name is left out.
     */
    private static String authority(HAProxyMessage header) {
        for (HAProxyTLV tlv : header.tlvs()) {
            if (tlv.type() == HAProxyTLV.Type.PP2_TYPE_AUTHORITY) {
                String name = tlv.content().toString(StandardCharsets.UTF_8);
                try {
                    String ascii = IDN.toASCII(name, IDN.ALLOW_UNASSIGNED).toLowerCase(Locale.ROOT);
                    return ascii.isEmpty() || ascii.length() > MAX_AUTHORITY ? null : ascii;
                } catch (IllegalArgumentException e) {
                    return null;
                }
            }
        }
        return null;
    }
}
