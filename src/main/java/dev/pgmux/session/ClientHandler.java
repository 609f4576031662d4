package dev.pgmux.session;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.ssl.SniCompletionEvent;
import io.netty.handler.ssl.SslHandshakeCompletionEvent;

/** The client channel's handler: turns its events into {@link ClientSession} calls. */
public final class ClientHandler extends ChannelInboundHandlerAdapter {
    private final ProxyContext proxy;
    private ClientSession session;

    public ClientHandler(ProxyContext proxy) {
        this.proxy = proxy;
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) {
        session = new ClientSession(proxy, ctx.channel());
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        session.onClientRead((ByteBuf) msg);
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) {
        session.onClientReadComplete();
    }

    @Override
    public void channelWritabilityChanged(ChannelHandlerContext ctx) {
        session.onClientWritabilityChanged();
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
        if (evt instanceof SniCompletionEvent sni) {
            session.onClientSni(sni.isSuccess() ? sni.hostname() : null);
        } else if (evt instanceof SslHandshakeCompletionEvent hs) {
            session.onClientTlsHandshake(hs.cause());
        }
        ctx.fireUserEventTriggered(evt);
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        if (session != null) {
            session.onClientClosed();
        }
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        if (session != null) {
            session.onClientException(cause);
        } else {
            ctx.close();
        }
    }
}
