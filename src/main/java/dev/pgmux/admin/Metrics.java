package dev.pgmux.admin;

import dev.pgmux.ProxyStats;
import dev.pgmux.pool.PoolStats;
import java.util.List;
import java.util.function.ToLongFunction;

/** A {@link ProxyStats} snapshot in the Prometheus text exposition format (version 0.0.4). */
public final class Metrics {
    public static final String CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

    private Metrics() {
    }

    /** The exposition text for {@code stats}; {@code version} goes into {@code pgmux_build_info}. */
    public static String format(ProxyStats stats, String version) {
        return format(stats, List.of(), version);
    }

    /** As {@link #format(ProxyStats, String)}, with the pools' figures labelled by pool and mode. */
    public static String format(ProxyStats stats, List<PoolStats> pools, String version) {
        StringBuilder sb = new StringBuilder(2048 + 1024 * pools.size());
        metric(sb, "pgmux_client_connections", "gauge", "Client connections open now.", stats.current());
        metric(sb, "pgmux_client_connections_accepted_total", "counter", "Client connections accepted.",
                stats.accepted());
        metric(sb, "pgmux_client_connections_rejected_total", "counter",
                "Connections refused before a session was established (limits, routing, TLS policy, protocol"
                        + " errors, unreachable backends).", stats.rejected());
        metric(sb, "pgmux_sessions_established_total", "counter",
                "Sessions that finished logging in to their backend.", stats.sessions());
        metric(sb, "pgmux_backend_connect_failures_total", "counter",
                "Attempts to reach a backend host that failed (one per host tried).", stats.backendConnectFailures());
        metric(sb, "pgmux_cancel_requests_total", "counter", "Cancel requests received.", stats.cancels());
        metric(sb, "pgmux_client_received_bytes_total", "counter",
                "Bytes relayed from clients to backends after their startup messages.", stats.bytesFromClients());
        metric(sb, "pgmux_client_sent_bytes_total", "counter",
                "Bytes relayed from backends to clients once sessions were established.", stats.bytesToClients());
        if (!pools.isEmpty()) {
            poolMetric(sb, pools, "pgmux_pool_clients", "gauge", "Clients of the pool.", PoolStats::clients);
            poolMetric(sb, pools, "pgmux_pool_clients_waiting", "gauge", "Clients waiting for a server connection now.",
                    PoolStats::waiting);
            poolMetric(sb, pools, "pgmux_pool_servers_active", "gauge", "Server connections in use by a client.",
                    PoolStats::serversActive);
            poolMetric(sb, pools, "pgmux_pool_servers_idle", "gauge", "Server connections waiting in the pool.",
                    PoolStats::serversIdle);
            poolMetric(sb, pools, "pgmux_pool_servers_opening", "gauge", "Server connections being opened.",
                    PoolStats::serversOpening);
            poolMetric(sb, pools, "pgmux_pool_size", "gauge", "The pool's pool_size.", PoolStats::size);
            poolMetric(sb, pools, "pgmux_pool_waits_total", "counter", "Times a client asked for a server connection.",
                    PoolStats::waits);
            poolMetric(sb, pools, "pgmux_pool_wait_microseconds_total", "counter",
                    "Time clients waited for a server connection.", p -> p.waitNanos() / 1000);
            poolMetric(sb, pools, "pgmux_pool_transactions_total", "counter",
                    "Server connections given back after a transaction (transaction pooling).", PoolStats::transactions);
            poolMetric(sb, pools, "pgmux_pool_queries_total", "counter", "Queries and Syncs forwarded (transaction"
                    + " pooling).", PoolStats::queries);
            sb.append("# HELP pgmux_pool_pins_total Clients pinned to their server connection, by cause.\n")
                    .append("# TYPE pgmux_pool_pins_total counter\n");
            for (PoolStats p : pools) {
                p.pins().forEach((cause, n) -> sb.append("pgmux_pool_pins_total{pool=\"").append(escape(p.name()))
                        .append("\",cause=\"").append(escape(cause)).append("\"} ").append(n).append('\n'));
            }
        }
        sb.append("# HELP pgmux_build_info pgmux version.\n# TYPE pgmux_build_info gauge\n")
                .append("pgmux_build_info{version=\"").append(escape(version)).append("\"} 1\n");
        return sb.toString();
    }

    private static void metric(StringBuilder sb, String name, String type, String help, long value) {
        sb.append("# HELP ").append(name).append(' ').append(help).append('\n')
                .append("# TYPE ").append(name).append(' ').append(type).append('\n')
                .append(name).append(' ').append(value).append('\n');
    }

    private static void poolMetric(StringBuilder sb, List<PoolStats> pools, String name, String type, String help,
                                   ToLongFunction<PoolStats> value) {
        sb.append("# HELP ").append(name).append(' ').append(help).append('\n')
                .append("# TYPE ").append(name).append(' ').append(type).append('\n');
        for (PoolStats p : pools) {
            sb.append(name).append("{pool=\"").append(escape(p.name())).append("\",mode=\"").append(p.mode())
                    .append("\"} ").append(value.applyAsLong(p)).append('\n');
        }
    }

    private static String escape(String label) {
        return label.replace("\\", "\\\\").replace("\"", "\\\"").replace("\n", "\\n");
    }
}
