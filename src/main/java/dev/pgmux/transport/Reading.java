package dev.pgmux.transport;

import io.netty.channel.Channel;
import io.netty.channel.uring.IoUringDomainSocketChannel;
import io.netty.channel.uring.IoUringSocketChannel;
import io.netty.util.Attribute;
import io.netty.util.AttributeKey;

/**
 * Whether a connection reads by itself ("flowing") or only when asked ({@link Channel#read()}), and the switch
 * between the two, which every pause for a slow peer goes through.
 *
 * <p>On epoll and NIO this is the channel's {@code AUTO_READ}. On io_uring, turning {@code AUTO_READ} off cancels the
 * receive already submitted, and turning it on again before that cancellation completes may lose the read for good
 * (a connection that never reads again; Netty 4.2 has had several such races). So io_uring channels keep
 * {@code AUTO_READ} off for their whole life and a flowing one asks for its next read at the end of each read
 * ({@link #readComplete}): nothing submitted is ever cancelled, and a pause only means not asking.
 */
public final class Reading {
    private static final AttributeKey<Boolean> FLOWING = AttributeKey.valueOf(Reading.class, "flowing");

    private Reading() {
    }

    /** Starts ({@code true}) or pauses reading by itself; a switch to the state it is in changes nothing. */
    public static void flow(Channel ch, boolean on) {
        if (!askedFor(ch)) {
            ch.config().setAutoRead(on);
            return;
        }
        Attribute<Boolean> flowing = ch.attr(FLOWING);
        Boolean was = flowing.getAndSet(on);
        if (on && !Boolean.TRUE.equals(was)) {
            ch.read();
        }
    }

    /** The end of a read: a flowing io_uring channel asks for the next one. Call last in channelReadComplete. */
    public static void readComplete(Channel ch) {
        if (askedFor(ch) && Boolean.TRUE.equals(ch.attr(FLOWING).get()) && ch.isActive()) {
            ch.read();
        }
    }

    /** Whether every read of {@code ch} must be asked for: an io_uring channel that was opened with AUTO_READ off. */
    private static boolean askedFor(Channel ch) {
        return (ch instanceof IoUringSocketChannel || ch instanceof IoUringDomainSocketChannel)
                && !ch.config().isAutoRead();
    }
}
