package dev.pgmux.session;

import dev.pgmux.metrics.ProxyMetrics;
import dev.pgmux.pool.Pool;

/**
 * Times the requests and transactions of a session whose bytes pass through (its own server, or a session pool's),
 * from what its two {@link MessageScanner}s see of the message headers: a request (a Query, a FunctionCall, or
 * extended-protocol messages up to their Sync) from its first message to its ReadyForQuery, and a transaction from
 * its first request to the ReadyForQuery that reports status idle. Each request awaiting its ReadyForQuery keeps
 * its start here, in order: a client may send several before the first is answered (pipelining).
 *
 * <p>The scanners pass the time of the read they scan, so that a read costs at most one clock call however many
 * messages it holds.
 */
final class RequestClock {
    /** The most requests timed at once; those sent beyond (a deep pipeline) are counted but not timed. */
    static final int MAX_TIMED = 1024;

    private final ProxyMetrics metrics;
    /** A session pool's, or null. */
    private final Pool pool;
    private long[] starts = new long[4];
    private int head;
    private int size;
    /** Requests in flight after the timed ones, not timed (the ring was full when they went out). */
    private int untimed;
    /** When the first message of the batch being sent went out, or 0. */
    private long batchStart;
    /** When the transaction under way began, or 0 outside one. */
    private long transactionStart;

    RequestClock(ProxyMetrics metrics, Pool pool) {
        this.metrics = metrics;
        this.pool = pool;
    }

    /** An extended-protocol message (Parse, Bind, Describe, Execute, Close, Flush) went out. */
    void batchMessage(long now) {
        if (batchStart == 0) {
            batchStart = now;
        }
    }

    /** A request that the server answers with one ReadyForQuery went out (Query, FunctionCall, Sync). */
    void requestSent(long now) {
        long start = batchStart != 0 ? batchStart : now;
        batchStart = 0;
        if (pool != null) {
            pool.countQuery();
        }
        if (untimed > 0 || size == MAX_TIMED) {
            untimed++;
            return;
        }
        if (size == starts.length) {
            long[] grown = new long[starts.length * 2];
            for (int i = 0; i < size; i++) {
                grown[i] = starts[(head + i) % starts.length];
            }
            starts = grown;
            head = 0;
        }
        starts[(head + size) % starts.length] = start;
        size++;
    }

    /** The last {@code count} requests sent get no ReadyForQuery (Syncs the server ignores during a COPY). */
    void unsent(long count) {
        for (long i = 0; i < count; i++) {
            if (untimed > 0) {
                untimed--;
            } else if (size > 0) {
                size--;
            }
        }
    }

    /** A ReadyForQuery with transaction status {@code status} came. */
    void ready(byte status, long now) {
        long start = 0;
        if (size > 0) {
            start = starts[head];
            head = (head + 1) % starts.length;
            size--;
        } else if (untimed > 0) {
            untimed--;
        }
        if (start != 0) {
            long took = now - start;
            metrics.query(took);
            if (pool != null) {
                pool.countQueryTime(took);
            }
            if (transactionStart == 0) {
                transactionStart = start;
            }
        }
        if (status == 'I' && transactionStart != 0) {
            long took = now - transactionStart;
            transactionStart = 0;
            metrics.transaction(took);
            if (pool != null) {
                pool.countTransaction(took);
            }
        }
    }
}
