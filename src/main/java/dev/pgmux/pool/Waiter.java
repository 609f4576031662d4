package dev.pgmux.pool;

import io.netty.buffer.ByteBuf;
import io.netty.channel.EventLoop;

/** A client that asked a {@link Pool} for a server connection. Every call comes on {@link #loop()}. */
public interface Waiter {

    /** The event loop of the client: its server connections are opened and handed out there. */
    EventLoop loop();

    Tag tag();

    /** A server connection, now this waiter's. */
    void onServer(PooledServer server);

    /**
     * No server connection: {@code error} is a whole ErrorResponse frame for the client (the waiter releases it),
     * {@code why} says why for a log line.
     */
    void onFailed(ByteBuf error, String why);
}
