package dev.pgmux.session;

import dev.pgmux.Limits;
import java.net.InetAddress;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/** Open client connections, in all and per address, against the configured caps. */
final class ClientSlots {
    private final ConcurrentHashMap<InetAddress, AtomicInteger> perIp = new ConcurrentHashMap<>();
    private final AtomicLong current = new AtomicLong();
    private final AtomicLong accepted = new AtomicLong();

    /**
     * Counts a new connection (it stays counted until {@link #closed}).
     *
     * @return why it must be refused once it asks to log in (PostgreSQL's wording), or null
     */
    String open(InetAddress address, Limits limits) {
        accepted.incrementAndGet();
        long all = current.incrementAndGet();
        int fromIp = address == null ? 1 : perIp.computeIfAbsent(address, a -> new AtomicInteger()).incrementAndGet();
        if (limits.maxClientConnections() > 0 && all > limits.maxClientConnections()) {
            return "sorry, too many clients already";
        }
        if (limits.maxConnectionsPerIp() > 0 && fromIp > limits.maxConnectionsPerIp()) {
            return "sorry, too many connections from this client address";
        }
        return null;
    }

    void closed(InetAddress address) {
        current.decrementAndGet();
        if (address != null) {
            perIp.computeIfPresent(address, (a, n) -> n.decrementAndGet() <= 0 ? null : n);
        }
    }

    long current() {
        return current.get();
    }

    long accepted() {
        return accepted.get();
    }
}
