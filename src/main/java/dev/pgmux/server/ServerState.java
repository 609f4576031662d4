package dev.pgmux.server;

import dev.pgmux.protocol.StartupPacket.StartupMessage;
import io.netty.channel.Channel;
import io.netty.util.concurrent.Future;

/** The life of a {@link ServerConnection}; each state holds exactly what is valid in it. */
sealed interface ServerState {

    /** TCP connect, SSLRequest and TLS handshake; {@code answerTimer} ends a host that does not answer in time. */
    record Connecting(ServerConnection.Host host, Channel channel, boolean awaitingSslResponse, Future<?> answerTimer)
            implements ServerState {
        Connecting awaitingSsl(boolean awaiting) {
            return new Connecting(host, channel, awaiting, answerTimer);
        }
    }

    /**
     * The startup message {@code sent}; whole messages go to the owner until it declares the connection ready.
     * {@code in} holds a message not yet whole.
     */
    record LoggingIn(ServerConnection.Host host, Channel channel, Future<?> answerTimer, StartupMessage sent, Inbox in)
            implements ServerState {
    }

    /** Logged in: bytes pass through unread. */
    record Ready(ServerConnection.Host host, Channel channel, StartupMessage sent) implements ServerState {
    }

    record Closed(String reason) implements ServerState {
    }
}
