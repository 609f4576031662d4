package dev.pgmux.config;

import dev.pgmux.BackendConfig;
import dev.pgmux.Cluster;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * What a reload changes, for the one log line a reload writes and for deciding what to apply.
 *
 * @param routesAdded         users with a new route
 * @param routesRemoved       users whose route is gone
 * @param routesChanged       users whose route goes elsewhere now
 * @param defaultRouteChanged the fallback backend changed (or appeared, or went)
 * @param routerChanged       the {@code router:} section changed (or appeared, or went)
 * @param limitsChanged       a connection limit or a timeout changed
 * @param tlsChanged          client TLS settings changed (file names, required, minimum version)
 * @param logChanged          log level or format changed
 * @param needRestart         keys that changed but apply only at start ({@code listen}, {@code admin_listen},
 *                            {@code threads}, {@code cluster.instance_id}, {@code unix_socket_dir},
 *                            {@code unix_socket_mode})
 * @param otherChanged        other keys that changed and apply to new connections ({@code role_check},
 *                            {@code cluster.peers}, {@code hide_unknown_users}, {@code auth_file}: its name, or
 *                            its users and passwords, {@code allow_cleartext_without_tls}, {@code proxy_protocol},
 *                            {@code metrics_pool_labels})
 */
public record ConfigDiff(List<String> routesAdded, List<String> routesRemoved, List<String> routesChanged,
                         boolean defaultRouteChanged, boolean routerChanged, boolean limitsChanged,
                         boolean tlsChanged, boolean logChanged, List<String> needRestart, List<String> otherChanged) {

    public static ConfigDiff between(ServerConfig old, ServerConfig now) {
        List<String> added = new ArrayList<>();
        List<String> changed = new ArrayList<>();
        for (Map.Entry<String, BackendConfig> e : now.routes().entrySet()) {
            BackendConfig before = old.routes().get(e.getKey());
            if (before == null) {
                added.add(e.getKey());
            } else if (!before.equals(e.getValue())) {
                changed.add(e.getKey());
            }
        }
        List<String> removed = old.routes().keySet().stream().filter(u -> !now.routes().containsKey(u)).toList();
        List<String> restart = new ArrayList<>();
        if (!old.listen().equals(now.listen())) {
            restart.add("listen");
        }
        if (!Objects.equals(old.adminListen(), now.adminListen())) {
            restart.add("admin_listen");
        }
        if (!Objects.equals(old.threads(), now.threads())) {
            restart.add("threads");
        }
        if (!Objects.equals(old.unixSocketDir(), now.unixSocketDir())) {
            restart.add("unix_socket_dir");
        }
        if (old.unixSocketMode() != now.unixSocketMode()) {
            restart.add("unix_socket_mode");
        }
        int oldId = Cluster.instanceIdOf(old.cluster());
        int newId = Cluster.instanceIdOf(now.cluster());
        if (oldId != newId) {
            restart.add("cluster.instance_id");
        }
        List<String> other = new ArrayList<>();
        if (!Objects.equals(old.roleCheck(), now.roleCheck())) {
            other.add("role_check");
        }
        if (oldId == newId && !Objects.equals(old.cluster() == null ? null : old.cluster().peers(),
                now.cluster() == null ? null : now.cluster().peers())) {
            other.add("cluster.peers");
        }
        if (old.hideUnknownUsers() != now.hideUnknownUsers()) {
            other.add("hide_unknown_users");
        }
        if (!Objects.equals(old.authFile(), now.authFile())) {
            other.add("auth_file");
        }
        if (old.allowCleartextWithoutTls() != now.allowCleartextWithoutTls()) {
            other.add("allow_cleartext_without_tls");
        }
        if (!Objects.equals(old.proxyProtocol(), now.proxyProtocol())) {
            other.add("proxy_protocol");
        }
        if (!Objects.equals(old.console(), now.console())) {
            other.add("admin console (admin_users, stats_users, console_database)");
        }
        if (old.metricsPoolLabels() != now.metricsPoolLabels()) {
            other.add("metrics_pool_labels");
        }
        return new ConfigDiff(List.copyOf(added), removed, List.copyOf(changed),
                !Objects.equals(old.defaultRoute(), now.defaultRoute()), !Objects.equals(old.router(), now.router()),
                !old.limits().equals(now.limits()),
                !Objects.equals(old.tls(), now.tls()), !old.log().equals(now.log()), List.copyOf(restart),
                List.copyOf(other));
    }

    public boolean routingChanged() {
        return !routesAdded.isEmpty() || !routesRemoved.isEmpty() || !routesChanged.isEmpty() || defaultRouteChanged
                || routerChanged;
    }

    /**
     * E.g. {@code routes +1 -0 ~0, default_route unchanged, limits changed, tls unchanged, log unchanged,
     * router unchanged}.
     */
    public String summary() {
        return "routes +" + routesAdded.size() + " -" + routesRemoved.size() + " ~" + routesChanged.size()
                + ", default_route " + word(defaultRouteChanged) + ", limits " + word(limitsChanged)
                + ", tls " + word(tlsChanged) + ", log " + word(logChanged) + ", router " + word(routerChanged)
                + (otherChanged.isEmpty() ? "" : ", changed: " + String.join(" ", otherChanged));
    }

    private static String word(boolean changed) {
        return changed ? "changed" : "unchanged";
    }
}
