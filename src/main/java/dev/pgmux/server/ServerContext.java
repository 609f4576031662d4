package dev.pgmux.server;

import dev.pgmux.tls.BackendTls;
import dev.pgmux.transport.Transport;
import java.time.Duration;
import java.util.function.Supplier;

/**
 * What every server connection of one proxy shares: the transport its channels use and how they are opened, the
 * backend TLS contexts, what is known of hosts' roles, the connect timeout (read at each connect, so a reload
 * applies to the next one) and a counter of failed connects.
 */
public record ServerContext(Transport transport, BackendTls tls, HostSelector hosts, Supplier<Duration> connectTimeout,
                            Runnable connectFailed, Dialer dialer) {

    /** Channels opened as sockets of the transport's kind. */
    public ServerContext(Transport transport, BackendTls tls, HostSelector hosts, Supplier<Duration> connectTimeout,
                         Runnable connectFailed) {
        this(transport, tls, hosts, connectTimeout, connectFailed, Dialer.sockets(transport));
    }
}
