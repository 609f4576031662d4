package dev.pgmux.admin;

import dev.pgmux.ProxyStats;

/** A {@link ProxyStats} snapshot in the Prometheus text exposition format (version 0.0.4). */
public final class Metrics {
    public static final String CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

    private Metrics() {
    }

    /** The exposition text for {@code stats}; {@code version} goes into {@code pgmux_build_info}. */
    public static String format(ProxyStats stats, String version) {
        StringBuilder sb = new StringBuilder(2048);
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
        sb.append("# HELP pgmux_build_info pgmux version.\n# TYPE pgmux_build_info gauge\n")
                .append("pgmux_build_info{version=\"").append(escape(version)).append("\"} 1\n");
        return sb.toString();
    }

    private static void metric(StringBuilder sb, String name, String type, String help, long value) {
        sb.append("# HELP ").append(name).append(' ').append(help).append('\n')
                .append("# TYPE ").append(name).append(' ').append(type).append('\n')
                .append(name).append(' ').append(value).append('\n');
    }

    private static String escape(String label) {
        return label.replace("\\", "\\\\").replace("\"", "\\\"").replace("\n", "\\n");
    }
}
