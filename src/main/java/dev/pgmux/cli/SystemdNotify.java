package dev.pgmux.cli;

import io.netty.channel.epoll.Epoll;
import io.netty.channel.unix.Socket;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * systemd's readiness notification ({@code sd_notify(3)}): under a unit with {@code Type=notify}, {@code systemctl
 * start} returns only once pgmux listens, which a rolling restart waits for before it stops the process being
 * replaced. One datagram to the Unix socket {@code NOTIFY_SOCKET} names; without that variable (not started by
 * systemd) nothing happens. Sent through Netty's native Unix socket, as the JDK has no Unix datagram sockets.
 */
final class SystemdNotify {
    private static final Logger log = LoggerFactory.getLogger(SystemdNotify.class);

    private SystemdNotify() {
    }

    /** Sends {@code state} ({@code READY=1}, {@code STOPPING=1}, ...) if systemd asked for notifications. */
    static void send(String state) {
        String socket = System.getenv("NOTIFY_SOCKET");
        if (socket == null || socket.isEmpty()) {
            return;
        }
        if (!Epoll.isAvailable()) {
            log.warn("NOTIFY_SOCKET is set but the native transport is not available: systemd is not told {}", state);
            return;
        }
        // "@name" is a socket in the abstract namespace, whose name starts with a NUL byte.
        String path = socket.startsWith("@") ? "\0" + socket.substring(1) : socket;
        byte[] message = state.getBytes(StandardCharsets.UTF_8);
        ByteBuffer buf = ByteBuffer.allocateDirect(message.length).put(message).flip();
        Socket s = Socket.newSocketDomainDgram();
        try {
            s.sendToDomainSocket(buf, 0, buf.limit(), path.getBytes(StandardCharsets.UTF_8));
        } catch (IOException e) {
            log.warn("could not notify systemd ({}) at {}: {}", state, socket, e.toString());
        } finally {
            try {
                s.close();
            } catch (IOException e) {
                log.debug("closing the notification socket: {}", e.toString());
            }
        }
    }
}
