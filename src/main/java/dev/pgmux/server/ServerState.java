package dev.pgmux.server;

import dev.pgmux.protocol.StartupPacket.StartupMessage;
import io.netty.channel.Channel;
import io.netty.util.concurrent.Future;
import java.util.Map;

/** The life of a {@link ServerConnection}; each state holds exactly what is valid in it. */
sealed interface ServerState {

    /** A state with a channel to a host. */
    sealed interface Open extends ServerState {
        ServerConnection.Host host();

        Channel channel();
    }

    /** TCP connect, SSLRequest and TLS handshake; {@code answerTimer} ends a host that does not answer in time. */
    record Connecting(ServerConnection.Host host, Channel channel, boolean awaitingSslResponse, Future<?> answerTimer)
            implements Open {
        Connecting awaitingSsl(boolean awaiting) {
            return new Connecting(host, channel, awaiting, answerTimer);
        }
    }

    /** The startup message {@code sent}; whole messages go to the owner until it declares the connection ready. */
    record LoggingIn(ServerConnection.Host host, Channel channel, Future<?> answerTimer, StartupMessage sent,
                     LoginReader reader) implements Open {
    }

    /** Logged in: bytes pass through unread; {@code parameters} are the server's ParameterStatus values. */
    record Ready(ServerConnection.Host host, Channel channel, StartupMessage sent, Map<String, String> parameters)
            implements Open {
    }

    record Closed(String reason) implements ServerState {
    }
}
