package dev.pgmux.config;

import dev.pgmux.BackendConfig;
import dev.pgmux.Limits;
import dev.pgmux.SslMode;
import dev.pgmux.tls.ServerTls;
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

/**
 * {@link RawConfig} into {@link ServerConfig}: defaults, ranges, durations, modes, and files that must be
 * readable. It goes on after an error, so that one run of {@code pgmux check} lists every problem.
 */
final class Validator {
    static final List<String> DEFAULT_LISTEN = List.of("127.0.0.1:5434");
    private static final Set<String> LOG_LEVELS = Set.of("trace", "debug", "info", "warn", "error");

    private final Origins origins;
    private final Path baseDir;
    private final List<Located> errors = new ArrayList<>();

    /** An error and the line it sorts by (settings from outside the file go last). */
    private record Located(ConfigError error, int line) {
    }

    private Validator(Origins origins, Path baseDir) {
        this.origins = origins;
        this.baseDir = baseDir;
    }

    /** @param baseDir the config file's directory: relative file names in the file are relative to it */
    static ServerConfig validate(RawConfig raw, Origins origins, Path baseDir) throws ConfigException {
        Validator v = new Validator(origins, baseDir);
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
        Map<String, BackendConfig> routes = new LinkedHashMap<>();
        if (raw.routes() != null) {
            raw.routes().forEach((user, route) -> {
                Key key = Key.of("routes").child(user);
                if (user.isBlank()) {
                    error(key, "a route needs a user name");
                }
                BackendConfig backend = backend(key, route);
                if (backend != null) {
                    routes.put(user, backend);
                }
            });
        }
        BackendConfig defaultRoute = raw.defaultRoute() == null ? null : backend(Key.of("default_route"), raw.defaultRoute());
        if ((raw.routes() == null || raw.routes().isEmpty()) && raw.defaultRoute() == null) {
            error(Key.of("routes"), "no routes: give routes (user: {host: ..., port: ...}) or default_route");
        }
        return new ServerConfig(listen, admin, raw.threads(), tls, limits, log, routes, defaultRoute);
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
        if (text == null) {
            return fallback;
        }
        Key key = Key.of("timeouts", name);
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

    private BackendConfig backend(Key key, RawConfig.Route raw) {
        if (raw == null) {
            error(key, "empty route: give host: and port:, or HOST:PORT");
            return null;
        }
        int errorsBefore = errors.size();
        if (raw.host() == null || raw.host().isBlank()) {
            error(key.child("host"), "missing: every route needs a host");
        }
        int port = raw.port() == null ? 5432 : raw.port();
        if (port < 1 || port > 65535) {
            error(key.child("port"), "must be between 1 and 65535, not " + port);
        }
        SslMode sslMode = raw.sslmode() == null ? SslMode.DISABLE : check(key.child("sslmode"), raw.sslmode(), SslMode::parse);
        Path rootCert = raw.sslrootcert() == null ? null : readableFile(key.child("sslrootcert"), raw.sslrootcert());
        if (raw.user() != null && raw.user().isBlank()) {
            error(key.child("user"), "empty: leave it out to keep the client's user name");
        }
        if (raw.database() != null && raw.database().isBlank()) {
            error(key.child("database"), "empty: leave it out to keep the client's database name");
        }
        if (errors.size() > errorsBefore) {
            return null;
        }
        BackendConfig.Builder b = BackendConfig.builder().host(raw.host().trim()).port(port).user(raw.user())
                .database(raw.database()).sslMode(sslMode).sslRootCert(rootCert);
        if (raw.parameters() != null) {
            raw.parameters().forEach((name, value) -> b.parameter(name, value == null ? "" : value));
        }
        return b.build();
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
