package dev.pgmux.session;

import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;

/** What the proxy counts since it started, for {@link dev.pgmux.ProxyStats} and {@code /metrics}. */
final class Counters {
    private final AtomicLong rejected = new AtomicLong();
    private final AtomicLong cancels = new AtomicLong();
    private final AtomicLong established = new AtomicLong();
    private final AtomicLong connectFailures = new AtomicLong();
    private final LongAdder bytesFromClients = new LongAdder();
    private final LongAdder bytesToClients = new LongAdder();

    void rejected() {
        rejected.incrementAndGet();
    }

    void established() {
        established.incrementAndGet();
    }

    void connectFailed() {
        connectFailures.incrementAndGet();
    }

    void fromClient(int bytes) {
        bytesFromClients.add(bytes);
    }

    void toClient(int bytes) {
        bytesToClients.add(bytes);
    }

    void cancelReceived() {
        cancels.incrementAndGet();
    }

    dev.pgmux.ProxyStats stats(ClientSlots clients) {
        return new dev.pgmux.ProxyStats(clients.current(), clients.accepted(), rejected.get(), cancels.get(),
                established.get(), connectFailures.get(), bytesFromClients.sum(), bytesToClients.sum());
    }
}
