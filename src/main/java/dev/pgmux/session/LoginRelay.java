package dev.pgmux.session;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import java.util.List;

/**
 * What a session does with each message a server sends while it logs in: {@link AuthRelay} when the client
 * authenticates with the server itself (the messages are relayed), {@link ProxyRelay} when pgmux authenticated the
 * client and answers the server's authentication request on its own.
 */
sealed interface LoginRelay permits AuthRelay, ProxyRelay {

    /** Decides what to do with one server message (type, length, body), which this call takes over. */
    List<AuthRelay.Decision> onMessage(ByteBuf frame, boolean laterHost, ByteBufAllocator alloc);

    /** The server connection moved on to another host: what was learned of the last one no longer holds. */
    default void hostStarted() {
    }

    /** The protocol minor version agreed with the client. */
    int protocolMinor();

    /** Whether the client has seen something of this server's login: the login can no longer move to another host. */
    boolean clientTookPart();

    /** Whether the client was sent the server's error. */
    boolean errorRelayed();

    /** The client sent bytes at this time (System.nanoTime()). */
    void clientSpoke(long nanos);

    /** When the client last sent bytes, or 0 if not since the last call. */
    long takeClientSpoke();
}
