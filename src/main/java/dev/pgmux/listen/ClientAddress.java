package dev.pgmux.listen;

import io.netty.channel.Channel;
import io.netty.channel.unix.DomainSocketAddress;
import io.netty.util.AttributeKey;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.net.UnixDomainSocketAddress;

/**
 * The address a client connection counts as coming from, for routing ({@code client_addr}), per-address limits,
 * logs and the authentication hook: the source address of a trusted load balancer's PROXY header, else the peer's
 * TCP address, else none. A client on a Unix-domain socket has none, as PostgreSQL shows such clients with a
 * {@code client_addr} of NULL.
 */
public final class ClientAddress {

    /**
     * What a PROXY header said, set on the channel before its session starts.
     *
     * @param client    the source address, or null where the header names none (LOCAL, UNKNOWN, a Unix socket): the
     *                  peer's address counts then, as the protocol says
     * @param authority the host name the client asked the load balancer for (v2 TLV {@code PP2_TYPE_AUTHORITY}, TLS
     *                  SNI), in lower case, or null
     */
    record Proxied(InetSocketAddress client, String authority) {
    }

    static final AttributeKey<Proxied> PROXIED = AttributeKey.valueOf(ClientAddress.class, "proxied");

    private ClientAddress() {
    }

    /** The client's address, or null for a client on a Unix-domain socket. */
    public static InetSocketAddress of(Channel channel) {
        Proxied p = proxied(channel);
        if (p != null && p.client() != null) {
            return p.client();
        }
        return channel.remoteAddress() instanceof InetSocketAddress a ? a : null;
    }

    /** The server name the client asked its load balancer for (PROXY v2 authority), or null. */
    public static String authority(Channel channel) {
        Proxied p = proxied(channel);
        return p == null ? null : p.authority();
    }

    /**
     * Whether the connection came in on a Unix-domain socket: no TLS there (SSLRequest gets 'N', as PostgreSQL answers
     * it on a local socket), and no address.
     */
    public static boolean isUnixSocket(Channel channel) {
        SocketAddress local = channel.localAddress();
        return local instanceof DomainSocketAddress || local instanceof UnixDomainSocketAddress;
    }

    private static Proxied proxied(Channel channel) {
        return channel.hasAttr(PROXIED) ? channel.attr(PROXIED).get() : null;
    }
}
