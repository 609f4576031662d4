package dev.pgmux.session;

import dev.pgmux.cancel.CancelForwarder;
import dev.pgmux.cancel.CancelRegistry;
import dev.pgmux.listen.ClientAddress;
import dev.pgmux.listen.ProxyHeaders;
import dev.pgmux.protocol.ErrorResponse;
import dev.pgmux.server.Inbox;
import dev.pgmux.protocol.ProtocolException;
import dev.pgmux.protocol.SqlState;
import dev.pgmux.protocol.StartupPacket;
import dev.pgmux.protocol.StartupPacket.CancelRequest;
import dev.pgmux.protocol.StartupPacket.GssEncRequest;
import dev.pgmux.protocol.StartupPacket.PeerCancelRequest;
import dev.pgmux.protocol.StartupPacket.SslRequest;
import dev.pgmux.protocol.StartupPacket.StartupMessage;
import dev.pgmux.tls.ServerTls;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.handler.ssl.SniHandler;
import io.netty.handler.ssl.SslHandler;
import java.net.InetSocketAddress;

/**
 * The start of a client connection, up to its StartupMessage, as PostgreSQL's {@code ProcessStartupPacket} handles
 * it: SSLRequest ('S' and TLS, or 'N'), GSSENCRequest ('N'), direct TLS (first byte 0x16, ALPN "postgresql"),
 * CancelRequest (passed on, then a close). Faults PostgreSQL only logs (COMMERROR: a length out of range, a
 * malformed cancel request) close the connection without a word; the others get a FATAL ErrorResponse.
 *
 * <p>On a Unix-domain socket there is no TLS, as with PostgreSQL: SSLRequest gets 'N' (and {@code tls.required} does
 * not apply), direct TLS is closed.
 */
final class ClientStartup {

    /** How the connection is protected so far. */
    enum Encryption {
        /** No SSLRequest answered yet, no TLS. */
        NONE,
        /** An SSLRequest was answered 'N'. */
        REFUSED,
        /** An SSLRequest was answered 'S'; TLS is (being) established. */
        TLS,
        /** TLS came without SSLRequest (PostgreSQL 17 direct SSL). */
        DIRECT_TLS
    }

    /**
     * Where the startup stands.
     *
     * @param gssRefused a GSSENCRequest was answered 'N' (PostgreSQL takes one per connection)
     * @param packetSeen at least one packet was read (direct TLS is only possible before the first)
     */
    record Phase(Encryption encryption, boolean gssRefused, boolean packetSeen) {
        boolean tls() {
            return encryption == Encryption.TLS || encryption == Encryption.DIRECT_TLS;
        }

        Phase with(Encryption e) {
            return new Phase(e, gssRefused, true);
        }

        Phase afterPacket() {
            return new Phase(encryption, gssRefused, true);
        }

        Phase afterGss() {
            return new Phase(encryption, true, true);
        }
    }

    private final ClientSession session;
    private final ProxyContext proxy;
    private final Channel client;
    /** Why this connection is refused once its StartupMessage is read (a connection limit), or null. */
    private final String refusal;
    private final Inbox in = new Inbox();
    private final boolean unixSocket;
    private Phase phase = new Phase(Encryption.NONE, false, false);
    private String sniHost;
    private String user;

    ClientStartup(ClientSession session, ProxyContext proxy, Channel client, String refusal) {
        this.session = session;
        this.proxy = proxy;
        this.client = client;
        this.refusal = refusal;
        this.unixSocket = ClientAddress.isUnixSocket(client);
        // The server name a load balancer's PROXY header passed on (the client's SNI there), unless TLS here has one.
        this.sniHost = ClientAddress.authority(client);
    }

    void sni(String hostname) {
        if (hostname != null) {
            sniHost = hostname;
        }
    }

    String logUser() {
        return user == null ? null : Login.escape(user);
    }

    void release() {
        in.release();
    }

    void onBytes(ByteBuf bytes) {
        if (!phase.packetSeen() && !phase.tls() && in.peek() == null && bytes.isReadable()
                && bytes.getByte(bytes.readerIndex()) == 0x16) {
            startDirectTls(bytes);
            return;
        }
        in.add(client.alloc(), bytes);
        try {
            while (!done && in.peek() != null && in.peek().readableBytes() >= 4) {
                ByteBuf buf = in.peek();
                int length = buf.getInt(buf.readerIndex());
                if (length < StartupPacket.MIN_LENGTH || length > StartupPacket.MAX_LENGTH) {
                    if (!phase.packetSeen() && ProxyHeaders.startsLikeHeader(buf)) {
                        // A load balancer's PROXY header, from an address proxy_protocol.trusted does not name: worth
                        // a warning, as the balancer's clients all fail until the list is fixed.
                        ProxyHeaders.logUntrusted(client.remoteAddress());
                    }
                    // PostgreSQL logs "invalid length of startup packet" and closes without a word (COMMERROR): a
                    // client that sends a typed message first (a Terminate from a driver that gave up) gets no
                    // error it could not parse.
                    log("invalid length of startup packet");
                    return;
                }
                if (buf.readableBytes() < length) {
                    return;
                }
                ByteBuf packet = buf.readSlice(length).skipBytes(4);
                StartupPacket p = StartupPacket.decode(packet);
                phase = phase.afterPacket();
                onPacket(p);
            }
        } catch (ProtocolException e) {
            if (e.silent()) {
                log(e.getMessage());
            } else {
                end(ErrorResponse.fatal(e.sqlState(), e.getMessage()));
            }
        } finally {
            if (!done) {
                in.compact();
            }
        }
    }

    /** The startup is over (handed to the session, failed or closed): read no further packets. */
    private boolean done;

    private void log(String what) {
        ClientSession.log.debug("startup packet refused client={} error=\"{}\"", session.clientAddress(), what);
        proxy.counters().rejected();
        done = true;
        session.close(what);
    }

    private void end(ErrorResponse error) {
        done = true;
        session.fail(error);
    }

    private void onPacket(StartupPacket packet) throws ProtocolException {
        switch (packet) {
            case SslRequest r -> onSslRequest();
            case GssEncRequest r -> {
                if (phase.gssRefused()) {
                    throw unsupportedProtocol(StartupPacket.GSSENC_REQUEST_CODE);
                }
                // pgmux has no GSSAPI encryption: 'N', and the client goes on with SSLRequest or StartupMessage.
                phase = phase.afterGss();
                client.writeAndFlush(Unpooled.wrappedBuffer(new byte[] {'N'}));
            }
            case CancelRequest r -> onCancelRequest(r);
            case PeerCancelRequest r -> cancelLocally(r.processId(), r.secret());
            case StartupMessage m -> onStartupMessage(m);
        }
    }

    private static ProtocolException unsupportedProtocol(int code) {
        return new ProtocolException(SqlState.FEATURE_NOT_SUPPORTED, "unsupported frontend protocol " + (code >>> 16)
                + "." + (code & 0xFFFF) + ": server supports 3.0 to 3." + StartupPacket.NEWEST_MINOR);
    }

    private void onSslRequest() throws ProtocolException {
        if (phase.encryption() != Encryption.NONE) {
            throw unsupportedProtocol(StartupPacket.SSL_REQUEST_CODE);
        }
        ServerTls tls = unixSocket ? null : proxy.serverTls();
        if (tls == null) {
            phase = phase.with(Encryption.REFUSED);
            client.writeAndFlush(Unpooled.wrappedBuffer(new byte[] {'N'}));
            return;
        }
        // Bytes the client sent after SSLRequest, before our answer, would be taken as TLS or startup data that
        // no certificate protected (CVE-2021-23214): refuse them, as PostgreSQL does.
        if (in.isReadable()) {
            throw new ProtocolException(SqlState.PROTOCOL_VIOLATION, "received unencrypted data after SSL request");
        }
        // 'S' goes out before the TLS handler is in the pipeline, so it is not encrypted.
        client.writeAndFlush(Unpooled.wrappedBuffer(new byte[] {'S'}));
        phase = phase.with(Encryption.TLS);
        client.pipeline().addFirst("tls", new SniHandler((String host) -> tls.context()));
        client.read();
    }

    private void startDirectTls(ByteBuf bytes) {
        ServerTls tls = unixSocket ? null : proxy.serverTls();
        if (tls == null) {
            bytes.release();
            done = true;
            session.close("direct TLS without TLS configured");
            return;
        }
        phase = phase.with(Encryption.DIRECT_TLS);
        client.pipeline().addFirst("tls", new SniHandler((String host) -> tls.context()));
        client.pipeline().fireChannelRead(bytes);
    }

    void onTlsHandshake(Throwable cause) {
        if (cause != null) {
            ClientSession.log.debug("client TLS handshake failed client={} error={}", session.clientAddress(),
                    cause.toString());
            done = true;
            session.close("TLS handshake failed");
            return;
        }
        if (phase.encryption() == Encryption.DIRECT_TLS) {
            SslHandler ssl = client.pipeline().get(SslHandler.class);
            if (ssl == null || !ServerTls.ALPN_POSTGRESQL.equals(ssl.applicationProtocol())) {
                end(ErrorResponse.fatal(SqlState.PROTOCOL_VIOLATION,
                        "received direct SSL connection request without ALPN protocol negotiation extension"));
                return;
            }
        }
        client.read();
    }

    private void onCancelRequest(CancelRequest r) {
        int self = proxy.cancels().instanceId();
        int owner = CancelRegistry.instanceOf(r.processId());
        if (self != 0 && owner != self) {
            // Another instance of the cluster handed out this key: the load balancer sent the cancel here.
            proxy.counters().cancelReceived();
            InetSocketAddress peer = proxy.peer(owner);
            if (peer != null) {
                CancelForwarder.toPeer(client.eventLoop(), proxy.transport(), proxy.limits(), peer, r.processId(),
                        r.secret());
            } else {
                ClientSession.log.debug("cancel request for unknown instance={} client={}", owner,
                        session.clientAddress());
            }
            done = true;
            session.close("cancel request");
            return;
        }
        cancelLocally(r.processId(), r.secret());
    }

    private void cancelLocally(int processId, byte[] secret) {
        proxy.counters().cancelReceived();
        CancelRegistry.Target target = proxy.cancels().lookup(processId, secret);
        if (target != null) {
            CancelForwarder.forward(client.eventLoop(), proxy.transport(), proxy.limits(), target);
        }
        // PostgreSQL answers a cancel request with nothing but a close, and unknown keys are dropped silently.
        done = true;
        session.close("cancel request");
    }

    private void onStartupMessage(StartupMessage m) {
        user = m.user();
        ServerTls tls = proxy.serverTls();
        if (tls != null && tls.required() && !phase.tls() && !unixSocket) {
            session.logLoginFailure("TLS required");
            end(ErrorResponse.fatal(SqlState.INVALID_AUTHORIZATION_SPECIFICATION, "SSL connection is required",
                    "Connect with sslmode=require."));
            return;
        }
        if (refusal != null) {
            session.logLoginFailure("connection limit");
            end(ErrorResponse.fatal(SqlState.TOO_MANY_CONNECTIONS, refusal));
            return;
        }
        done = true;
        // Whatever the client sent after its startup packet waits for the server.
        ByteBuf rest = in.take();
        session.onStartupMessage(m, sniHost, rest);
    }
}
