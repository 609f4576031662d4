package dev.pgmux.server;

import dev.pgmux.transport.Transport;
import io.netty.bootstrap.Bootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoop;
import java.net.InetSocketAddress;

/**
 * How a {@link ServerConnection} gets a channel to one host. Two steps, so that the connection knows the channel
 * before any of its events can fire: a connect to a nearby host can complete, and fire channelActive, within the
 * call that starts it. Tests hand out channels of their own.
 */
public interface Dialer {

    /**
     * A new channel for one host attempt with {@code handler} as its handler, registered (or being registered) on
     * {@code loop}; nothing is connected yet.
     */
    ChannelFuture register(EventLoop loop, ChannelHandler handler, int connectTimeoutMillis);

    /** Connects a channel whose registration succeeded. */
    ChannelFuture connect(Channel channel, InetSocketAddress address);

    /**
     * Sockets of the transport's kind on the given event loop (the client's, so that both sides share one thread),
     * with AUTO_READ off (during login each read is asked for), TCP_NODELAY and the connect timeout.
     */
    static Dialer sockets(Transport transport) {
        return new Dialer() {
            @Override
            public ChannelFuture register(EventLoop loop, ChannelHandler handler, int connectTimeoutMillis) {
                return new Bootstrap()
                        .group(loop)
                        .channel(transport.socketChannelClass())
                        .option(ChannelOption.AUTO_READ, false)
                        .option(ChannelOption.TCP_NODELAY, true)
                        .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, connectTimeoutMillis)
                        .handler(handler)
                        .register();
            }

            @Override
            public ChannelFuture connect(Channel channel, InetSocketAddress address) {
                return channel.connect(address);
            }
        };
    }
}
