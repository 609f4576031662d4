package dev.pgmux.transport;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.IoHandlerFactory;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.ServerChannel;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollServerDomainSocketChannel;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.nio.NioChannelOption;
import io.netty.channel.socket.nio.NioServerDomainSocketChannel;
import io.netty.channel.unix.DomainSocketAddress;
import io.netty.channel.unix.UnixChannelOption;
import io.netty.channel.uring.IoUring;
import io.netty.channel.uring.IoUringIoHandler;
import io.netty.channel.uring.IoUringServerDomainSocketChannel;
import io.netty.channel.uring.IoUringServerSocketChannel;
import io.netty.channel.uring.IoUringSocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import java.net.SocketAddress;
import java.net.StandardSocketOptions;
import java.net.UnixDomainSocketAddress;
import java.nio.file.Path;

/**
 * The I/O transport: io_uring where the kernel offers it (its submissions and completions are batched, one system
 * call per event loop turn instead of one per socket operation), else native epoll (fewer syscalls and allocations
 * than NIO), else NIO. Reads go through {@link Reading}, which keeps io_uring channels clear of Netty's auto-read
 * toggling.
 * Backend channels use the same socket class as client channels, so that both can share one event loop.
 *
 * @param serverDomainChannelClass the Unix-domain listening socket of this transport (NIO has one since JDK 16)
 */
public record Transport(String name, IoHandlerFactory ioHandlerFactory,
                        Class<? extends ServerChannel> serverChannelClass,
                        Class<? extends SocketChannel> socketChannelClass,
                        Class<? extends ServerChannel> serverDomainChannelClass) {

    /**
     * The transport named by {@code -Dpgmux.transport} ({@code io_uring}, {@code epoll}, {@code nio}), else the
     * default: io_uring where available, else epoll, else NIO. A named transport that is not available here falls
     * back to epoll, else NIO.
     */
    public static Transport best() {
        return byName(System.getProperty("pgmux.transport", "io_uring"));
    }

    public static Transport byName(String name) {
        switch (name) {
            case "nio":
                return nio();
            case "io_uring":
            case "iouring":
                if (IoUring.isAvailable()) {
                    return new Transport("io_uring", IoUringIoHandler.newFactory(), IoUringServerSocketChannel.class,
                            IoUringSocketChannel.class, IoUringServerDomainSocketChannel.class);
                }
                break;
            default:
                break;
        }
        if (Epoll.isAvailable()) {
            return new Transport("epoll", EpollIoHandler.newFactory(), EpollServerSocketChannel.class,
                    EpollSocketChannel.class, EpollServerDomainSocketChannel.class);
        }
        return nio();
    }

    public static Transport nio() {
        return new Transport("nio", NioIoHandler.newFactory(), NioServerSocketChannel.class, NioSocketChannel.class,
                NioServerDomainSocketChannel.class);
    }

    public MultiThreadIoEventLoopGroup newGroup(int threads, String name) {
        return new MultiThreadIoEventLoopGroup(threads,
                new io.netty.util.concurrent.DefaultThreadFactory(name, true), ioHandlerFactory);
    }

    /** Where a Unix-domain socket of this transport binds: Netty's address for the native ones, the JDK's for NIO. */
    public SocketAddress domainSocketAddress(Path path) {
        return name.equals("nio") ? UnixDomainSocketAddress.of(path) : new DomainSocketAddress(path.toString());
    }

    /**
     * Sets {@code SO_REUSEPORT} on a TCP listener, so that another process of the same user can bind the same
     * address while this one runs (Linux shares the incoming connections between them): a rolling restart.
     */
    public ServerBootstrap reusePort(ServerBootstrap bootstrap) {
        return name.equals("nio") ? bootstrap.option(NioChannelOption.of(StandardSocketOptions.SO_REUSEPORT), true)
                : bootstrap.option(UnixChannelOption.SO_REUSEPORT, true);
    }
}
