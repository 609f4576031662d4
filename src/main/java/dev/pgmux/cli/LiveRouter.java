package dev.pgmux.cli;

import dev.pgmux.Router;
import dev.pgmux.config.RouterSpec;
import dev.pgmux.routing.ChainRouter;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The running routers of one config. Routers that hold resources (an HTTP router's client and cache, a table
 * router's connection and its routes in memory) carry over to the next config when their settings are equal;
 * the others are rebuilt on every reload, which costs nothing worth keeping.
 */
final class LiveRouter implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(LiveRouter.class);

    private final Router router;
    /** The resource-holding routers, by the spec they were built from. */
    private final Map<RouterSpec, Router> resources;

    private LiveRouter(Router router, Map<RouterSpec, Router> resources) {
        this.router = router;
        this.resources = resources;
    }

    /**
     * Builds every router of {@code spec}.
     *
     * @throws IllegalStateException if a router cannot start; those already started are closed again
     */
    static LiveRouter start(RouterSpec spec) {
        return build(spec, Map.of());
    }

    /** The routers of {@code spec}, reusing this one's resource-holding routers whose spec is unchanged. */
    LiveRouter next(RouterSpec spec) {
        return build(spec, resources);
    }

    Router router() {
        return router;
    }

    /** The running router built from {@code spec}, if it holds resources (for tests). */
    Router resource(RouterSpec spec) {
        return resources.get(spec);
    }

    /** Closes the routers of this config that {@code successor} does not use. */
    void retire(LiveRouter successor) {
        resources.forEach((spec, r) -> {
            if (successor.resources.get(spec) != r) {
                close(r);
            }
        });
    }

    @Override
    public void close() {
        resources.values().forEach(LiveRouter::close);
    }

    private static LiveRouter build(RouterSpec spec, Map<RouterSpec, Router> previous) {
        Map<RouterSpec, Router> resources = new LinkedHashMap<>();
        try {
            return new LiveRouter(build(spec, previous, resources), resources);
        } catch (RuntimeException e) {
            resources.forEach((s, r) -> {
                if (previous.get(s) != r) {
                    close(r);
                }
            });
            throw e;
        }
    }

    private static Router build(RouterSpec spec, Map<RouterSpec, Router> previous, Map<RouterSpec, Router> resources) {
        if (spec instanceof RouterSpec.Chain chain) {
            List<Router> routers = new ArrayList<>();
            for (RouterSpec r : chain.routers()) {
                routers.add(build(r, previous, resources));
            }
            // Not closed through the chain: this class closes the members it owns.
            return ChainRouter.of(routers);
        }
        if (!spec.holdsResources()) {
            return spec.build();
        }
        Router r = resources.get(spec);
        if (r == null) {
            r = previous.get(spec);
            if (r == null) {
                r = spec.build();
            }
            resources.put(spec, r);
        }
        return r;
    }

    private static void close(Router router) {
        if (router instanceof AutoCloseable c) {
            try {
                c.close();
            } catch (Exception e) {
                log.warn("closing a router failed router={} error={}", router.getClass().getSimpleName(), e.toString());
            }
        }
    }
}
