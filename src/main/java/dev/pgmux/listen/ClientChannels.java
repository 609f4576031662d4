package dev.pgmux.listen;

import dev.pgmux.ProxyProtocol;
import dev.pgmux.session.ClientHandler;
import dev.pgmux.session.ProxyContext;
import io.netty.channel.Channel;
import io.netty.channel.ChannelInitializer;
import java.net.InetSocketAddress;

/**
 * Sets up each accepted client channel: the session's handler, and before it, for a peer that is a trusted load
 * balancer, the PROXY header's decoder and reader. Every other connection's pipeline is only the session's handler,
 * so the header costs nothing where it is not used. Shared by all listeners; the trust list can change while
 * running (a reload) and applies to new connections.
 */
public final class ClientChannels extends ChannelInitializer<Channel> {
    private final ProxyContext proxy;
    private volatile ProxyProtocol proxyProtocol;

    /** @param proxyProtocol the load balancers that send PROXY headers, or null for none */
    public ClientChannels(ProxyContext proxy, ProxyProtocol proxyProtocol) {
        this.proxy = proxy;
        this.proxyProtocol = proxyProtocol;
    }

    /** Replaces the trusted load balancers for new connections (null: none). */
    public void proxyProtocol(ProxyProtocol proxyProtocol) {
        this.proxyProtocol = proxyProtocol;
    }

    @Override
    protected void initChannel(Channel ch) {
        ProxyProtocol trusted = proxyProtocol;
        if (trusted != null && ch.remoteAddress() instanceof InetSocketAddress peer
                && trusted.trusts(peer.getAddress())) {
            ProxyHeaderDecoder decoder = new ProxyHeaderDecoder();
            ch.pipeline().addLast("proxy-header", decoder)
                    .addLast("proxy-header-reader", new ProxyHeaderReader(decoder, proxy.limits().loginTimeout()));
        }
        ch.pipeline().addLast("pgmux", new ClientHandler(proxy));
    }
}
