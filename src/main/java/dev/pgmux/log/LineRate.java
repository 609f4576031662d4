package dev.pgmux.log;

import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;

/**
 * At most so many log lines of one kind a second, then one line saying how many were left out: for lines a peer
 * can cause as often as it likes (failed logins, refused PROXY headers), so that it cannot flood the log.
 */
public final class LineRate {
    private final int perSecond;
    private final String leftOut;
    private final AtomicLong window = new AtomicLong();
    private final AtomicLong inWindow = new AtomicLong();
    private final AtomicLong suppressed = new AtomicLong();

    /** @param leftOut what the lines are, for the line that counts those left out ("login failures") */
    public LineRate(int perSecond, String leftOut) {
        this.perSecond = perSecond;
        this.leftOut = leftOut;
    }

    /** Whether one more line may be logged this second; counts it either way. */
    public boolean admit(Logger log) {
        long second = System.nanoTime() / 1_000_000_000L;
        long previous = window.get();
        if (previous != second && window.compareAndSet(previous, second)) {
            inWindow.set(0);
            long dropped = suppressed.getAndSet(0);
            if (dropped > 0) {
                log.warn("{} not logged in the last interval count={}", leftOut, dropped);
            }
        }
        if (inWindow.incrementAndGet() <= perSecond) {
            return true;
        }
        suppressed.incrementAndGet();
        return false;
    }
}
