package dev.pgmux;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Routes by exact user name, with an optional fallback. Routes can be added and removed while the proxy runs;
 * new connections see the change, existing sessions are untouched.
 */
public final class StaticRouter implements Router {
    private final Map<String, BackendConfig> routes = new ConcurrentHashMap<>();
    private volatile BackendConfig fallback;

    private StaticRouter(Map<String, BackendConfig> routes, BackendConfig fallback) {
        this.routes.putAll(routes);
        this.fallback = fallback;
    }

    public static StaticRouter of(Map<String, BackendConfig> routes) {
        return new StaticRouter(routes, null);
    }

    public static StaticRouter empty() {
        return new StaticRouter(Map.of(), null);
    }

    /** Sets the backend for users without a route of their own (null: none). Returns this router. */
    public StaticRouter withFallback(BackendConfig fallback) {
        this.fallback = fallback;
        return this;
    }

    public StaticRouter put(String user, BackendConfig backend) {
        routes.put(user, backend);
        return this;
    }

    public BackendConfig remove(String user) {
        return routes.remove(user);
    }

    /** A snapshot of the routes. */
    public Map<String, BackendConfig> routes() {
        return Map.copyOf(routes);
    }

    public BackendConfig fallback() {
        return fallback;
    }

    @Override
    public boolean mayBlock() {
        return false;
    }

    @Override
    public BackendConfig route(RouteRequest request) throws RoutingException {
        BackendConfig backend = routes.get(request.user());
        if (backend == null) {
            backend = fallback;
        }
        if (backend == null) {
            throw RoutingException.noRoute(request.user());
        }
        return backend;
    }
}
