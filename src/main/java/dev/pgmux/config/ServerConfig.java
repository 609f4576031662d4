package dev.pgmux.config;

import dev.pgmux.BackendConfig;
import dev.pgmux.Limits;
import dev.pgmux.StaticRouter;
import dev.pgmux.TlsConfig;
import java.nio.file.Path;
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
 */
public record ServerConfig(List<String> listen, HostPort adminListen, Integer threads, Tls tls, Limits limits, Log log,
                           Map<String, BackendConfig> routes, BackendConfig defaultRoute) {

    public ServerConfig {
        listen = List.copyOf(listen);
        routes = Collections.unmodifiableMap(new LinkedHashMap<>(routes));
    }

    /** Client TLS from PEM files. {@code minVersion} is {@code TLSv1.2} or {@code TLSv1.3}. */
    public record Tls(Path cert, Path key, boolean required, String minVersion) {
        public TlsConfig toTlsConfig() {
            return TlsConfig.fromPemFiles(cert, key).withRequired(required).withMinVersion(minVersion);
        }
    }

    public enum LogFormat { TEXT, JSON }

    /** @param level {@code trace}, {@code debug}, {@code info}, {@code warn} or {@code error} */
    public record Log(String level, LogFormat format) {
    }

    /** A router over {@link #routes()} with {@link #defaultRoute()} as its fallback. */
    public StaticRouter router() {
        return StaticRouter.of(routes).withFallback(defaultRoute);
    }

    /** The client TLS settings for {@link dev.pgmux.ProxyServer}, or null for none. */
    public TlsConfig tlsConfig() {
        return tls == null ? null : tls.toTlsConfig();
    }

    /**
     * This config with the settings that apply only at start (listen addresses, admin address, threads) taken
     * from {@code running}: what a process that reloaded this config actually runs with.
     */
    public ServerConfig withStartOnlySettingsOf(ServerConfig running) {
        return new ServerConfig(running.listen, running.adminListen, running.threads, tls, limits, log, routes,
                defaultRoute);
    }
}
