package dev.pgmux.metrics;

import io.prometheus.metrics.core.datapoints.CounterDataPoint;
import io.prometheus.metrics.core.metrics.Counter;
import io.prometheus.metrics.model.snapshots.MetricSnapshot;
import java.util.List;
import java.util.concurrent.atomic.AtomicReferenceArray;

/**
 * The measurements one proxy takes as traffic flows: how long queries, transactions, waits for a pooled server,
 * logins and router calls take, and the ErrorResponses clients get by SQLSTATE class.
 *
 * <p>Called on event loops for every query: each call is one histogram observation (two uncontended adds, no
 * lock, no allocation: {@link LatencyHistogram}). The histograms are classic ones with fixed buckets and no
 * labels, so that their cost and their number of series do not grow with the number of pools or routes; per-pool
 * times are in the pools' own sums ({@link dev.pgmux.pool.PoolStats#queryNanos()},
 * {@link dev.pgmux.pool.PoolStats#xactNanos()}).
 */
public final class ProxyMetrics {
    /** Queries, transactions and waits: from a tenth of a millisecond (a query over loopback) to a minute. */
    private static final double[] REQUEST_BUCKETS = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
            0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};
    /** Logins: a TLS handshake and a SCRAM exchange take milliseconds; a client that types its password, seconds. */
    private static final double[] LOGIN_BUCKETS = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5,
            5, 10, 30};
    /** Router calls: microseconds for a static or cached answer, up to the router timeout for a remote one. */
    private static final double[] ROUTER_BUCKETS = {0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001,
            0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5};
    /** SQLSTATE characters are digits and upper-case letters: 36 × 36 classes at most. */
    private static final int CLASSES = 36 * 36;

    private final LatencyHistogram query = histogram("pgmux_query_duration_seconds",
            "Time from a client's request (a Query, or extended-protocol messages up to their Sync) to its"
                    + " ReadyForQuery.", REQUEST_BUCKETS);
    private final LatencyHistogram transaction = histogram("pgmux_transaction_duration_seconds",
            "Time from a transaction's first request to the ReadyForQuery that ends it (status idle).",
            REQUEST_BUCKETS);
    private final LatencyHistogram poolWait = histogram("pgmux_pool_wait_duration_seconds",
            "Time a pooled client waited for a server connection, including the opening of a new one and waits that"
                    + " ended in a timeout.", REQUEST_BUCKETS);
    private final LatencyHistogram login = histogram("pgmux_login_duration_seconds",
            "Time from a client's startup message to the ReadyForQuery that ends its login (routing, authentication"
                    + " and the backend's login, the client's own answers included).", LOGIN_BUCKETS);
    private final LatencyHistogram router = histogram("pgmux_router_duration_seconds",
            "Time the router took to answer (Router.route), refusals and failures included.", ROUTER_BUCKETS);
    private final Counter errors = Counter.builder().name("pgmux_errors_total")
            .help("ErrorResponses sent to clients, by SQLSTATE class (its first two characters): the servers' and"
                    + " pgmux's own.")
            .labelNames("class").withoutExemplars().build();
    /** The data point of each class, made at its first error: counting one is then a single add. */
    private final AtomicReferenceArray<CounterDataPoint> errorClasses = new AtomicReferenceArray<>(CLASSES);

    private static LatencyHistogram histogram(String name, String help, double[] buckets) {
        return new LatencyHistogram(name, help, buckets);
    }

    public void query(long nanos) {
        query.observe(nanos);
    }

    public void transaction(long nanos) {
        transaction.observe(nanos);
    }

    public void poolWait(long nanos) {
        poolWait.observe(nanos);
    }

    public void login(long nanos) {
        login.observe(nanos);
    }

    public void router(long nanos) {
        router.observe(nanos);
    }

    /** An ErrorResponse with this SQLSTATE went to a client (null, or no SQLSTATE: not counted). */
    public void error(String sqlState) {
        if (sqlState != null && sqlState.length() >= 2) {
            error(sqlState.charAt(0), sqlState.charAt(1));
        }
    }

    /** An ErrorResponse whose SQLSTATE starts with these two characters went to a client. */
    public void error(char first, char second) {
        int a = index(first);
        int b = index(second);
        if (a < 0 || b < 0) {
            return; // not a SQLSTATE: a broken server, and no label worth a series
        }
        int i = a * 36 + b;
        CounterDataPoint point = errorClasses.get(i);
        if (point == null) {
            point = errors.labelValues(String.valueOf(new char[] {first, second}));
            errorClasses.set(i, point); // the same data point if two threads race here
        }
        point.inc();
    }

    private static int index(char c) {
        if (c >= '0' && c <= '9') {
            return c - '0';
        }
        if (c >= 'A' && c <= 'Z') {
            return 10 + c - 'A';
        }
        return -1;
    }

    /** The histograms and the error counter now. */
    List<MetricSnapshot> collect() {
        return List.of(query.collect(), transaction.collect(), poolWait.collect(), login.collect(), router.collect(),
                errors.collect());
    }
}
