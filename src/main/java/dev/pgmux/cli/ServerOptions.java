package dev.pgmux.cli;

import dev.pgmux.config.ConfigSource;
import dev.pgmux.config.Setting;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import picocli.CommandLine.Option;

/**
 * The flags that describe a server, shared by {@code pgmux} and {@code pgmux check}. Each flag sets one key of
 * the config file and wins over the file and the environment; a flag not given leaves the key alone, which is
 * why none has a picocli default value.
 */
final class ServerOptions {

    @Option(names = {"-c", "--config"}, paramLabel = "FILE", defaultValue = "${env:PGMUX_CONFIG}",
            description = "YAML config file (also PGMUX_CONFIG). Flags and PGMUX_* variables override its settings.")
    Path config;

    @Option(names = "--listen", paramLabel = "HOST:PORT",
            description = "Address to listen on (repeatable). Default: 127.0.0.1:5434.")
    List<String> listen;

    @Option(names = "--unix-socket-dir", paramLabel = "DIR",
            description = "Also listen on Unix-domain sockets DIR/.s.PGSQL.PORT, one per listen port (psql -h DIR).")
    String unixSocketDir;

    @Option(names = "--unix-socket-mode", paramLabel = "MODE",
            description = "The socket files' mode, in octal. Default: 0777.")
    String unixSocketMode;

    @Option(names = "--proxy-protocol-trusted", paramLabel = "CIDR",
            description = "A load balancer address or network (repeatable) whose connections start with a PROXY"
                    + " protocol header (v1 or v2) naming the client's address.")
    List<String> proxyProtocolTrusted;

    @Option(names = "--admin-listen", paramLabel = "HOST:PORT",
            description = "Address of the admin HTTP endpoints /healthz, /readyz and /metrics. Default: none.")
    String adminListen;

    @Option(names = "--metrics-pool-labels", paramLabel = "N",
            description = "Pools with a pool label of their own in /metrics; the others are summed into"
                    + " pool=\"other\" (0: totals only). Default: 100.")
    Integer metricsPoolLabels;

    @Option(names = "--route", paramLabel = "USER=[BACKENDUSER@]HOST:PORT[/DATABASE]",
            description = "Route a user to a backend (repeatable). Without BACKENDUSER@ the user name is kept.")
    List<String> routes;

    @Option(names = "--default-route", paramLabel = "[BACKENDUSER@]HOST:PORT[/DATABASE]",
            description = "Backend for users without a route of their own.")
    String defaultRoute;

    @Option(names = "--tls-cert", paramLabel = "FILE", description = "Server certificate (PEM) for client TLS.")
    String tlsCert;

    @Option(names = "--tls-key", paramLabel = "FILE", description = "Private key (PEM, PKCS#8) for client TLS.")
    String tlsKey;

    @Option(names = "--tls-required", description = "Refuse clients that do not use TLS.")
    Boolean tlsRequired;

    @Option(names = "--tls-min-version", paramLabel = "VERSION", description = "TLSv1.2 (default) or TLSv1.3.")
    String tlsMinVersion;

    @Option(names = "--tls-client-ca", paramLabel = "FILE",
            description = "CA certificates (PEM) that client certificates are verified against (client_auth_method"
                    + " cert).")
    String tlsClientCa;

    @Option(names = "--max-client-connections", paramLabel = "N",
            description = "Client connections at once (0: unlimited). Default: 10000.")
    Integer maxClientConnections;

    @Option(names = "--max-connections-per-ip", paramLabel = "N",
            description = "Client connections at once from one address (0: unlimited). Default: 0.")
    Integer maxConnectionsPerIp;

    @Option(names = "--max-host-connections", paramLabel = "N",
            description = "Pooled server connections at once to one backend host, across all pools (0: unlimited)."
                    + " Default: 0.")
    Integer maxHostConnections;

    @Option(names = "--login-timeout", paramLabel = "DURATION",
            description = "Time a client has to log in: 15s, 500ms, 2m; a bare number is seconds. Default: 15s.")
    String loginTimeout;

    @Option(names = "--shutdown-timeout", paramLabel = "DURATION",
            description = "Time running sessions get to finish on shutdown; a bare number is seconds. Default: 30s.")
    String shutdownTimeout;

    @Option(names = "--log-level", paramLabel = "LEVEL", description = "trace, debug, info (default), warn or error.")
    String logLevel;

    @Option(names = "--log-format", paramLabel = "FORMAT", description = "text (default) or json (one object a line).")
    String logFormat;

    @Option(names = "--threads", paramLabel = "N", description = "I/O threads. Default: one per CPU.")
    Integer threads;

    /** The file, the environment and these flags. */
    ConfigSource source(Map<String, String> environment) {
        return new ConfigSource(config, environment, settings());
    }

    List<Setting> settings() {
        List<Setting> s = new ArrayList<>();
        if (listen != null && !listen.isEmpty()) {
            s.add(Setting.of("--listen", List.copyOf(listen), "listen"));
        }
        add(s, "--unix-socket-dir", unixSocketDir, "unix_socket_dir");
        add(s, "--unix-socket-mode", unixSocketMode, "unix_socket_mode");
        if (proxyProtocolTrusted != null && !proxyProtocolTrusted.isEmpty()) {
            s.add(Setting.of("--proxy-protocol-trusted", List.copyOf(proxyProtocolTrusted), "proxy_protocol",
                    "trusted"));
        }
        add(s, "--admin-listen", adminListen, "admin_listen");
        add(s, "--metrics-pool-labels", metricsPoolLabels, "metrics_pool_labels");
        if (routes != null) {
            for (String spec : routes) {
                int eq = spec.indexOf('=');
                if (eq <= 0) {
                    throw new IllegalArgumentException(
                            "--route must look like USER=[BACKENDUSER@]HOST:PORT[/DATABASE], not " + spec);
                }
                s.add(Setting.of("--route", spec.substring(eq + 1), "routes", spec.substring(0, eq)));
            }
        }
        add(s, "--default-route", defaultRoute, "default_route");
        add(s, "--tls-cert", tlsCert, "tls", "cert");
        add(s, "--tls-key", tlsKey, "tls", "key");
        add(s, "--tls-required", tlsRequired, "tls", "required");
        add(s, "--tls-min-version", tlsMinVersion, "tls", "min_version");
        add(s, "--tls-client-ca", tlsClientCa, "tls", "client_ca");
        add(s, "--max-client-connections", maxClientConnections, "limits", "max_client_connections");
        add(s, "--max-connections-per-ip", maxConnectionsPerIp, "limits", "max_connections_per_ip");
        add(s, "--max-host-connections", maxHostConnections, "limits", "max_host_connections");
        add(s, "--login-timeout", seconds(loginTimeout), "timeouts", "client_login");
        add(s, "--shutdown-timeout", seconds(shutdownTimeout), "timeouts", "shutdown");
        add(s, "--log-level", logLevel, "log", "level");
        add(s, "--log-format", logFormat, "log", "format");
        add(s, "--threads", threads, "threads");
        return s;
    }

    private static void add(List<Setting> settings, String flag, Object value, String... key) {
        if (value != null) {
            settings.add(Setting.of(flag, value, key));
        }
    }

    /** The timeout flags took whole seconds before they took durations; {@code 15} still means 15 seconds. */
    private static String seconds(String value) {
        return value != null && !value.isBlank() && value.trim().chars().allMatch(Character::isDigit)
                ? value.trim() + "s" : value;
    }
}
