package dev.pgmux.pool;

import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.IntSupplier;

/** Pooled server connections per backend host across all pools, under {@code max_host_connections}. */
final class HostSlots {
    private final ConcurrentHashMap<String, AtomicInteger> counts = new ConcurrentHashMap<>();
    private final IntSupplier cap;

    /** @param cap read at each take (a reload applies at once); 0 for no cap */
    HostSlots(IntSupplier cap) {
        this.cap = cap;
    }

    boolean take(String host) {
        int max = cap.getAsInt();
        AtomicInteger n = counts.computeIfAbsent(host, h -> new AtomicInteger());
        while (true) {
            int now = n.get();
            if (max > 0 && now >= max) {
                return false;
            }
            if (n.compareAndSet(now, now + 1)) {
                return true;
            }
        }
    }

    void release(String host) {
        AtomicInteger n = counts.get(host);
        if (n != null) {
            n.decrementAndGet();
        }
    }

    int count(String host) {
        AtomicInteger n = counts.get(host);
        return n == null ? 0 : n.get();
    }
}
