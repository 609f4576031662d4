package dev.pgmux.routing;

import dev.pgmux.BackendConfig;
import dev.pgmux.RouteRequest;
import dev.pgmux.Router;
import dev.pgmux.RoutingException;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Asks routers in order until one has a route: static overrides first, then pattern rules, then a routing
 * service, for example.
 *
 * <pre>{@code
 * Router router = ChainRouter.of(overrides, patterns, httpRouter);
 * }</pre>
 *
 * A router that has no route (returns null, or throws a {@link RoutingException} with SQLSTATE 28000 as
 * {@link RoutingException#noRoute} does) passes the connection on to the next. Any other error ends the chain
 * and reaches the client: a routing service that is down must not send its tenants to a fallback meant for
 * someone else. To refuse a client outright, throw another SQLSTATE (e.g. 42501). When no router has a route,
 * the client gets the last "no route" error.
 */
public final class ChainRouter implements Router, AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(ChainRouter.class);

    private final List<Router> routers;

    private ChainRouter(List<Router> routers) {
        if (routers.isEmpty()) {
            throw new IllegalArgumentException("a chain needs at least one router");
        }
        this.routers = List.copyOf(routers);
    }

    public static ChainRouter of(Router... routers) {
        return new ChainRouter(List.of(routers));
    }

    public static ChainRouter of(List<? extends Router> routers) {
        return new ChainRouter(List.copyOf(routers));
    }

    public List<Router> routers() {
        return routers;
    }

    @Override
    public boolean mayBlock() {
        for (Router r : routers) {
            if (r.mayBlock()) {
                return true;
            }
        }
        return false;
    }

    @Override
    public BackendConfig route(RouteRequest request) throws RoutingException {
        RoutingException noRoute = null;
        for (Router router : routers) {
            try {
                BackendConfig backend = router.route(request);
                if (backend != null) {
                    return backend;
                }
            } catch (RoutingException e) {
                if (!RoutingException.NO_ROUTE.equals(e.sqlState())) {
                    throw e;
                }
                noRoute = e;
            }
        }
        throw noRoute != null ? noRoute : RoutingException.noRoute(request.user());
    }

    /** Closes every router of the chain that holds resources ({@link AutoCloseable}); goes on after a failure. */
    @Override
    public void close() {
        for (Router router : routers) {
            if (router instanceof AutoCloseable c) {
                try {
                    c.close();
                } catch (Exception e) {
                    log.warn("closing a router failed router={} error={}", router.getClass().getSimpleName(),
                            e.toString());
                }
            }
        }
    }
}
