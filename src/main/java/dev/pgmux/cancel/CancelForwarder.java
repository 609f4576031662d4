package dev.pgmux.cancel;

import dev.pgmux.Limits;
import dev.pgmux.protocol.StartupPacket.CancelRequest;
import dev.pgmux.protocol.StartupPacket.PeerCancelRequest;
import dev.pgmux.transport.Transport;
import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoop;
import java.net.InetSocketAddress;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Sends a CancelRequest with a backend's own key on a new connection to that backend, then closes. Like libpq,
 * it uses plain TCP: PostgreSQL accepts cancel requests whatever its TLS settings are.
 */
public final class CancelForwarder {
    private static final Logger log = LoggerFactory.getLogger(CancelForwarder.class);

    private CancelForwarder() {
    }

    public static void forward(EventLoop loop, Transport transport, Limits limits, CancelRegistry.Target target) {
        send(loop, transport, limits, target.backend(), "backend",
                alloc -> new CancelRequest(target.processId(), target.secret()).encode(alloc));
    }

    /** Passes a client's cancel request on to the instance of the cluster that handed out its key. */
    public static void toPeer(EventLoop loop, Transport transport, Limits limits, InetSocketAddress peer, int processId,
                              byte[] secret) {
        send(loop, transport, limits, peer, "peer", alloc -> new PeerCancelRequest(processId, secret).encode(alloc));
    }

    private static void send(EventLoop loop, Transport transport, Limits limits, InetSocketAddress to, String what,
                             Function<ByteBufAllocator, ByteBuf> packet) {
        new Bootstrap().group(loop).channel(transport.socketChannelClass())
                .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, (int) limits.backendConnectTimeout().toMillis())
                .handler(new ChannelInboundHandlerAdapter())
                .connect(to)
                .addListener((ChannelFutureListener) f -> {
                    if (!f.isSuccess()) {
                        log.warn("cancel request could not reach {}={} error={}", what, to, f.cause().getMessage());
                        return;
                    }
                    f.channel().writeAndFlush(packet.apply(f.channel().alloc())).addListener(ChannelFutureListener.CLOSE);
                });
    }
}
