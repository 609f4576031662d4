package dev.pgmux.metrics;

import dev.pgmux.ProxyServer;
import dev.pgmux.ProxyStats;
import dev.pgmux.pool.PoolStats;
import io.prometheus.metrics.model.registry.MultiCollector;
import io.prometheus.metrics.model.snapshots.CounterSnapshot;
import io.prometheus.metrics.model.snapshots.CounterSnapshot.CounterDataPointSnapshot;
import io.prometheus.metrics.model.snapshots.GaugeSnapshot;
import io.prometheus.metrics.model.snapshots.GaugeSnapshot.GaugeDataPointSnapshot;
import io.prometheus.metrics.model.snapshots.InfoSnapshot;
import io.prometheus.metrics.model.snapshots.Labels;
import io.prometheus.metrics.model.snapshots.MetricSnapshot;
import io.prometheus.metrics.model.snapshots.MetricSnapshots;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.function.IntSupplier;
import java.util.function.Supplier;
import java.util.function.ToLongFunction;

/**
 * All of a proxy's {@code pgmux_*} metrics, read at each scrape: its counters ({@link ProxyStats}), its pools
 * ({@link PoolStats}), and its measurements ({@link ProxyMetrics}). Register it in a
 * {@link io.prometheus.metrics.model.registry.PrometheusRegistry}; the admin server's {@code /metrics} does.
 *
 * <p><b>Pool labels.</b> Each pool's figures carry {@code pool} (its name) and {@code mode} labels, for at most
 * {@code poolLabels} pools at a time: with thousands of tenants, one series per pool and figure would swamp
 * Prometheus. Pools get a label of their own as they appear (in name order among those seen at the same scrape, or
 * waiting in "other" when a label comes free), and keep it while they exist; the rest are summed per mode into
 * {@code pool="other"}. The sums of counters there are kept monotonic across scrapes (what a
 * pool added since the last scrape is added), so {@code rate()} stays right when pools come, go, or get a label
 * of their own. With {@code poolLabels} 0 every pool is in {@code other}: totals per mode only.
 */
public final class ProxyCollector implements MultiCollector {
    /** The label of the pools that get no label of their own. */
    public static final String OTHER = "other";
    /** How many pools get labels of their own when nothing else is configured. */
    public static final int DEFAULT_POOL_LABELS = 100;

    private record PoolGauge(String name, String help, ToLongFunction<PoolStats> value) {
    }

    /** A pool counter; {@code divisor} turns its unit (nanoseconds) into the exposed one. */
    private record PoolCounter(String name, String help, ToLongFunction<PoolStats> value, double divisor) {
    }

    private static final List<PoolGauge> POOL_GAUGES = List.of(
            new PoolGauge("pgmux_pool_clients", "Clients of the pool.", PoolStats::clients),
            new PoolGauge("pgmux_pool_clients_waiting", "Clients waiting for a server connection now.",
                    PoolStats::waiting),
            new PoolGauge("pgmux_pool_servers_active", "Server connections in use by a client.",
                    PoolStats::serversActive),
            new PoolGauge("pgmux_pool_servers_idle", "Server connections waiting in the pool.", PoolStats::serversIdle),
            new PoolGauge("pgmux_pool_servers_opening", "Server connections being opened.", PoolStats::serversOpening),
            new PoolGauge("pgmux_pool_size", "The pool's pool_size.", PoolStats::size));

    private static final List<PoolCounter> POOL_COUNTERS = List.of(
            new PoolCounter("pgmux_pool_waits_total", "Times a client asked for a server connection.",
                    PoolStats::waits, 1),
            new PoolCounter("pgmux_pool_wait_microseconds_total", "Time clients spent queued for a server connection.",
                    PoolStats::waitNanos, 1000),
            new PoolCounter("pgmux_pool_server_assignments_total", "Times a server connection was given to a client.",
                    PoolStats::serverAssignments, 1),
            new PoolCounter("pgmux_pool_transactions_total", "Transactions completed (a ReadyForQuery with status idle"
                    + " after a client's requests).", PoolStats::transactions, 1),
            new PoolCounter("pgmux_pool_queries_total", "Queries and Syncs forwarded.", PoolStats::queries, 1),
            new PoolCounter("pgmux_pool_transaction_seconds_total", "Time spent in transactions (see"
                    + " pgmux_transaction_duration_seconds).", PoolStats::xactNanos, 1e9),
            new PoolCounter("pgmux_pool_query_seconds_total", "Time spent in queries (see"
                    + " pgmux_query_duration_seconds).", PoolStats::queryNanos, 1e9),
            new PoolCounter("pgmux_pool_client_received_bytes_total", "Bytes received from the pool's clients.",
                    PoolStats::bytesReceived, 1),
            new PoolCounter("pgmux_pool_client_sent_bytes_total", "Bytes sent to the pool's clients.",
                    PoolStats::bytesSent, 1));

    /** A pool as labelled: its name (or {@link #OTHER}) and its mode. */
    private record Key(String pool, String mode) {
    }

    /** The figures of one label set: a pool's, pools' of the same name and mode, or the other pools'. */
    private static final class Sums {
        final long[] gauges = new long[POOL_GAUGES.size()];
        final long[] counters = new long[POOL_COUNTERS.size()];
        final Map<String, Long> pins = new TreeMap<>();

        void add(PoolStats p) {
            for (int i = 0; i < gauges.length; i++) {
                gauges[i] += POOL_GAUGES.get(i).value().applyAsLong(p);
            }
            for (int i = 0; i < counters.length; i++) {
                counters[i] += POOL_COUNTERS.get(i).value().applyAsLong(p);
            }
            p.pins().forEach((cause, n) -> pins.merge(cause, n, Long::sum));
        }

        /** Adds what {@code now} counted since {@code before} (all of it where a counter went down: a new pool). */
        void addSince(Sums before, Sums now) {
            for (int i = 0; i < counters.length; i++) {
                counters[i] += increase(before == null ? 0 : before.counters[i], now.counters[i]);
            }
            now.pins.forEach((cause, n) -> pins.merge(cause,
                    increase(before == null ? 0 : before.pins.getOrDefault(cause, 0L), n), Long::sum));
        }

        private static long increase(long before, long now) {
            return now >= before ? now - before : now;
        }
    }

    private final Supplier<ProxyStats> stats;
    private final Supplier<List<PoolStats>> pools;
    private final ProxyMetrics metrics;
    private final IntSupplier poolLabels;
    private final String version;
    /** The pools with labels of their own, in the order they got them. */
    private final Set<Key> labelled = new LinkedHashSet<>();
    /** What the pools now in "other" had counted at the last scrape. */
    private Map<Key, Sums> otherSeen = new HashMap<>();
    /** The counters of "other", by mode, as exposed. */
    private final Map<String, Sums> otherCounted = new TreeMap<>();

    /**
     * @param poolLabels how many pools get labels of their own (read at each scrape, so a reload can change it)
     * @param version    what {@code pgmux_build_info} says
     */
    public ProxyCollector(Supplier<ProxyStats> stats, Supplier<List<PoolStats>> pools, ProxyMetrics metrics,
                          IntSupplier poolLabels, String version) {
        this.stats = stats;
        this.pools = pools;
        this.metrics = metrics;
        this.poolLabels = poolLabels;
        this.version = version;
    }

    /** A running proxy's metrics. */
    public static ProxyCollector of(ProxyServer proxy, IntSupplier poolLabels, String version) {
        return new ProxyCollector(proxy::stats, proxy::poolStats, proxy.metrics(), poolLabels, version);
    }

    @Override
    public synchronized MetricSnapshots collect() {
        List<MetricSnapshot> out = new ArrayList<>(40);
        ProxyStats s = stats.get();
        out.add(gauge("pgmux_client_connections", "Client connections open now.", s.current()));
        out.add(counter("pgmux_client_connections_accepted_total", "Client connections accepted.", s.accepted()));
        out.add(counter("pgmux_client_connections_rejected_total", "Connections refused before a session was"
                + " established (limits, routing, TLS policy, protocol errors, unreachable backends).", s.rejected()));
        out.add(counter("pgmux_sessions_established_total", "Sessions that finished logging in to their backend.",
                s.sessions()));
        out.add(counter("pgmux_backend_connect_failures_total", "Attempts to reach a backend host that failed (one"
                + " per host tried).", s.backendConnectFailures()));
        out.add(counter("pgmux_cancel_requests_total", "Cancel requests received.", s.cancels()));
        out.add(counter("pgmux_client_received_bytes_total", "Bytes relayed from clients to backends after their"
                + " startup messages.", s.bytesFromClients()));
        out.add(counter("pgmux_client_sent_bytes_total", "Bytes relayed from backends to clients once sessions were"
                + " established.", s.bytesToClients()));
        poolMetrics(out);
        if (metrics != null) {
            out.addAll(metrics.collect());
        }
        out.add(InfoSnapshot.builder().name("pgmux_build").help("pgmux version.")
                .dataPoint(InfoSnapshot.InfoDataPointSnapshot.builder().labels(Labels.of("version", version)).build())
                .build());
        return new MetricSnapshots(out);
    }

    private void poolMetrics(List<MetricSnapshot> out) {
        Map<Key, Sums> live = new TreeMap<>((a, b) -> a.pool().equals(b.pool()) ? a.mode().compareTo(b.mode())
                : a.pool().compareTo(b.pool()));
        for (PoolStats p : pools.get()) {
            live.computeIfAbsent(new Key(p.name(), p.mode()), k -> new Sums()).add(p);
        }
        Set<Key> wasLabelled = new HashSet<>(labelled);
        labelled.retainAll(live.keySet()); // a pool that is gone frees its label
        int max = Math.max(0, poolLabels.getAsInt());
        while (labelled.size() > max) {
            labelled.remove(labelled.iterator().next()); // the cap was lowered: the oldest labels go first
        }
        for (Key k : live.keySet()) {
            if (labelled.size() >= max) {
                break;
            }
            labelled.add(k); // new pools in name order
        }
        Map<Key, Sums> shown = new LinkedHashMap<>();
        Map<String, Sums> otherNow = new TreeMap<>();
        Map<Key, Sums> seen = new HashMap<>();
        for (Map.Entry<Key, Sums> e : live.entrySet()) {
            Key k = e.getKey();
            if (labelled.contains(k)) {
                shown.put(k, e.getValue());
                continue;
            }
            Sums now = e.getValue();
            Sums since = otherSeen.get(k);
            if (since == null && wasLabelled.contains(k)) {
                since = now; // it lost its label (the cap was lowered): what it counted was under its own label
            }
            otherCounted.computeIfAbsent(k.mode(), m -> new Sums()).addSince(since, now);
            seen.put(k, now);
            Sums gauges = otherNow.computeIfAbsent(k.mode(), m -> new Sums());
            for (int i = 0; i < gauges.gauges.length; i++) {
                gauges.gauges[i] += now.gauges[i];
            }
        }
        otherSeen = seen;
        for (Map.Entry<String, Sums> e : otherCounted.entrySet()) {
            // "other" stays once it appeared: its counters go on from where they were
            Sums other = new Sums();
            Sums g = otherNow.get(e.getKey());
            if (g != null) {
                System.arraycopy(g.gauges, 0, other.gauges, 0, other.gauges.length);
            }
            System.arraycopy(e.getValue().counters, 0, other.counters, 0, other.counters.length);
            other.pins.putAll(e.getValue().pins);
            shown.put(new Key(OTHER, e.getKey()), other);
        }
        if (shown.isEmpty()) {
            return;
        }
        for (int i = 0; i < POOL_GAUGES.size(); i++) {
            PoolGauge g = POOL_GAUGES.get(i);
            GaugeSnapshot.Builder b = GaugeSnapshot.builder().name(g.name()).help(g.help());
            for (Map.Entry<Key, Sums> e : shown.entrySet()) {
                b.dataPoint(GaugeDataPointSnapshot.builder().labels(labels(e.getKey()))
                        .value(e.getValue().gauges[i]).build());
            }
            out.add(b.build());
        }
        for (int i = 0; i < POOL_COUNTERS.size(); i++) {
            PoolCounter c = POOL_COUNTERS.get(i);
            CounterSnapshot.Builder b = CounterSnapshot.builder().name(c.name()).help(c.help());
            for (Map.Entry<Key, Sums> e : shown.entrySet()) {
                b.dataPoint(CounterDataPointSnapshot.builder().labels(labels(e.getKey()))
                        .value(e.getValue().counters[i] / c.divisor()).build());
            }
            out.add(b.build());
        }
        // pins are labelled by pool and cause (no mode: only transaction pools pin)
        Map<String, Map<String, Long>> pins = new TreeMap<>();
        shown.forEach((k, sums) -> sums.pins.forEach((cause, n) ->
                pins.computeIfAbsent(k.pool(), p -> new TreeMap<>()).merge(cause, n, Long::sum)));
        CounterSnapshot.Builder b = CounterSnapshot.builder().name("pgmux_pool_pins_total")
                .help("Clients pinned to their server connection, by cause.");
        pins.forEach((pool, causes) -> causes.forEach((cause, n) -> b.dataPoint(CounterDataPointSnapshot.builder()
                .labels(Labels.of("pool", pool, "cause", cause)).value(n).build())));
        out.add(b.build());
    }

    private static Labels labels(Key k) {
        return Labels.of("pool", k.pool(), "mode", k.mode());
    }

    private static GaugeSnapshot gauge(String name, String help, double value) {
        return GaugeSnapshot.builder().name(name).help(help)
                .dataPoint(GaugeDataPointSnapshot.builder().value(value).build()).build();
    }

    private static CounterSnapshot counter(String name, String help, double value) {
        return CounterSnapshot.builder().name(name).help(help)
                .dataPoint(CounterDataPointSnapshot.builder().value(value).build()).build();
    }
}
