package dev.pgmux.server;

import dev.pgmux.transport.Reading;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.ssl.SslHandshakeCompletionEvent;
import io.netty.util.ReferenceCountUtil;

/**
 * A backend channel's handler: turns its events into {@link ServerConnection} calls. A connection that moved on to
 * another host ignores what its earlier channels still report, and closes them.
 */
final class ServerHandler extends ChannelInboundHandlerAdapter {
    private final ServerConnection server;

    ServerHandler(ServerConnection server) {
        this.server = server;
    }

    private boolean current(ChannelHandlerContext ctx) {
        Channel ch = ctx.channel();
        return server.isChannel(ch);
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) {
        if (current(ctx)) {
            server.onActive();
        } else {
            ctx.close();
        }
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (current(ctx)) {
            server.onRead((ByteBuf) msg);
        } else {
            ReferenceCountUtil.release(msg);
        }
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) {
        if (current(ctx)) {
            server.onReadComplete();
        }
        Reading.readComplete(ctx.channel());
    }

    @Override
    public void channelWritabilityChanged(ChannelHandlerContext ctx) {
        if (current(ctx)) {
            server.onWritabilityChanged();
        }
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
        if (evt instanceof SslHandshakeCompletionEvent hs && current(ctx)) {
            server.onTlsHandshake(hs.cause());
        }
        ctx.fireUserEventTriggered(evt);
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        if (current(ctx)) {
            server.onClosed();
        }
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        if (current(ctx)) {
            server.onException(cause);
        } else {
            ctx.close();
        }
    }
}
