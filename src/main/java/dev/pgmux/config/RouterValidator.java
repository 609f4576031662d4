package dev.pgmux.config;

import dev.pgmux.BackendConfig;
import dev.pgmux.routing.HttpRouter;
import dev.pgmux.routing.PostgresTableRouter;
import dev.pgmux.routing.RequestField;
import java.net.URI;
import java.net.URISyntaxException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The {@code router:} section into a {@link RouterSpec}: one router or a chain of them, each of the five kinds
 * with its settings ({@link PatternValidator} checks pattern rules). Nothing connects or asks a service here.
 */
final class RouterValidator {
    static final String DEFAULT_ROUTING_TABLE = "pgmux_routes";
    private static final String ROUTER_KINDS = "chain, static, pattern, http or postgres";

    private final Checks checks;
    private final BackendValidator backends;
    private final PatternValidator patterns;

    RouterValidator(Checks checks, BackendValidator backends) {
        this.checks = checks;
        this.backends = backends;
        this.patterns = new PatternValidator(checks, backends);
    }

    /** One router (the section, or an item of a chain); null after an error. */
    RouterSpec router(Key key, RawConfig.RouterSection raw) {
        if (raw == null) {
            checks.error(key, "empty router: give one of " + ROUTER_KINDS);
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
            checks.error(key, kinds.isEmpty() ? "empty router: give one of " + ROUTER_KINDS
                    : "one router per entry, not " + String.join(" and ", kinds) + " (list several under chain:)");
            return null;
        }
        return switch (kinds.get(0)) {
            case "chain" -> chain(key.child("chain"), raw.chain());
            case "static" -> staticRouter(key.child("static"), raw.staticRoutes());
            case "pattern" -> patterns.pattern(key.child("pattern"), raw.pattern());
            case "http" -> http(key.child("http"), raw.http());
            default -> postgres(key.child("postgres"), raw.postgres());
        };
    }

    private RouterSpec chain(Key key, List<RawConfig.RouterSection> raw) {
        if (raw.isEmpty()) {
            checks.error(key, "an empty chain: list routers, e.g. - static: {...}");
            return null;
        }
        List<RouterSpec> routers = new ArrayList<>();
        for (int i = 0; i < raw.size(); i++) {
            RouterSpec r = router(key.index(i), raw.get(i));
            if (r instanceof RouterSpec.Static s && s.defaultRoute() != null && i < raw.size() - 1) {
                checks.error(key.index(i).child("static").child("default_route"),
                        "the routers after this one would never be asked: a default route belongs to the last router");
            }
            routers.add(r);
        }
        return routers.contains(null) ? null : new RouterSpec.Chain(routers);
    }

    private RouterSpec staticRouter(Key key, RawConfig.StaticSection raw) {
        int errorsBefore = checks.count();
        Map<String, BackendConfig> routes = backends.routes(key.child("routes"), raw.routes());
        BackendConfig fallback = raw.defaultRoute() == null ? null : backends.backend(key.child("default_route"), raw.defaultRoute());
        if ((raw.routes() == null || raw.routes().isEmpty()) && raw.defaultRoute() == null) {
            checks.error(key, "no routes: give routes or default_route");
        }
        return checks.count() > errorsBefore ? null : new RouterSpec.Static(routes, fallback);
    }

    private RouterSpec http(Key key, RawConfig.HttpSection raw) {
        int errorsBefore = checks.count();
        URI url = null;
        if (raw.url() == null || raw.url().isBlank()) {
            checks.error(key.child("url"), "missing: the routing service's URL, e.g. http://127.0.0.1:8080/route");
        } else {
            try {
                url = new URI(raw.url().strip());
                if (url.getScheme() == null || !url.getScheme().matches("(?i)https?") || url.getHost() == null) {
                    checks.error(key.child("url"), "must be http://HOST[:PORT]/PATH or https://..., not \"" + raw.url() + "\"");
                }
            } catch (URISyntaxException e) {
                checks.error(key.child("url"), "bad URL: " + e.getReason() + " near index " + e.getIndex());
            }
        }
        HttpRouter.Method method = HttpRouter.Method.GET;
        if (raw.method() != null) {
            switch (raw.method().strip().toUpperCase(Locale.ROOT)) {
                case "GET" -> method = HttpRouter.Method.GET;
                case "POST" -> method = HttpRouter.Method.POST;
                default -> checks.error(key.child("method"), "must be get or post, not \"" + raw.method() + "\"");
            }
        }
        Duration timeout = checks.duration(key.child("timeout"), raw.timeout(), HttpRouter.DEFAULT_TIMEOUT, false);
        Duration cacheTtl = checks.duration(key.child("cache_ttl"), raw.cacheTtl(), HttpRouter.DEFAULT_CACHE_TTL, true);
        Duration negativeTtl = checks.duration(key.child("negative_ttl"), raw.negativeTtl(), HttpRouter.DEFAULT_NEGATIVE_TTL, true);
        Duration staleGrace = checks.duration(key.child("stale_grace"), raw.staleGrace(), HttpRouter.DEFAULT_STALE_GRACE, true);
        int maxEntries = HttpRouter.DEFAULT_MAX_ENTRIES;
        if (raw.maxEntries() != null) {
            if (raw.maxEntries() < 1) {
                checks.error(key.child("max_entries"), "must be at least 1, not " + raw.maxEntries());
            } else {
                maxEntries = raw.maxEntries();
            }
        }
        String token = null;
        if (raw.bearerToken() != null && raw.bearerTokenEnv() != null) {
            checks.error(key.child("bearer_token_env"), "give bearer_token or bearer_token_env, not both");
        } else if (raw.bearerToken() != null) {
            if (raw.bearerToken().isBlank()) {
                checks.error(key.child("bearer_token"), "empty: leave it out for no token");
            }
            token = raw.bearerToken().strip();
        } else if (raw.bearerTokenEnv() != null) {
            String value = checks.environment(raw.bearerTokenEnv().strip());
            if (value == null || value.isBlank()) {
                checks.error(key.child("bearer_token_env"), "the environment variable " + raw.bearerTokenEnv().strip()
                        + " is not set");
            } else {
                token = value.strip();
            }
        }
        List<RequestField> send = List.of(RequestField.values());
        if (raw.send() != null) {
            if (raw.send().isEmpty()) {
                checks.error(key.child("send"), "send at least one of user, database, application_name, sni, client_addr");
            }
            List<RequestField> fields = new ArrayList<>();
            for (int i = 0; i < raw.send().size(); i++) {
                RequestField f = raw.send().get(i) == null ? null
                        : checks.check(key.child("send").index(i), raw.send().get(i).strip(), RequestField::ofKey);
                if (f != null && !fields.contains(f)) {
                    fields.add(f);
                }
            }
            send = fields;
        }
        if (checks.count() > errorsBefore) {
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
            checks.error(key.child("dsn"), "missing: the control-plane database, e.g. postgresql://pgmux@control:5432/control");
        } else {
            dsnOk = checks.check(key.child("dsn"), dsn, b::dsn) != null;
        }
        boolean tableOk = checks.check(key.child("table"), table, b::table) != null;
        return dsnOk && tableOk ? new RouterSpec.Postgres(dsn, table) : null;
    }
}
