package dev.pgmux.config;

import dev.pgmux.BackendConfig;
import dev.pgmux.Cluster;
import dev.pgmux.Limits;
import dev.pgmux.ProxyProtocol;
import dev.pgmux.RoleCheck;
import dev.pgmux.TcpPort;
import dev.pgmux.auth.AuthFile;
import dev.pgmux.listen.Listeners;
import dev.pgmux.tls.ServerTls;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * {@link RawConfig} into {@link ServerConfig}: defaults, ranges, durations, modes, and files that must be
 * readable. This class checks the server's own settings; routes and backends are {@link BackendValidator}'s,
 * the {@code router:} section {@link RouterValidator}'s. Every error goes to one {@link Checks}, so that one run
 * of {@code pgmux check} lists every problem.
 */
final class Validator {
    static final List<String> DEFAULT_LISTEN = List.of("127.0.0.1:5434");
    private static final Set<String> LOG_LEVELS = Set.of("trace", "debug", "info", "warn", "error");

    private final Checks checks;
    private final BackendValidator backends;
    private final RouterValidator routers;

    private Validator(Checks checks, BackendValidator.Context context) {
        this.checks = checks;
        this.backends = new BackendValidator(checks, context);
        this.routers = new RouterValidator(checks, backends);
    }

    /**
     * @param baseDir     the config file's directory: relative file names in the file are relative to it
     * @param environment the process environment, for settings that name a variable ({@code bearer_token_env})
     */
    static ServerConfig validate(RawConfig raw, Origins origins, Path baseDir, Map<String, String> environment)
            throws ConfigException {
        Checks checks = new Checks(origins, baseDir, environment);
        RawConfig.Tls tls = raw.tls();
        BackendValidator.Context context = new BackendValidator.Context(given(raw.authFile()),
                tls != null && given(tls.cert()) && given(tls.key()), tls != null && given(tls.clientCa()),
                Boolean.TRUE.equals(raw.allowCleartextWithoutTls()), given(raw.authUser()) ? raw.authUser().strip() : null,
                given(raw.authQuery()) ? raw.authQuery().strip() : null);
        ServerConfig config = new Validator(checks, context).config(raw);
        checks.throwIfAny();
        return config;
    }

    private ServerConfig config(RawConfig raw) {
        List<String> listen = listen(raw.listen());
        HostPort admin = null;
        if (raw.adminListen() != null && !raw.adminListen().isBlank()) {
            admin = checks.check(Key.of("admin_listen"), raw.adminListen(), HostPort::parse);
        }
        if (raw.threads() != null && raw.threads() < 1) {
            checks.error(Key.of("threads"), "must be at least 1, not " + raw.threads());
        }
        ServerConfig.Tls tls = tls(raw.tls());
        Limits limits = limits(raw.limits(), raw.timeouts());
        if (raw.authQueryCacheTtl() != null) {
            limits = limits.withAuthQueryCacheTtl(checks.duration(Key.of("auth_query_cache_ttl"),
                    raw.authQueryCacheTtl(), limits.authQueryCacheTtl(), true));
        }
        ServerConfig.Log log = log(raw.log());
        Map<String, BackendConfig> routes = backends.routes(Key.of("routes"), raw.routes());
        BackendConfig defaultRoute = raw.defaultRoute() == null ? null
                : backends.backend(Key.of("default_route"), raw.defaultRoute());
        RouterSpec router = raw.router() == null ? null : routers.router(Key.of("router"), raw.router());
        if ((raw.routes() == null || raw.routes().isEmpty()) && raw.defaultRoute() == null && raw.router() == null) {
            checks.error(Key.of("routes"), "no routes: give routes (user: {host: ..., port: ...}), default_route or router");
        }
        if (raw.defaultRoute() != null && raw.router() != null) {
            checks.error(Key.of("default_route"), "with a default route the router section would never be asked:"
                    + " move the default route into the router (a static router at the end of its chain)");
        }
        RoleCheck roleCheck = raw.roleCheck() == null ? null : roleCheck(Key.of("role_check"), raw.roleCheck());
        Cluster cluster = raw.cluster() == null ? null : cluster(Key.of("cluster"), raw.cluster());
        AuthFile authFile = given(raw.authFile()) ? authFile(Key.of("auth_file"), raw.authFile()) : null;
        int unixSocketMode = unixSocketMode(raw.unixSocketMode());
        Path unixSocketDir = unixSocketDir(raw.unixSocketDir(), listen, unixSocketMode);
        ProxyProtocol proxyProtocol = raw.proxyProtocol() == null ? null : proxyProtocol(raw.proxyProtocol());
        int metricsPoolLabels = ServerConfig.DEFAULT_METRICS_POOL_LABELS;
        if (raw.metricsPoolLabels() != null) {
            metricsPoolLabels = raw.metricsPoolLabels();
            if (metricsPoolLabels < 0) {
                checks.error(Key.of("metrics_pool_labels"), "must be 0 (totals only) or more, not " + metricsPoolLabels);
            }
        }
        // auth_user and auth_query are the proxy routes' that set none (BackendValidator), which checks them.
        dev.pgmux.ConsoleConfig console = console(raw, authFile);
        return new ServerConfig(listen, admin, raw.threads(), tls, limits, log, routes, defaultRoute, router, roleCheck,
                cluster, Boolean.TRUE.equals(raw.hideUnknownUsers()), authFile,
                Boolean.TRUE.equals(raw.allowCleartextWithoutTls()), unixSocketDir, unixSocketMode, proxyProtocol,
                console, metricsPoolLabels);
    }

    /**
     * The admin console when {@code admin_users} or {@code stats_users} lists anyone (as PgBouncer, a list may
     * also be one comma-separated string); their passwords come from the auth file, so one must be given.
     */
    private dev.pgmux.ConsoleConfig console(RawConfig raw, AuthFile authFile) {
        java.util.Set<String> admins = userList(raw.adminUsers());
        java.util.Set<String> stats = userList(raw.statsUsers());
        if (admins.isEmpty() && stats.isEmpty()) {
            if (given(raw.consoleDatabase())) {
                checks.error(Key.of("console_database"), "no console users: list them in admin_users or stats_users");
            }
            return null;
        }
        if (authFile == null && !given(raw.authFile())) {
            checks.error(Key.of(admins.isEmpty() ? "stats_users" : "admin_users"), "console users log in with"
                    + " their auth_file passwords: give a top-level auth_file with a line for each");
        }
        String database = given(raw.consoleDatabase()) ? raw.consoleDatabase().strip()
                : dev.pgmux.ConsoleConfig.DEFAULT_DATABASE;
        return new dev.pgmux.ConsoleConfig(database, admins, stats);
    }

    private static java.util.Set<String> userList(List<String> raw) {
        java.util.Set<String> users = new java.util.LinkedHashSet<>();
        if (raw != null) {
            for (String item : raw) {
                if (item == null) {
                    continue;
                }
                for (String name : item.split(",")) {
                    if (!name.isBlank()) {
                        users.add(name.strip());
                    }
                }
            }
        }
        return users;
    }

    /**
     * The directory of the Unix-domain sockets, or null. It need not exist yet (systemd's {@code RuntimeDirectory=}
     * creates it when the service starts); each socket's path must fit {@code sun_path}.
     */
    private Path unixSocketDir(String raw, List<String> listen, int mode) {
        if (!given(raw)) {
            return null;
        }
        Key key = Key.of("unix_socket_dir");
        Path dir = checks.check(key, raw, name -> checks.path(key, name));
        if (dir == null) {
            return null;
        }
        for (String address : listen) {
            int port = HostPort.parse(address).port();
            port = port == 0 ? TcpPort.MAX : port; // port 0 becomes a port of up to five digits
            String problem = new Listeners.UnixSockets(dir, mode).problem(port);
            if (problem != null) {
                checks.error(key, problem);
                return null;
            }
        }
        return dir;
    }

    /**
     * The socket files' mode, written in octal with a leading 0 as PostgreSQL's {@code unix_socket_permissions}
     * ({@code 0777}, {@code 0770}). Unquoted in YAML, {@code 0770} is already read as an octal number (504), so a
     * number without the leading 0 is taken as the mode's value.
     */
    private int unixSocketMode(String raw) {
        if (!given(raw)) {
            return ServerConfig.DEFAULT_UNIX_SOCKET_MODE;
        }
        Key key = Key.of("unix_socket_mode");
        String text = raw.strip();
        Integer mode = null;
        if (text.matches("0[0-7]{1,3}")) {
            mode = Integer.parseInt(text, 8);
        } else if (text.matches("[0-9]{1,3}")) {
            mode = Integer.parseInt(text);
        }
        if (mode == null || mode > 0777) {
            checks.error(key, "must be a mode in octal with a leading 0, from 0000 to 0777 (as 0777 or 0770), not \""
                    + raw + "\"");
            return ServerConfig.DEFAULT_UNIX_SOCKET_MODE;
        }
        return mode;
    }

    private ProxyProtocol proxyProtocol(RawConfig.ProxyProtocol raw) {
        Key key = Key.of("proxy_protocol", "trusted");
        if (raw.trusted() == null || raw.trusted().isEmpty()) {
            checks.error(key, "missing: the load balancers' addresses or networks (10.0.0.0/8) that send PROXY"
                    + " protocol headers");
            return null;
        }
        List<ProxyProtocol.Cidr> trusted = new ArrayList<>();
        for (int i = 0; i < raw.trusted().size(); i++) {
            String text = raw.trusted().get(i);
            if (!given(text)) {
                checks.error(key.index(i), "empty address");
                continue;
            }
            ProxyProtocol.Cidr cidr = checks.check(key.index(i), text, ProxyProtocol.Cidr::parse);
            if (cidr != null) {
                trusted.add(cidr);
            }
        }
        return new ProxyProtocol(trusted);
    }

    private static boolean given(String text) {
        return text != null && !text.isBlank();
    }

    /** The auth file, read now: a reload reads it again, so that a changed file is a changed config. */
    private AuthFile authFile(Key key, String name) {
        Path file = checks.readableFile(key, name);
        if (file == null) {
            return null;
        }
        try {
            return AuthFile.read(file);
        } catch (IOException e) {
            checks.error(key, "cannot read " + file + ": " + e.getClass().getSimpleName());
        } catch (IllegalArgumentException e) {
            checks.error(key, file + " " + e.getMessage());
        }
        return null;
    }

    private Cluster cluster(Key key, RawConfig.Cluster raw) {
        int errorsBefore = checks.count();
        if (raw.instanceId() == null) {
            checks.error(key.child("instance_id"), "missing: this instance's id, 1 to " + Cluster.MAX_INSTANCE_ID);
        } else if (raw.instanceId() < 1 || raw.instanceId() > Cluster.MAX_INSTANCE_ID) {
            checks.error(key.child("instance_id"), "must be between 1 and " + Cluster.MAX_INSTANCE_ID + ", not "
                    + raw.instanceId());
        }
        Map<Integer, String> peers = raw.peers() == null ? Map.of() : raw.peers();
        peers.forEach((id, address) -> {
            Key k = key.child("peers").child(String.valueOf(id));
            if (id == null || id < 1 || id > Cluster.MAX_INSTANCE_ID) {
                checks.error(k, "instance ids are 1 to " + Cluster.MAX_INSTANCE_ID);
            } else if (address == null || address.isBlank()) {
                checks.error(k, "empty: give the instance's host:port");
            } else {
                checks.check(k, address, HostPort::parse);
            }
        });
        if (checks.count() > errorsBefore) {
            return null;
        }
        return new Cluster(raw.instanceId(), peers);
    }

    private RoleCheck roleCheck(Key key, RawConfig.RoleCheck raw) {
        if (raw.user() == null || raw.user().isBlank()) {
            checks.error(key.child("user"), "missing: the user pgmux checks backend roles as");
            return null;
        }
        String password = raw.password();
        if (raw.password() != null && raw.passwordEnv() != null) {
            checks.error(key.child("password_env"), "give password or password_env, not both");
            return null;
        } else if (raw.passwordEnv() != null) {
            password = checks.environment(raw.passwordEnv().strip());
            if (password == null) {
                checks.error(key.child("password_env"), "the environment variable " + raw.passwordEnv().strip()
                        + " is not set");
                return null;
            }
        }
        return new RoleCheck(raw.user().strip(), password, raw.database());
    }

    private List<String> listen(List<String> raw) {
        if (raw == null) {
            return DEFAULT_LISTEN;
        }
        if (raw.isEmpty()) {
            checks.error(Key.of("listen"), "no address to listen on");
        }
        List<String> listen = new ArrayList<>();
        for (int i = 0; i < raw.size(); i++) {
            Key key = Key.of("listen").index(i);
            if (raw.get(i) == null) {
                checks.error(key, "empty address");
            } else if (checks.check(key, raw.get(i), HostPort::parse) != null) {
                listen.add(raw.get(i).trim());
            }
        }
        return listen;
    }

    private ServerConfig.Tls tls(RawConfig.Tls raw) {
        Key tls = Key.of("tls");
        if (raw == null || (raw.cert() == null && raw.key() == null)) {
            if (raw != null && Boolean.TRUE.equals(raw.required())) {
                checks.error(tls.child("required"), "needs tls.cert and tls.key");
            }
            if (raw != null && given(raw.clientCa())) {
                checks.error(tls.child("client_ca"), "needs tls.cert and tls.key");
            }
            return null;
        }
        if (raw.cert() == null || raw.key() == null) {
            checks.error(tls.child(raw.cert() == null ? "key" : "cert"),
                    raw.cert() == null ? "needs tls.cert too" : "needs tls.key too");
            return null;
        }
        Path cert = checks.readableFile(tls.child("cert"), raw.cert());
        Path key = checks.readableFile(tls.child("key"), raw.key());
        Path clientCa = given(raw.clientCa()) ? checks.readableFile(tls.child("client_ca"), raw.clientCa()) : null;
        String minVersion = raw.minVersion() == null ? "TLSv1.2" : switch (raw.minVersion().trim().toLowerCase(Locale.ROOT)) {
            case "tlsv1.2", "1.2" -> "TLSv1.2";
            case "tlsv1.3", "1.3" -> "TLSv1.3";
            default -> {
                checks.error(tls.child("min_version"), "must be TLSv1.2 or TLSv1.3, not \"" + raw.minVersion() + "\"");
                yield null;
            }
        };
        if (cert == null || key == null || minVersion == null || (given(raw.clientCa()) && clientCa == null)) {
            return null;
        }
        ServerConfig.Tls result = new ServerConfig.Tls(cert, key, Boolean.TRUE.equals(raw.required()), minVersion,
                clientCa);
        try {
            // Builds the TLS context once, so that a key that does not match its certificate is a config error.
            new ServerTls(new ServerConfig.Tls(cert, key, false, minVersion).toTlsConfig());
        } catch (Exception e) {
            checks.error(tls.child("cert"), "unusable certificate or key: " + e.getMessage());
            return null;
        }
        if (clientCa != null) {
            try {
                new ServerTls(result.toTlsConfig());
            } catch (Exception e) {
                checks.error(tls.child("client_ca"), "no usable CA certificate (PEM): " + e.getMessage());
                return null;
            }
        }
        return result;
    }

    private Limits limits(RawConfig.Limits raw, RawConfig.Timeouts timeouts) {
        Limits limits = Limits.DEFAULT;
        if (raw != null) {
            if (raw.maxClientConnections() != null) {
                limits = limits.withMaxClientConnections(atLeastZero(Key.of("limits", "max_client_connections"),
                        raw.maxClientConnections()));
            }
            if (raw.maxConnectionsPerIp() != null) {
                limits = limits.withMaxConnectionsPerIp(atLeastZero(Key.of("limits", "max_connections_per_ip"),
                        raw.maxConnectionsPerIp()));
            }
            if (raw.maxHostConnections() != null) {
                limits = limits.withMaxHostConnections(atLeastZero(Key.of("limits", "max_host_connections"),
                        raw.maxHostConnections()));
            }
        }
        if (timeouts != null) {
            limits = limits.withLoginTimeout(duration("client_login", timeouts.clientLogin(), limits.loginTimeout(), false))
                    .withBackendConnectTimeout(duration("backend_connect", timeouts.backendConnect(),
                            limits.backendConnectTimeout(), false))
                    .withRouterTimeout(duration("router", timeouts.router(), limits.routerTimeout(), false))
                    .withShutdownTimeout(duration("shutdown", timeouts.shutdown(), limits.shutdownTimeout(), true));
        }
        return limits;
    }

    private int atLeastZero(Key key, int n) {
        if (n < 0) {
            checks.error(key, "must be 0 (unlimited) or more, not " + n);
            return 0;
        }
        return n;
    }

    private Duration duration(String name, String text, Duration fallback, boolean zeroAllowed) {
        return checks.duration(Key.of("timeouts", name), text, fallback, zeroAllowed);
    }

    private ServerConfig.Log log(RawConfig.Log raw) {
        String level = "info";
        ServerConfig.LogFormat format = ServerConfig.LogFormat.TEXT;
        if (raw != null && raw.level() != null) {
            String l = raw.level().trim().toLowerCase(Locale.ROOT);
            if (LOG_LEVELS.contains(l)) {
                level = l;
            } else {
                checks.error(Key.of("log", "level"), "must be one of trace, debug, info, warn, error, not \"" + raw.level() + "\"");
            }
        }
        if (raw != null && raw.format() != null) {
            switch (raw.format().trim().toLowerCase(Locale.ROOT)) {
                case "text" -> format = ServerConfig.LogFormat.TEXT;
                case "json" -> format = ServerConfig.LogFormat.JSON;
                default -> checks.error(Key.of("log", "format"), "must be text or json, not \"" + raw.format() + "\"");
            }
        }
        return new ServerConfig.Log(level, format);
    }
}
