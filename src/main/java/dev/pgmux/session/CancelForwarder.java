package dev.pgmux.session;

import dev.pgmux.cancel.CancelRegistry;
import dev.pgmux.protocol.BackendMessages;
import io.netty.bootstrap.Bootstrap;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoop;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Sends a CancelRequest with a backend's own key on a new connection to that backend, then closes. Like libpq,
 * it uses plain TCP: PostgreSQL accepts cancel requests whatever its TLS settings are.
 */
final class CancelForwarder {
    private static final Logger log = LoggerFactory.getLogger(CancelForwarder.class);

    private CancelForwarder() {
    }

    static void forward(EventLoop loop, ProxyContext ctx, CancelRegistry.Target target) {
        new Bootstrap().group(loop).channel(ctx.transport().socketChannelClass())
                .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, (int) ctx.limits().backendConnectTimeout().toMillis())
                .handler(new ChannelInboundHandlerAdapter())
                .connect(target.backend())
                .addListener((ChannelFutureListener) f -> {
                    if (!f.isSuccess()) {
                        log.warn("cancel request could not reach backend={} error={}", target.backend(),
                                f.cause().getMessage());
                        return;
                    }
                    f.channel().writeAndFlush(BackendMessages.cancelRequest(f.channel().alloc(), target.processId(),
                            target.secret())).addListener(ChannelFutureListener.CLOSE);
                });
    }
}
