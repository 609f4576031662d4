package dev.pgmux.server;

import dev.pgmux.tls.BackendTls;
import dev.pgmux.transport.Transport;
import java.time.Duration;
import java.util.function.Supplier;

/**
 * What every server connection of one proxy shares: the transport its channels use, the backend TLS contexts, what
 * is known of hosts' roles, the connect timeout (read at each connect, so a reload applies to the next one) and a
 * counter of failed connects.
 */
public record ServerContext(Transport transport, BackendTls tls, HostSelector hosts, Supplier<Duration> connectTimeout,
                            Runnable connectFailed) {
}
