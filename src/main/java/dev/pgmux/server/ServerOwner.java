package dev.pgmux.server;

import io.netty.buffer.ByteBuf;

/**
 * What a {@link ServerConnection} tells the client session it serves, and the only way it reaches that session:
 * the server side never calls into the client side otherwise, so a connection can outlive its client and serve
 * another one.
 */
public interface ServerOwner {

    /** How a connection ended, from its owner's point of view. */
    enum Failure {
        /** No host could be reached, or one failed before the owner committed to it. */
        NO_HOST,
        /** The server closed the connection after the owner committed to it and before it was ready. */
        LOST_DURING_LOGIN,
        /** The server closed a ready connection. */
        CLOSED
    }

    /** Who the connection serves, for its log lines ({@code client=... user=...}). */
    default String logContext() {
        return "";
    }

    /** The startup message went out to a host: the client's login messages can follow. */
    default void onLoginStarted() {
    }

    /**
     * One whole message the server sent while logging in (type, length, body); the owner releases it. An owner of
     * a logged-in connection hears none.
     */
    default void onLoginMessage(ByteBuf frame) {
        frame.release();
    }

    /** Bytes the server sent once ready, as they came; the owner releases them. */
    void onData(ByteBuf data);

    default void onReadComplete() {
    }

    /** The server takes bytes again after it could not. */
    default void onWritable() {
    }

    /** The connection is gone and no other host takes over; it is closed already. */
    void onFailed(Failure failure, String why);
}
