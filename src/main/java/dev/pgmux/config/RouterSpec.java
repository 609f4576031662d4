package dev.pgmux.config;

import dev.pgmux.BackendConfig;
import dev.pgmux.Router;
import dev.pgmux.StaticRouter;
import dev.pgmux.routing.ChainRouter;
import dev.pgmux.routing.HttpRouter;
import dev.pgmux.routing.PatternRouter;
import dev.pgmux.routing.PostgresTableRouter;
import dev.pgmux.routing.RequestField;
import java.net.URI;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;

/**
 * Validated routing settings: the {@code routes:}/{@code default_route:} pair and the {@code router:} section,
 * as values. Two specs are equal when they would route alike, which lets a reload keep the routers whose
 * settings did not change (an HTTP router's cache, a table router's connection). {@link #build()} makes the
 * running router.
 */
public sealed interface RouterSpec {

    /**
     * A new running router. A {@link Postgres} router loads its table here.
     *
     * @throws IllegalStateException if a router cannot start (its first table load failed)
     */
    Router build();

    /** Whether the built router holds resources (connections, threads) and must be closed. */
    default boolean holdsResources() {
        return false;
    }

    /** A short description for logs: {@code chain[static(2 routes), pattern(3 rules), http(http://h/route)]}. */
    String describe();

    /** Exact user names, and a backend for everyone else (or null). */
    record Static(Map<String, BackendConfig> routes, BackendConfig defaultRoute) implements RouterSpec {
        public Static {
            routes = Collections.unmodifiableMap(new LinkedHashMap<>(routes));
        }

        @Override
        public StaticRouter build() {
            return StaticRouter.of(routes).withFallback(defaultRoute);
        }

        @Override
        public String describe() {
            return "static(" + routes.size() + (routes.size() == 1 ? " route" : " routes")
                    + (defaultRoute == null ? "" : ", default route") + ")";
        }
    }

    /** Ordered pattern rules. */
    record Pattern(List<PatternRouter.Rule> rules) implements RouterSpec {
        public Pattern {
            rules = List.copyOf(rules);
        }

        @Override
        public PatternRouter build() {
            return PatternRouter.of(rules);
        }

        @Override
        public String describe() {
            return "pattern(" + rules.size() + (rules.size() == 1 ? " rule" : " rules") + ")";
        }
    }

    /** An HTTP routing service; see {@link HttpRouter}. */
    record Http(URI url, HttpRouter.Method method, Duration timeout, Duration cacheTtl, Duration negativeTtl,
                Duration staleGrace, int maxEntries, String bearerToken, List<RequestField> send) implements RouterSpec {
        public Http {
            send = List.copyOf(send);
        }

        @Override
        public HttpRouter build() {
            return HttpRouter.builder().url(url).method(method).timeout(timeout).cacheTtl(cacheTtl)
                    .negativeTtl(negativeTtl).staleGrace(staleGrace).maxEntries(maxEntries).bearerToken(bearerToken)
                    .send(send).build();
        }

        @Override
        public boolean holdsResources() {
            return true;
        }

        @Override
        public String describe() {
            String u = url.toString();
            return "http(" + (u.indexOf('?') < 0 ? u : u.substring(0, u.indexOf('?'))) + ")";
        }

        /** Without the token. */
        @Override
        public String toString() {
            return "Http[url=" + url + ", method=" + method + ", timeout=" + timeout + ", cacheTtl=" + cacheTtl
                    + ", negativeTtl=" + negativeTtl + ", staleGrace=" + staleGrace + ", maxEntries=" + maxEntries
                    + ", bearerToken=" + (bearerToken == null ? "none" : "(set)") + ", send=" + send + "]";
        }
    }

    /** A routing table in a PostgreSQL database; see {@link PostgresTableRouter}. */
    record Postgres(String dsn, String table) implements RouterSpec {
        @Override
        public PostgresTableRouter build() {
            return PostgresTableRouter.builder().dsn(dsn).table(table).build().start();
        }

        @Override
        public boolean holdsResources() {
            return true;
        }

        @Override
        public String describe() {
            return "postgres(" + table + ")";
        }

        /** Without the DSN, which may hold a password. */
        @Override
        public String toString() {
            return "Postgres[table=" + table + "]";
        }
    }

    /** Routers asked in order; see {@link ChainRouter}. */
    record Chain(List<RouterSpec> routers) implements RouterSpec {
        public Chain {
            routers = List.copyOf(routers);
            if (routers.isEmpty()) {
                throw new IllegalArgumentException("an empty chain");
            }
        }

        /** Builds every router; if one cannot start, those already started are closed. */
        @Override
        public ChainRouter build() {
            List<Router> built = new ArrayList<>();
            try {
                for (RouterSpec r : routers) {
                    built.add(r.build());
                }
            } catch (RuntimeException e) {
                for (Router r : built) {
                    if (r instanceof AutoCloseable c) {
                        try {
                            c.close();
                        } catch (Exception suppressed) {
                            e.addSuppressed(suppressed);
                        }
                    }
                }
                throw e;
            }
            return ChainRouter.of(built);
        }

        @Override
        public boolean holdsResources() {
            return routers.stream().anyMatch(RouterSpec::holdsResources);
        }

        @Override
        public String describe() {
            return "chain[" + routers.stream().map(RouterSpec::describe).collect(Collectors.joining(", ")) + "]";
        }
    }
}
