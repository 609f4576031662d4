package dev.pgmux.config;

import dev.pgmux.BackendConfig;
import dev.pgmux.Cluster;
import dev.pgmux.Limits;
import dev.pgmux.ProxyProtocol;
import dev.pgmux.RoleCheck;
import dev.pgmux.TlsConfig;
import dev.pgmux.auth.AuthFile;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A validated configuration of the pgmux server: what the file, the environment and the flags say together,
 * with defaults filled in, in the public API's own types.
 *
 * @param listen       addresses to listen on, as written ({@code host:port})
 * @param adminListen  the admin HTTP address, or null for none
 * @param threads      event loop threads, or null for one per CPU
 * @param tls          TLS toward clients, or null for none
 * @param limits       connection limits and timeouts
 * @param log          log level and format
 * @param routes       user name to backend, in the file's order
 * @param defaultRoute the backend for users without a route, or null
 * @param router       the {@code router:} section, or null
 * @param roleCheck    credentials to check backend hosts' roles with, or null
 * @param cluster      this instance's id and its peers, or null for a single instance
 * @param hideUnknownUsers answer users without a route with a failing password exchange, as PostgreSQL answers
 *                     unknown users, instead of "no route"
 * @param authFile     the users and passwords of {@code auth_file} (PgBouncer's format), as read with this config,
 *                     for routes with {@code auth: proxy}; null for none
 * @param allowCleartextWithoutTls let routes with {@code client_auth_method: password} ask clients without TLS
 *                     for their password in cleartext (otherwise they are refused with 28000)
 * @param unixSocketDir the directory of the Unix-domain sockets ({@code .s.PGSQL.PORT} per listen port), or null
 *                     for none
 * @param unixSocketMode the socket files' mode, {@code 0777}-style
 * @param proxyProtocol the load balancers whose connections start with a PROXY header, or null for none
 * @param console      the admin console ({@code admin_users}, {@code stats_users}, {@code console_database}), or
 *                     null for none
 * @param metricsPoolLabels how many pools get a {@code pool} label of their own in {@code /metrics}; the others are
 *                     summed into {@code pool="other"} (0: totals only)
 */
public record ServerConfig(List<String> listen, HostPort adminListen, Integer threads, Tls tls, Limits limits, Log log,
                           Map<String, BackendConfig> routes, BackendConfig defaultRoute, RouterSpec router,
                           RoleCheck roleCheck, Cluster cluster, boolean hideUnknownUsers, AuthFile authFile,
                           boolean allowCleartextWithoutTls, Path unixSocketDir, int unixSocketMode,
                           ProxyProtocol proxyProtocol, dev.pgmux.ConsoleConfig console, int metricsPoolLabels) {

    /** The socket files' mode when none is given: PostgreSQL's default {@code unix_socket_permissions}. */
    public static final int DEFAULT_UNIX_SOCKET_MODE = 0777;
    /** How many pools get labels of their own in {@code /metrics} when none is given. */
    public static final int DEFAULT_METRICS_POOL_LABELS = dev.pgmux.metrics.ProxyCollector.DEFAULT_POOL_LABELS;


    /** A config without Unix-domain sockets or PROXY protocol. */
    public ServerConfig(List<String> listen, HostPort adminListen, Integer threads, Tls tls, Limits limits, Log log,
                        Map<String, BackendConfig> routes, BackendConfig defaultRoute, RouterSpec router,
                        RoleCheck roleCheck, Cluster cluster, boolean hideUnknownUsers, AuthFile authFile,
                        boolean allowCleartextWithoutTls) {
        this(listen, adminListen, threads, tls, limits, log, routes, defaultRoute, router, roleCheck, cluster,
                hideUnknownUsers, authFile, allowCleartextWithoutTls, null, DEFAULT_UNIX_SOCKET_MODE, null);
    }

    /** A config without an admin console, with the default {@code metrics_pool_labels}. */
    public ServerConfig(List<String> listen, HostPort adminListen, Integer threads, Tls tls, Limits limits, Log log,
                        Map<String, BackendConfig> routes, BackendConfig defaultRoute, RouterSpec router,
                        RoleCheck roleCheck, Cluster cluster, boolean hideUnknownUsers, AuthFile authFile,
                        boolean allowCleartextWithoutTls, Path unixSocketDir, int unixSocketMode,
                        ProxyProtocol proxyProtocol) {
        this(listen, adminListen, threads, tls, limits, log, routes, defaultRoute, router, roleCheck, cluster,
                hideUnknownUsers, authFile, allowCleartextWithoutTls, unixSocketDir, unixSocketMode, proxyProtocol,
                null, DEFAULT_METRICS_POOL_LABELS);
    }

    /** A config without a role check or cluster. */
    public ServerConfig(List<String> listen, HostPort adminListen, Integer threads, Tls tls, Limits limits, Log log,
                        Map<String, BackendConfig> routes, BackendConfig defaultRoute, RouterSpec router) {
        this(listen, adminListen, threads, tls, limits, log, routes, defaultRoute, router, null, null, false);
    }

    /** A config without an auth file. */
    public ServerConfig(List<String> listen, HostPort adminListen, Integer threads, Tls tls, Limits limits, Log log,
                        Map<String, BackendConfig> routes, BackendConfig defaultRoute, RouterSpec router,
                        RoleCheck roleCheck, Cluster cluster, boolean hideUnknownUsers) {
        this(listen, adminListen, threads, tls, limits, log, routes, defaultRoute, router, roleCheck, cluster,
                hideUnknownUsers, null);
    }

    /** A config where cleartext passwords need TLS. */
    public ServerConfig(List<String> listen, HostPort adminListen, Integer threads, Tls tls, Limits limits, Log log,
                        Map<String, BackendConfig> routes, BackendConfig defaultRoute, RouterSpec router,
                        RoleCheck roleCheck, Cluster cluster, boolean hideUnknownUsers, AuthFile authFile) {
        this(listen, adminListen, threads, tls, limits, log, routes, defaultRoute, router, roleCheck, cluster,
                hideUnknownUsers, authFile, false);
    }

    public ServerConfig {
        listen = List.copyOf(listen);
        routes = Collections.unmodifiableMap(new LinkedHashMap<>(routes));
    }

    /**
     * Client TLS from PEM files. {@code minVersion} is {@code TLSv1.2} or {@code TLSv1.3}; {@code clientCa} the CA
     * certificates client certificates are verified against, or null for none.
     */
    public record Tls(Path cert, Path key, boolean required, String minVersion, Path clientCa) {
        /** Without a client CA. */
        public Tls(Path cert, Path key, boolean required, String minVersion) {
            this(cert, key, required, minVersion, null);
        }

        public TlsConfig toTlsConfig() {
            return TlsConfig.fromPemFiles(cert, key).withRequired(required).withMinVersion(minVersion)
                    .withClientCa(clientCa);
        }
    }

    public enum LogFormat { TEXT, JSON }

    /** @param level {@code trace}, {@code debug}, {@code info}, {@code warn} or {@code error} */
    public record Log(String level, LogFormat format) {
    }

    /**
     * All routing in one spec: {@link #routes()} and {@link #defaultRoute()} as a static router, then the
     * {@code router:} section, chained when both are given, so that the static routes (and {@code --route}
     * flags) override what the router section would say.
     */
    public RouterSpec routing() {
        RouterSpec.Static fixed = routes.isEmpty() && defaultRoute == null ? null
                : new RouterSpec.Static(routes, defaultRoute);
        if (router == null) {
            return fixed == null ? new RouterSpec.Static(Map.of(), null) : fixed;
        }
        if (fixed == null) {
            return router;
        }
        List<RouterSpec> chain = new ArrayList<>();
        chain.add(fixed);
        if (router instanceof RouterSpec.Chain c) {
            chain.addAll(c.routers());
        } else {
            chain.add(router);
        }
        return new RouterSpec.Chain(chain);
    }

    /** Whether anything routes at all (a config without routes is refused, but a library may build one). */
    public boolean hasRoutes() {
        return !routes.isEmpty() || defaultRoute != null || router != null;
    }

    /** The client TLS settings for {@link dev.pgmux.ProxyServer}, or null for none. */
    public TlsConfig tlsConfig() {
        return tls == null ? null : tls.toTlsConfig();
    }

    /**
     * This config with the settings that apply only at start (listen addresses, admin address, threads, the
     * cluster instance id, the Unix-domain sockets) taken
     * from {@code running}: what a process that reloaded this config actually runs with.
     */
    public ServerConfig withStartOnlySettingsOf(ServerConfig running) {
        return new ServerConfig(running.listen, running.adminListen, running.threads, tls, limits, log, routes,
                defaultRoute, router, roleCheck, sameInstance(running.cluster, cluster) ? cluster : running.cluster,
                hideUnknownUsers, authFile, allowCleartextWithoutTls, running.unixSocketDir, running.unixSocketMode,
                proxyProtocol, console, metricsPoolLabels);
    }

    /** A cluster's instance id is in the cancel keys handed out: a process keeps the one it started with. */
    private static boolean sameInstance(Cluster a, Cluster b) {
        return Cluster.instanceIdOf(a) == Cluster.instanceIdOf(b);
    }
}
