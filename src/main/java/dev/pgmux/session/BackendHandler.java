package dev.pgmux.session;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.ssl.SslHandshakeCompletionEvent;
import io.netty.util.ReferenceCountUtil;

/** The backend channel's handler: turns its events into {@link Session} calls. */
final class BackendHandler extends ChannelInboundHandlerAdapter {
    private final Session session;

    BackendHandler(Session session) {
        this.session = session;
    }

    // A session that moved on to another host of its backend ignores what its earlier connections still report.

    @Override
    public void channelActive(ChannelHandlerContext ctx) {
        if (session.isBackend(ctx.channel())) {
            session.onBackendActive();
        } else {
            ctx.close();
        }
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (session.isBackend(ctx.channel())) {
            session.onBackendRead((ByteBuf) msg);
        } else {
            ReferenceCountUtil.release(msg);
        }
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) {
        if (session.isBackend(ctx.channel())) {
            session.onBackendReadComplete();
        }
    }

    @Override
    public void channelWritabilityChanged(ChannelHandlerContext ctx) {
        if (session.isBackend(ctx.channel())) {
            session.onBackendWritabilityChanged();
        }
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
        if (evt instanceof SslHandshakeCompletionEvent hs && session.isBackend(ctx.channel())) {
            session.onBackendTlsHandshake(hs.cause());
        }
        ctx.fireUserEventTriggered(evt);
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        if (session.isBackend(ctx.channel())) {
            session.onBackendClosed();
        }
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        if (session.isBackend(ctx.channel())) {
            session.onBackendException(cause);
        } else {
            ctx.close();
        }
    }
}
