package dev.pgmux.session;

import dev.pgmux.auth.Credential;
import dev.pgmux.auth.ScramServer;
import dev.pgmux.protocol.StartupPacket;
import dev.pgmux.protocol.StartupPacket.StartupMessage;
import dev.pgmux.protocol.backend.NegotiateProtocolVersion;
import java.util.function.Consumer;
import dev.pgmux.protocol.ErrorResponse;
import dev.pgmux.protocol.SqlState;
import dev.pgmux.protocol.backend.AuthenticationOk;
import dev.pgmux.protocol.backend.AuthenticationSASL;
import dev.pgmux.protocol.backend.AuthenticationSASLContinue;
import dev.pgmux.protocol.backend.AuthenticationSASLFinal;
import dev.pgmux.server.Inbox;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;

/**
 * A client's login when pgmux authenticates it itself ({@code auth: proxy}): the SCRAM-SHA-256 exchange
 * PostgreSQL would hold (SCRAM-SHA-256-PLUS offered first on TLS, bound to pgmux's certificate), against the
 * credential the route or the auth file gives, or, for a user with none, the exchange PostgreSQL holds with an
 * unknown user, which ends in the same 28P01 as a wrong password.
 */
final class ProxyLogin {
    /** PostgreSQL's limit for one authentication message (PG_MAX_AUTH_TOKEN_LENGTH). */
    private static final int MAX_SASL_MESSAGE = 65535;

    /** How the exchange ended. */
    sealed interface Outcome {
    }

    /** The client proved itself; {@code clientKey} is what its proof revealed (for a login to the server with it). */
    record Authenticated(byte[] clientKey) implements Outcome {
    }

    record Refused(ErrorResponse error) implements Outcome {
    }

    private final Channel client;
    private final ScramServer scram;
    private final Inbox in = new Inbox();

    ProxyLogin(Channel client, ScramServer scram) {
        this.client = client;
        this.scram = scram;
    }

    /**
     * Starts the login of a client on a route with {@code auth: proxy}: finds its credential, asks for SCRAM
     * (after a NegotiateProtocolVersion, as a server would send it first).
     */
    static SessionState.Authenticating begin(Channel client, ProxyContext proxy, Login login, RouteLookup.Routed routed,
                                             Consumer<String> logLoginFailure) {
        Credential credential;
        try {
            credential = ProxyCredentials.forClient(routed.backend(), proxy.authFile(), login.user());
        } catch (IllegalArgumentException e) {
            ClientSession.log.warn("unusable credential for user={} error=\"{}\"", login.logUser(), e.getMessage());
            credential = null;
        }
        if (credential == null) {
            logLoginFailure.accept("no credential for the user (answered as a failed password)");
        }
        ProxyLogin exchange = new ProxyLogin(client, ProxyCredentials.exchange(login.user(), credential,
                proxy.loginTiming().mockSecret(), ProxyCredentials.bindingOf(client)));
        StartupMessage startup = login.startup();
        if (AuthRelay.needsNegotiation(startup)) {
            client.write(new NegotiateProtocolVersion(Math.min(startup.minor(), StartupPacket.NEWEST_MINOR),
                    startup.protocolOptions()).encode(client.alloc()));
        }
        exchange.start();
        return new SessionState.Authenticating(login, routed, credential, exchange);
    }

    /** Asks the client for SCRAM. */
    void start() {
        client.writeAndFlush(new AuthenticationSASL(scram.mechanisms()).encode(client.alloc()));
    }

    /** Client bytes, taken over; the outcome once the exchange ended, else null. */
    Outcome onBytes(ByteBuf bytes) {
        in.add(client.alloc(), bytes);
        try {
            ByteBuf buf;
            while ((buf = in.peek()) != null && buf.isReadable()) {
                int type = buf.getUnsignedByte(buf.readerIndex());
                if (type != 'p') {
                    // PostgreSQL looks at the type before anything else (Terminate included)
                    return new Refused(ErrorResponse.fatal(SqlState.PROTOCOL_VIOLATION,
                            "expected SASL response, got message type " + type));
                }
                if (buf.readableBytes() < 5) {
                    return null;
                }
                int length = buf.getInt(buf.readerIndex() + 1);
                if (length < 4 || length - 4 > MAX_SASL_MESSAGE) {
                    // PostgreSQL ends such a login as a failed password
                    return new Refused(scram.passwordFailed());
                }
                if (buf.readableBytes() < length + 1) {
                    return null;
                }
                ByteBuf body = buf.retainedSlice(buf.readerIndex() + 5, length - 4);
                buf.skipBytes(length + 1);
                ScramServer.Step step;
                try {
                    step = scram.onMessage(body);
                } finally {
                    body.release();
                }
                switch (step) {
                    case ScramServer.Continue c ->
                            client.writeAndFlush(new AuthenticationSASLContinue(c.serverFirstMessage()).encode(client.alloc()));
                    case ScramServer.Done d -> {
                        client.write(new AuthenticationSASLFinal(d.serverFinalMessage()).encode(client.alloc()));
                        client.writeAndFlush(new AuthenticationOk().encode(client.alloc()));
                        return new Authenticated(d.clientKey());
                    }
                    case ScramServer.Failure f -> {
                        return new Refused(f.error());
                    }
                }
            }
            return null;
        } finally {
            in.compact();
        }
    }

    /** What the client sent after its last authentication message (it may pipeline queries), or null. */
    ByteBuf rest() {
        return in.take();
    }

    void release() {
        in.release();
    }
}
