package dev.pgmux.listen;

import dev.pgmux.transport.Transport;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * The listening sockets of one proxy: TCP on each listen address, with {@code SO_REUSEPORT} so that a second pgmux
 * of the same user binds the same addresses while this one runs (Linux then shares new connections between them
 * until one closes its socket); and, when a directory is given, a Unix-domain socket {@code DIR/.s.PGSQL.PORT} for
 * each port listened on (see {@link UnixSocketFile}). Accepted channels go to the same initializer either way.
 */
public final class Listeners {
    /** The TCP listeners, in the order of the listen addresses. */
    private final List<Channel> tcp = new ArrayList<>();
    /** The Unix-domain listeners, in the order of their ports, and their socket files. */
    private final List<Channel> unix = new ArrayList<>();
    private final List<UnixSocketFile> files = new ArrayList<>();

    private Listeners() {
    }

    /** Where and how to create Unix-domain sockets: a directory, and the socket files' mode ({@code 0777}-style). */
    public record UnixSockets(Path dir, int mode) {
        /** PostgreSQL's default {@code unix_socket_permissions}: anyone who can reach the directory may connect. */
        public static final int DEFAULT_MODE = 0777;

        public UnixSockets {
            if (mode < 0 || mode > 0777) {
                throw new IllegalArgumentException("socket mode must be between 0000 and 0777, not 0"
                        + Integer.toOctalString(mode));
            }
        }

        /** Why the socket for {@code port} could not be created at its path (too long), or null. */
        public String problem(int port) {
            return new UnixSocketFile(dir, port).pathProblem();
        }
    }

    /**
     * Binds every listener, TCP first (a Unix socket is named after the port TCP actually got, which matters with
     * port 0); on a failure closes what was bound.
     *
     * @param unixSockets where to create Unix-domain sockets, or null for none
     * @throws IOException naming the address or path that could not be bound
     */
    public static Listeners bind(Transport transport, EventLoopGroup boss, EventLoopGroup workers,
                                 ChannelInitializer<Channel> clients, List<InetSocketAddress> addresses,
                                 UnixSockets unixSockets) throws IOException {
        ServerBootstrap tcpBootstrap = transport.reusePort(new ServerBootstrap()
                .group(boss, workers)
                .channel(transport.serverChannelClass())
                .option(ChannelOption.SO_BACKLOG, 4096)
                .option(ChannelOption.SO_REUSEADDR, true)
                .childOption(ChannelOption.AUTO_READ, false)
                .childOption(ChannelOption.TCP_NODELAY, true)
                .childOption(ChannelOption.SO_KEEPALIVE, true)
                .childHandler(clients));
        Listeners bound = new Listeners();
        try {
            for (InetSocketAddress address : addresses) {
                try {
                    bound.tcp.add(tcpBootstrap.bind(address).syncUninterruptibly().channel());
                } catch (Exception e) {
                    throw new IOException("could not listen on " + address + ": " + e.getMessage(), e);
                }
            }
            if (unixSockets != null) {
                ServerBootstrap unixBootstrap = new ServerBootstrap()
                        .group(boss, workers)
                        .channel(transport.serverDomainChannelClass())
                        .option(ChannelOption.SO_BACKLOG, 4096)
                        .childOption(ChannelOption.AUTO_READ, false)
                        .childHandler(clients);
                Set<Integer> ports = new LinkedHashSet<>();
                bound.tcpAddresses().forEach(a -> ports.add(a.getPort()));
                for (int port : ports) {
                    bound.bindUnix(transport, unixBootstrap, new UnixSocketFile(unixSockets.dir(), port),
                            unixSockets.mode());
                }
            }
        } catch (IOException | RuntimeException e) {
            bound.close();
            throw e;
        }
        return bound;
    }

    private void bindUnix(Transport transport, ServerBootstrap bootstrap, UnixSocketFile file, int mode)
            throws IOException {
        String problem = file.pathProblem();
        if (problem != null) {
            throw new IOException("could not listen on " + file.path() + ": " + problem);
        }
        if (!Files.isDirectory(file.path().getParent())) {
            throw new IOException("could not listen on " + file.path() + ": no directory " + file.path().getParent());
        }
        UnixSocketFile.Found found = file.probe();
        if (found == UnixSocketFile.Found.NOT_A_SOCKET) {
            throw new IOException("could not listen on " + file.path() + ": it exists and is not a socket");
        }
        file.clearTemp();
        Channel channel;
        try {
            channel = bootstrap.bind(transport.domainSocketAddress(file.temp())).syncUninterruptibly().channel();
        } catch (Exception e) {
            file.removeTemp();
            throw new IOException("could not listen on " + file.path() + ": " + e.getMessage(), e);
        }
        unix.add(channel);
        files.add(file);
        try {
            file.publish(found, mode);
        } catch (IOException e) {
            file.removeTemp();
            throw new IOException("could not listen on " + file.path() + ": " + e.getMessage(), e);
        }
    }

    /** The bound TCP addresses (with the real port where port 0 was asked for). */
    public List<InetSocketAddress> tcpAddresses() {
        return tcp.stream().map(c -> (InetSocketAddress) c.localAddress()).toList();
    }

    /** The Unix-domain socket files listened on. */
    public List<Path> unixSocketPaths() {
        return files.stream().map(UnixSocketFile::path).toList();
    }

    /**
     * Stops accepting: closes every listener, then removes the socket files that are still this process's (a newer
     * process that took one over keeps it). Connections already accepted are not touched.
     */
    public void close() {
        for (Channel ch : tcp) {
            ch.close().syncUninterruptibly();
        }
        for (Channel ch : unix) {
            ch.close().syncUninterruptibly();
        }
        for (UnixSocketFile file : files) {
            file.removeIfOurs();
        }
    }
}
