package dev.pgmux.config;

import dev.pgmux.BackendConfig;
import dev.pgmux.Cluster;
import dev.pgmux.Limits;
import dev.pgmux.LoadBalanceHosts;
import dev.pgmux.RoleCheck;
import dev.pgmux.SslMode;
import dev.pgmux.TargetSessionAttrs;
import dev.pgmux.TcpPort;
import dev.pgmux.routing.BackendTemplate;
import dev.pgmux.routing.HttpRouter;
import dev.pgmux.routing.PatternRouter;
import dev.pgmux.routing.PostgresTableRouter;
import dev.pgmux.routing.RequestField;
import dev.pgmux.tls.ServerTls;
import java.net.URI;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;
import java.util.regex.PatternSyntaxException;

/**
 * {@link RawConfig} into {@link ServerConfig}: defaults, ranges, durations, modes, and files that must be
 * readable. It goes on after an error, so that one run of {@code pgmux check} lists every problem.
 */
final class Validator {
    static final List<String> DEFAULT_LISTEN = List.of("127.0.0.1:5434");
    private static final Set<String> LOG_LEVELS = Set.of("trace", "debug", "info", "warn", "error");
    static final String DEFAULT_ROUTING_TABLE = "pgmux_routes";

    private final Origins origins;
    private final Path baseDir;
    private final Map<String, String> environment;
    private final List<Located> errors = new ArrayList<>();

    /** An error and the line it sorts by (settings from outside the file go last). */
    private record Located(ConfigError error, int line) {
    }

    private Validator(Origins origins, Path baseDir, Map<String, String> environment) {
        this.origins = origins;
        this.baseDir = baseDir;
        this.environment = environment;
    }

    /**
     * @param baseDir     the config file's directory: relative file names in the file are relative to it
     * @param environment the process environment, for settings that name a variable ({@code bearer_token_env})
     */
    static ServerConfig validate(RawConfig raw, Origins origins, Path baseDir, Map<String, String> environment)
            throws ConfigException {
        Validator v = new Validator(origins, baseDir, environment);
        ServerConfig config = v.config(raw);
        if (!v.errors.isEmpty()) {
            // In file order: fields are checked by topic, people read top to bottom.
            v.errors.sort(Comparator.comparingInt(Located::line));
            throw new ConfigException(v.errors.stream().map(Located::error).toList());
        }
        return config;
    }

    private ServerConfig config(RawConfig raw) {
        List<String> listen = listen(raw.listen());
        HostPort admin = null;
        if (raw.adminListen() != null && !raw.adminListen().isBlank()) {
            admin = check(Key.of("admin_listen"), raw.adminListen(), HostPort::parse);
        }
        if (raw.threads() != null && raw.threads() < 1) {
            error(Key.of("threads"), "must be at least 1, not " + raw.threads());
        }
        ServerConfig.Tls tls = tls(raw.tls());
        Limits limits = limits(raw.limits(), raw.timeouts());
        ServerConfig.Log log = log(raw.log());
        Map<String, BackendConfig> routes = routes(Key.of("routes"), raw.routes());
        BackendConfig defaultRoute = raw.defaultRoute() == null ? null : backend(Key.of("default_route"), raw.defaultRoute());
        RouterSpec router = raw.router() == null ? null : router(Key.of("router"), raw.router());
        if ((raw.routes() == null || raw.routes().isEmpty()) && raw.defaultRoute() == null && raw.router() == null) {
            error(Key.of("routes"), "no routes: give routes (user: {host: ..., port: ...}), default_route or router");
        }
        if (raw.defaultRoute() != null && raw.router() != null) {
            error(Key.of("default_route"), "with a default route the router section would never be asked:"
                    + " move the default route into the router (a static router at the end of its chain)");
        }
        RoleCheck roleCheck = raw.roleCheck() == null ? null : roleCheck(Key.of("role_check"), raw.roleCheck());
        Cluster cluster = raw.cluster() == null ? null : cluster(Key.of("cluster"), raw.cluster());
        return new ServerConfig(listen, admin, raw.threads(), tls, limits, log, routes, defaultRoute, router, roleCheck,
                cluster, Boolean.TRUE.equals(raw.hideUnknownUsers()));
    }

    private Cluster cluster(Key key, RawConfig.Cluster raw) {
        int errorsBefore = errors.size();
        if (raw.instanceId() == null) {
            error(key.child("instance_id"), "missing: this instance's id, 1 to " + Cluster.MAX_INSTANCE_ID);
        } else if (raw.instanceId() < 1 || raw.instanceId() > Cluster.MAX_INSTANCE_ID) {
            error(key.child("instance_id"), "must be between 1 and " + Cluster.MAX_INSTANCE_ID + ", not "
                    + raw.instanceId());
        }
        Map<Integer, String> peers = raw.peers() == null ? Map.of() : raw.peers();
        peers.forEach((id, address) -> {
            Key k = key.child("peers").child(String.valueOf(id));
            if (id == null || id < 1 || id > Cluster.MAX_INSTANCE_ID) {
                error(k, "instance ids are 1 to " + Cluster.MAX_INSTANCE_ID);
            } else if (address == null || address.isBlank()) {
                error(k, "empty: give the instance's host:port");
            } else {
                check(k, address, HostPort::parse);
            }
        });
        if (errors.size() > errorsBefore) {
            return null;
        }
        return new Cluster(raw.instanceId(), peers);
    }

    private RoleCheck roleCheck(Key key, RawConfig.RoleCheck raw) {
        if (raw.user() == null || raw.user().isBlank()) {
            error(key.child("user"), "missing: the user pgmux checks backend roles as");
            return null;
        }
        String password = raw.password();
        if (raw.password() != null && raw.passwordEnv() != null) {
            error(key.child("password_env"), "give password or password_env, not both");
            return null;
        } else if (raw.passwordEnv() != null) {
            password = environment.get(raw.passwordEnv().strip());
            if (password == null) {
                error(key.child("password_env"), "the environment variable " + raw.passwordEnv().strip()
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
            error(Key.of("listen"), "no address to listen on");
        }
        List<String> listen = new ArrayList<>();
        for (int i = 0; i < raw.size(); i++) {
            Key key = Key.of("listen").index(i);
            if (raw.get(i) == null) {
                error(key, "empty address");
            } else if (check(key, raw.get(i), HostPort::parse) != null) {
                listen.add(raw.get(i).trim());
            }
        }
        return listen;
    }

    private ServerConfig.Tls tls(RawConfig.Tls raw) {
        Key tls = Key.of("tls");
        if (raw == null || (raw.cert() == null && raw.key() == null)) {
            if (raw != null && Boolean.TRUE.equals(raw.required())) {
                error(tls.child("required"), "needs tls.cert and tls.key");
            }
            return null;
        }
        if (raw.cert() == null || raw.key() == null) {
            error(tls.child(raw.cert() == null ? "key" : "cert"),
                    raw.cert() == null ? "needs tls.cert too" : "needs tls.key too");
            return null;
        }
        Path cert = readableFile(tls.child("cert"), raw.cert());
        Path key = readableFile(tls.child("key"), raw.key());
        String minVersion = raw.minVersion() == null ? "TLSv1.2" : switch (raw.minVersion().trim().toLowerCase(Locale.ROOT)) {
            case "tlsv1.2", "1.2" -> "TLSv1.2";
            case "tlsv1.3", "1.3" -> "TLSv1.3";
            default -> {
                error(tls.child("min_version"), "must be TLSv1.2 or TLSv1.3, not \"" + raw.minVersion() + "\"");
                yield null;
            }
        };
        if (cert == null || key == null || minVersion == null) {
            return null;
        }
        ServerConfig.Tls result = new ServerConfig.Tls(cert, key, Boolean.TRUE.equals(raw.required()), minVersion);
        try {
            // Builds the TLS context once, so that a key that does not match its certificate is a config error.
            new ServerTls(result.toTlsConfig());
        } catch (Exception e) {
            error(tls.child("cert"), "unusable certificate or key: " + e.getMessage());
            return null;
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
            error(key, "must be 0 (unlimited) or more, not " + n);
            return 0;
        }
        return n;
    }

    private Duration duration(String name, String text, Duration fallback, boolean zeroAllowed) {
        return duration(Key.of("timeouts", name), text, fallback, zeroAllowed);
    }

    private Duration duration(Key key, String text, Duration fallback, boolean zeroAllowed) {
        if (text == null) {
            return fallback;
        }
        Duration d = check(key, text, Durations::parse);
        if (d == null) {
            return fallback;
        }
        if (d.isZero() && !zeroAllowed) {
            error(key, "must be longer than 0");
            return fallback;
        }
        return d;
    }

    private ServerConfig.Log log(RawConfig.Log raw) {
        String level = "info";
        ServerConfig.LogFormat format = ServerConfig.LogFormat.TEXT;
        if (raw != null && raw.level() != null) {
            String l = raw.level().trim().toLowerCase(Locale.ROOT);
            if (LOG_LEVELS.contains(l)) {
                level = l;
            } else {
                error(Key.of("log", "level"), "must be one of trace, debug, info, warn, error, not \"" + raw.level() + "\"");
            }
        }
        if (raw != null && raw.format() != null) {
            switch (raw.format().trim().toLowerCase(Locale.ROOT)) {
                case "text" -> format = ServerConfig.LogFormat.TEXT;
                case "json" -> format = ServerConfig.LogFormat.JSON;
                default -> error(Key.of("log", "format"), "must be text or json, not \"" + raw.format() + "\"");
            }
        }
        return new ServerConfig.Log(level, format);
    }

    private Map<String, BackendConfig> routes(Key key, Map<String, RawConfig.Route> raw) {
        Map<String, BackendConfig> routes = new LinkedHashMap<>();
        if (raw != null) {
            raw.forEach((user, route) -> {
                Key k = key.child(user);
                if (user.isBlank()) {
                    error(k, "a route needs a user name");
                }
                BackendConfig backend = backend(k, route);
                if (backend != null) {
                    routes.put(user, backend);
                }
            });
        }
        return routes;
    }

    // ---------------------------------------------------------------- router:

    private static final String ROUTER_KINDS = "chain, static, pattern, http or postgres";

    /** One router (the section, or an item of a chain); null after an error. */
    private RouterSpec router(Key key, RawConfig.RouterSection raw) {
        if (raw == null) {
            error(key, "empty router: give one of " + ROUTER_KINDS);
            return null;
        }
        List<String> kinds = new ArrayList<>();
        if (raw.chain() != null) {
            kinds.add("chain");
        }
        if (raw.staticRoutes() != null) {
            kinds.add("static");
        }
        if (raw.pattern() != null) {
            kinds.add("pattern");
        }
        if (raw.http() != null) {
            kinds.add("http");
        }
        if (raw.postgres() != null) {
            kinds.add("postgres");
        }
        if (kinds.size() != 1) {
            error(key, kinds.isEmpty() ? "empty router: give one of " + ROUTER_KINDS
                    : "one router per entry, not " + String.join(" and ", kinds) + " (list several under chain:)");
            return null;
        }
        return switch (kinds.get(0)) {
            case "chain" -> chain(key.child("chain"), raw.chain());
            case "static" -> staticRouter(key.child("static"), raw.staticRoutes());
            case "pattern" -> pattern(key.child("pattern"), raw.pattern());
            case "http" -> http(key.child("http"), raw.http());
            default -> postgres(key.child("postgres"), raw.postgres());
        };
    }

    private RouterSpec chain(Key key, List<RawConfig.RouterSection> raw) {
        if (raw.isEmpty()) {
            error(key, "an empty chain: list routers, e.g. - static: {...}");
            return null;
        }
        List<RouterSpec> routers = new ArrayList<>();
        for (int i = 0; i < raw.size(); i++) {
            RouterSpec r = router(key.index(i), raw.get(i));
            if (r instanceof RouterSpec.Static s && s.defaultRoute() != null && i < raw.size() - 1) {
                error(key.index(i).child("static").child("default_route"),
                        "the routers after this one would never be asked: a default route belongs to the last router");
            }
            routers.add(r);
        }
        return routers.contains(null) ? null : new RouterSpec.Chain(routers);
    }

    private RouterSpec staticRouter(Key key, RawConfig.StaticSection raw) {
        int errorsBefore = errors.size();
        Map<String, BackendConfig> routes = routes(key.child("routes"), raw.routes());
        BackendConfig fallback = raw.defaultRoute() == null ? null : backend(key.child("default_route"), raw.defaultRoute());
        if ((raw.routes() == null || raw.routes().isEmpty()) && raw.defaultRoute() == null) {
            error(key, "no routes: give routes or default_route");
        }
        return errors.size() > errorsBefore ? null : new RouterSpec.Static(routes, fallback);
    }

    private RouterSpec pattern(Key key, RawConfig.PatternSection raw) {
        if (raw.rules() == null || raw.rules().isEmpty()) {
            error(key.child("rules"), "no rules: give a list of {name, match, backend}");
            return null;
        }
        int errorsBefore = errors.size();
        List<PatternRouter.Rule> rules = new ArrayList<>();
        for (int i = 0; i < raw.rules().size(); i++) {
            PatternRouter.Rule rule = rule(key.child("rules").index(i), raw.rules().get(i), i);
            if (rule != null) {
                rules.add(rule);
            }
        }
        return errors.size() > errorsBefore ? null : new RouterSpec.Pattern(rules);
    }

    private PatternRouter.Rule rule(Key key, RawConfig.PatternRule raw, int index) {
        if (raw == null) {
            error(key, "empty rule: give match: and backend:");
            return null;
        }
        String name = raw.name() == null || raw.name().isBlank() ? "rules[" + index + "]" : raw.name().strip();
        int errorsBefore = errors.size();
        List<PatternRouter.Condition> conditions = new ArrayList<>();
        RawConfig.RuleMatch m = raw.match();
        if (m != null) {
            Key match = key.child("match");
            condition(conditions, match.child("user"), name, m.user(), RequestField.USER, null);
            condition(conditions, match.child("database"), name, m.database(), RequestField.DATABASE, null);
            condition(conditions, match.child("application_name"), name, m.applicationName(),
                    RequestField.APPLICATION_NAME, null);
            condition(conditions, match.child("sni"), name, m.sni(), RequestField.SNI, null);
            condition(conditions, match.child("client_addr"), name, m.clientAddr(), RequestField.CLIENT_ADDR, null);
            if (m.parameters() != null) {
                m.parameters().forEach((parameter, regex) -> condition(conditions,
                        match.child("parameters").child(parameter), name, regex, null, parameter));
            }
        }
        BackendTemplate backend = template(key.child("backend"), name, raw.backend(),
                errors.size() > errorsBefore ? null : PatternRouter.Rule.placeholderNames(conditions));
        if (errors.size() > errorsBefore || backend == null) {
            return null;
        }
        return new PatternRouter.Rule(name, conditions, backend); // its own checks were all made above
    }

    private void condition(List<PatternRouter.Condition> conditions, Key key, String rule, String regex,
                           RequestField field, String parameter) {
        if (regex == null) {
            return;
        }
        try {
            conditions.add(new PatternRouter.Condition(field, parameter, java.util.regex.Pattern.compile(regex)));
        } catch (PatternSyntaxException e) {
            error(key, "rule \"" + rule + "\": bad regular expression: " + e.getDescription()
                    + (e.getIndex() >= 0 ? " near index " + e.getIndex() : ""));
        }
    }

    /** @param known the placeholders the rule defines, or null when its patterns had errors (nothing to check) */
    private BackendTemplate template(Key key, String rule, RawConfig.RuleBackend raw, Set<String> known) {
        if (raw == null) {
            error(key, "rule \"" + rule + "\" needs a backend: {host: ..., port: ...}");
            return null;
        }
        int errorsBefore = errors.size();
        if (raw.host() == null || raw.host().isBlank()) {
            error(key.child("host"), "missing: every backend needs a host");
        }
        if (raw.user() != null && raw.user().isBlank()) {
            error(key.child("user"), "empty: leave it out to keep the client's user name");
        }
        if (raw.database() != null && raw.database().isBlank()) {
            error(key.child("database"), "empty: leave it out to keep the client's database name");
        }
        if (raw.port() != null && BackendTemplate.placeholders(raw.port()).isEmpty()) {
            try {
                TcpPort.check(Integer.parseInt(raw.port().strip()));
            } catch (NumberFormatException e) {
                error(key.child("port"), "must be a number or {placeholders}, not \"" + raw.port() + "\"");
            } catch (IllegalArgumentException e) {
                error(key.child("port"), e.getMessage());
            }
        }
        if (known != null) {
            placeholders(key.child("host"), rule, raw.host(), known);
            placeholders(key.child("port"), rule, raw.port(), known);
            placeholders(key.child("user"), rule, raw.user(), known);
            placeholders(key.child("database"), rule, raw.database(), known);
            if (raw.parameters() != null) {
                raw.parameters().forEach((name, value) -> placeholders(key.child("parameters").child(name), rule, value, known));
            }
        }
        SslMode sslMode = raw.sslmode() == null ? SslMode.DISABLE : check(key.child("sslmode"), raw.sslmode(), SslMode::parse);
        Path rootCert = raw.sslrootcert() == null ? null : readableFile(key.child("sslrootcert"), raw.sslrootcert());
        TargetSessionAttrs attrs = raw.targetSessionAttrs() == null ? null
                : check(key.child("target_session_attrs"), raw.targetSessionAttrs(), TargetSessionAttrs::parse);
        LoadBalanceHosts balance = raw.loadBalanceHosts() == null ? null
                : check(key.child("load_balance_hosts"), raw.loadBalanceHosts(), LoadBalanceHosts::parse);
        if (errors.size() > errorsBefore) {
            return null;
        }
        BackendTemplate.Builder b = BackendTemplate.builder().host(raw.host().strip()).port(raw.port())
                .user(raw.user()).database(raw.database()).sslMode(sslMode).sslRootCert(rootCert)
                .targetSessionAttrs(attrs).loadBalanceHosts(balance);
        if (raw.parameters() != null) {
            raw.parameters().forEach((name, value) -> b.parameter(name, value == null ? "" : value));
        }
        return b.build();
    }

    private void placeholders(Key key, String rule, String text, Set<String> known) {
        for (String p : BackendTemplate.placeholders(text)) {
            if (!known.contains(p)) {
                error(key, "rule \"" + rule + "\": {" + p + "} is not a named group of the rule's patterns"
                        + " (groups and built-ins: " + String.join(", ", known) + ")");
            }
        }
    }

    private RouterSpec http(Key key, RawConfig.HttpSection raw) {
        int errorsBefore = errors.size();
        URI url = null;
        if (raw.url() == null || raw.url().isBlank()) {
            error(key.child("url"), "missing: the routing service's URL, e.g. http://127.0.0.1:8080/route");
        } else {
            try {
                url = new URI(raw.url().strip());
                if (url.getScheme() == null || !url.getScheme().matches("(?i)https?") || url.getHost() == null) {
                    error(key.child("url"), "must be http://HOST[:PORT]/PATH or https://..., not \"" + raw.url() + "\"");
                }
            } catch (URISyntaxException e) {
                error(key.child("url"), "bad URL: " + e.getReason() + " near index " + e.getIndex());
            }
        }
        HttpRouter.Method method = HttpRouter.Method.GET;
        if (raw.method() != null) {
            switch (raw.method().strip().toUpperCase(Locale.ROOT)) {
                case "GET" -> method = HttpRouter.Method.GET;
                case "POST" -> method = HttpRouter.Method.POST;
                default -> error(key.child("method"), "must be get or post, not \"" + raw.method() + "\"");
            }
        }
        Duration timeout = duration(key.child("timeout"), raw.timeout(), HttpRouter.DEFAULT_TIMEOUT, false);
        Duration cacheTtl = duration(key.child("cache_ttl"), raw.cacheTtl(), HttpRouter.DEFAULT_CACHE_TTL, true);
        Duration negativeTtl = duration(key.child("negative_ttl"), raw.negativeTtl(), HttpRouter.DEFAULT_NEGATIVE_TTL, true);
        Duration staleGrace = duration(key.child("stale_grace"), raw.staleGrace(), HttpRouter.DEFAULT_STALE_GRACE, true);
        int maxEntries = HttpRouter.DEFAULT_MAX_ENTRIES;
        if (raw.maxEntries() != null) {
            if (raw.maxEntries() < 1) {
                error(key.child("max_entries"), "must be at least 1, not " + raw.maxEntries());
            } else {
                maxEntries = raw.maxEntries();
            }
        }
        String token = null;
        if (raw.bearerToken() != null && raw.bearerTokenEnv() != null) {
            error(key.child("bearer_token_env"), "give bearer_token or bearer_token_env, not both");
        } else if (raw.bearerToken() != null) {
            if (raw.bearerToken().isBlank()) {
                error(key.child("bearer_token"), "empty: leave it out for no token");
            }
            token = raw.bearerToken().strip();
        } else if (raw.bearerTokenEnv() != null) {
            String value = environment.get(raw.bearerTokenEnv().strip());
            if (value == null || value.isBlank()) {
                error(key.child("bearer_token_env"), "the environment variable " + raw.bearerTokenEnv().strip()
                        + " is not set");
            } else {
                token = value.strip();
            }
        }
        List<RequestField> send = List.of(RequestField.values());
        if (raw.send() != null) {
            if (raw.send().isEmpty()) {
                error(key.child("send"), "send at least one of user, database, application_name, sni, client_addr");
            }
            List<RequestField> fields = new ArrayList<>();
            for (int i = 0; i < raw.send().size(); i++) {
                RequestField f = raw.send().get(i) == null ? null
                        : check(key.child("send").index(i), raw.send().get(i).strip(), RequestField::ofKey);
                if (f != null && !fields.contains(f)) {
                    fields.add(f);
                }
            }
            send = fields;
        }
        if (errors.size() > errorsBefore) {
            return null;
        }
        return new RouterSpec.Http(url, method, timeout, cacheTtl, negativeTtl, staleGrace, maxEntries, token, send);
    }

    private RouterSpec postgres(Key key, RawConfig.PostgresSection raw) {
        String dsn = raw.dsn() == null ? "" : raw.dsn().strip();
        String table = raw.table() == null ? DEFAULT_ROUTING_TABLE : raw.table().strip();
        // The router's own parsing, which never quotes a DSN back (it may hold a password); nothing connects yet.
        PostgresTableRouter.Builder b = PostgresTableRouter.builder();
        boolean dsnOk = false;
        if (dsn.isEmpty()) {
            error(key.child("dsn"), "missing: the control-plane database, e.g. postgresql://pgmux@control:5432/control");
        } else {
            dsnOk = check(key.child("dsn"), dsn, b::dsn) != null;
        }
        boolean tableOk = check(key.child("table"), table, b::table) != null;
        return dsnOk && tableOk ? new RouterSpec.Postgres(dsn, table) : null;
    }

    private BackendConfig backend(Key key, RawConfig.Route raw) {
        if (raw == null) {
            error(key, "empty route: give host: and port:, or HOST:PORT");
            return null;
        }
        int errorsBefore = errors.size();
        boolean hasHost = raw.host() != null && !raw.host().isBlank();
        if (raw.hosts() != null && hasHost) {
            error(key.child("hosts"), "give host: or hosts:, not both");
        } else if (raw.hosts() != null && raw.hosts().isEmpty()) {
            error(key.child("hosts"), "empty: give at least one HOST[:PORT]");
        } else if (raw.hosts() == null && !hasHost) {
            error(key.child("host"), "missing: every route needs a host (or hosts:)");
        }
        int port = raw.port() == null ? 5432 : raw.port();
        check(key.child("port"), Integer.toString(port), TcpPort::parse);
        List<BackendConfig.Endpoint> hosts = new ArrayList<>();
        if (raw.hosts() != null) {
            for (int i = 0; i < raw.hosts().size(); i++) {
                String h = raw.hosts().get(i);
                BackendConfig.Endpoint e = h == null ? null : check(key.child("hosts").index(i), h,
                        text -> BackendConfig.Endpoint.parse(text, TcpPort.isValid(port) ? port : 5432));
                if (h == null) {
                    error(key.child("hosts").index(i), "empty host");
                } else if (e != null) {
                    hosts.add(e);
                }
            }
        }
        SslMode sslMode = raw.sslmode() == null ? SslMode.DISABLE : check(key.child("sslmode"), raw.sslmode(), SslMode::parse);
        Path rootCert = raw.sslrootcert() == null ? null : readableFile(key.child("sslrootcert"), raw.sslrootcert());
        TargetSessionAttrs attrs = raw.targetSessionAttrs() == null ? TargetSessionAttrs.ANY
                : check(key.child("target_session_attrs"), raw.targetSessionAttrs(), TargetSessionAttrs::parse);
        LoadBalanceHosts balance = raw.loadBalanceHosts() == null ? LoadBalanceHosts.DISABLE
                : check(key.child("load_balance_hosts"), raw.loadBalanceHosts(), LoadBalanceHosts::parse);
        if (raw.user() != null && raw.user().isBlank()) {
            error(key.child("user"), "empty: leave it out to keep the client's user name");
        }
        if (raw.database() != null && raw.database().isBlank()) {
            error(key.child("database"), "empty: leave it out to keep the client's database name");
        }
        if (errors.size() > errorsBefore) {
            return null;
        }
        BackendConfig.Builder b = BackendConfig.builder().user(raw.user()).database(raw.database()).sslMode(sslMode)
                .sslRootCert(rootCert).targetSessionAttrs(attrs).loadBalanceHosts(balance);
        if (raw.hosts() != null) {
            b.hosts(hosts);
        } else {
            b.host(raw.host().trim()).port(port);
        }
        if (raw.parameters() != null) {
            raw.parameters().forEach((name, value) -> b.parameter(name, value == null ? "" : value));
        }
        try {
            return b.build();
        } catch (IllegalArgumentException e) {
            error(key.child("host"), e.getMessage());
            return null;
        }
    }

    /** A file name from the config file is relative to the file's directory; from a flag, to the working directory. */
    private Path readableFile(Key key, String name) {
        Path p;
        try {
            p = Path.of(name.trim());
        } catch (InvalidPathException e) {
            error(key, "bad file name \"" + name + "\"");
            return null;
        }
        if (!p.isAbsolute() && baseDir != null && origins.of(key.pointer()).isFile()) {
            p = baseDir.resolve(p);
        }
        p = p.normalize();
        if (!Files.isRegularFile(p) || !Files.isReadable(p)) {
            error(key, "file not found or not readable: " + p);
            return null;
        }
        return p;
    }

    private <T> T check(Key key, String text, Function<String, T> parse) {
        try {
            return parse.apply(text);
        } catch (IllegalArgumentException e) {
            error(key, e.getMessage());
            return null;
        }
    }

    private void error(Key key, String message) {
        Origins.Origin origin = origins.of(key.pointer());
        errors.add(new Located(new ConfigError(origin.toString(), key.dotted(), message),
                origin.isFile() ? origin.line() : Integer.MAX_VALUE));
    }
}
