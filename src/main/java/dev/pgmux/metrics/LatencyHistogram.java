package dev.pgmux.metrics;

import io.prometheus.metrics.model.snapshots.ClassicHistogramBuckets;
import io.prometheus.metrics.model.snapshots.HistogramSnapshot;
import io.prometheus.metrics.model.snapshots.HistogramSnapshot.HistogramDataPointSnapshot;
import io.prometheus.metrics.model.snapshots.Unit;
import java.util.concurrent.atomic.LongAdder;

/**
 * A classic Prometheus histogram of durations, without labels, with fixed buckets: what {@link ProxyMetrics}
 * observes on event loops for every query.
 *
 * <p>Why not the Java client's own {@code Histogram}: to keep each scrape consistent, it increments one atomic
 * counter shared by all threads on every observation, which costs about 50 ns from one thread and two to four times
 * that when two event loops observe at once ({@code bench/jmh} RequestTimingBench). Here an observation is a few
 * comparisons of longs and two {@link LongAdder} adds, which threads do not contend on. A scrape reads the buckets
 * one after the other, so it may miss an observation made meanwhile; the count is the sum of the buckets read, so
 * buckets and count always agree, and the sum may be one observation ahead or behind.
 */
final class LatencyHistogram {
    private final String name;
    private final String help;
    private final long[] upperNanos;
    /** The upper bounds in seconds, the last one +Inf. */
    private final double[] upperSeconds;
    /** Observations per bucket (not cumulative); the last one is the +Inf bucket's. */
    private final LongAdder[] counts;
    private final LongAdder sumNanos = new LongAdder();

    /** @param upperBounds the buckets' upper bounds in seconds, ascending (+Inf is added) */
    LatencyHistogram(String name, String help, double... upperBounds) {
        this.name = name;
        this.help = help;
        this.upperNanos = new long[upperBounds.length];
        this.upperSeconds = new double[upperBounds.length + 1];
        for (int i = 0; i < upperBounds.length; i++) {
            if (i > 0 && upperBounds[i] <= upperBounds[i - 1]) {
                throw new IllegalArgumentException("bucket bounds must ascend: " + upperBounds[i]);
            }
            upperNanos[i] = Math.round(upperBounds[i] * 1e9);
            upperSeconds[i] = upperBounds[i];
        }
        upperSeconds[upperBounds.length] = Double.POSITIVE_INFINITY;
        this.counts = new LongAdder[upperBounds.length + 1];
        for (int i = 0; i < counts.length; i++) {
            counts[i] = new LongAdder();
        }
    }

    /** One duration; a negative one (a clock that stepped back) counts as 0. */
    void observe(long nanos) {
        long n = Math.max(0, nanos);
        int i = 0;
        while (i < upperNanos.length && n > upperNanos[i]) {
            i++; // a handful of steps: most durations are in the first buckets
        }
        counts[i].increment();
        sumNanos.add(n);
    }

    HistogramSnapshot collect() {
        long[] read = new long[counts.length];
        for (int i = 0; i < read.length; i++) {
            read[i] = counts[i].sum();
        }
        return HistogramSnapshot.builder().name(name).help(help).unit(Unit.SECONDS)
                .dataPoint(HistogramDataPointSnapshot.builder()
                        .classicHistogramBuckets(ClassicHistogramBuckets.of(upperSeconds, read))
                        .sum(Unit.nanosToSeconds(sumNanos.sum())).build())
                .build();
    }
}
