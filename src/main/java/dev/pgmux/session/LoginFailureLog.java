package dev.pgmux.session;

import java.net.InetSocketAddress;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;

/**
 * Logs failed logins at most {@code perSecond} times a second, then one line saying how many were left out, so
 * a client that fails on purpose cannot flood the log. Never logs passwords: only address, user and reason.
 */
final class LoginFailureLog {
    private final int perSecond;
    private final AtomicLong window = new AtomicLong();
    private final AtomicLong inWindow = new AtomicLong();
    private final AtomicLong suppressed = new AtomicLong();

    LoginFailureLog(int perSecond) {
        this.perSecond = perSecond;
    }

    void log(Logger log, InetSocketAddress client, String user, String reason) {
        if (admit(log)) {
            log.warn("login failed client={} user={} reason=\"{}\"", client, user, reason);
        }
    }

    /** Whether one more line may be logged this second; counts it either way. */
    boolean admit(Logger log) {
        long second = System.nanoTime() / 1_000_000_000L;
        long previous = window.get();
        if (previous != second && window.compareAndSet(previous, second)) {
            inWindow.set(0);
            long dropped = suppressed.getAndSet(0);
            if (dropped > 0) {
                log.warn("login failures not logged in the last interval count={}", dropped);
            }
        }
        if (inWindow.incrementAndGet() <= perSecond) {
            return true;
        }
        suppressed.incrementAndGet();
        return false;
    }
}
