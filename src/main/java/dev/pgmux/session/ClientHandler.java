package dev.pgmux.session;

import dev.pgmux.listen.ClientAddress;
import dev.pgmux.transport.Reading;
import io.netty.buffer.ByteBuf;
import io.netty.handler.codec.DecoderException;
import java.io.IOException;
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
        Reading.readComplete(ctx.channel());
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
        // A dead peer, or bytes that are not TLS (the TLS handlers report them as DecoderException): the client's
        // doing, which it could repeat as often as it likes, so one debug line and no stack trace.
        if (cause instanceof IOException || cause instanceof DecoderException) {
            ClientSession.log.debug("client connection error client={} error={}", ClientAddress.of(ctx.channel()),
                    cause.toString());
        } else {
            ClientSession.log.warn("client connection error client={}", ClientAddress.of(ctx.channel()), cause);
        }
        // The connection is unusable (reset, or a TLS stream that no longer decodes): end the session as for a
        // client that left, which also cancels a query it left running. A reset never reaches channelInactive
        // first, and a server busy in pg_sleep or a long scan would not notice its socket closing.
        if (session != null) {
            session.onClientClosed();
        }
        ctx.close();
    }
}
