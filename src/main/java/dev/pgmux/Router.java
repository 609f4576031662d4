package dev.pgmux;

import java.util.function.Function;

/**
 * Chooses the backend for a new client connection. pgmux calls routers on virtual threads, under a
 * timeout, so an implementation may block (an HTTP call, a database lookup).
 *
 * <pre>{@code
 * Router router = request -> BackendConfig.of("10.0.0.5", 5432, request.user());
 * }</pre>
 */
@FunctionalInterface
public interface Router {

    /**
     * @return the backend for this connection; null means no route (FATAL 28000 to the client)
     * @throws RoutingException to refuse the connection with a chosen SQLSTATE and message
     */
    BackendConfig route(RouteRequest request) throws RoutingException;

    /**
     * Whether {@link #route} may block (a network call, a lock held for long). pgmux calls a router that may on a
     * virtual thread, under the router timeout; one that answers from memory at once (static routes, a table
     * followed in memory) is called on the connection's event loop, which saves two thread hand-overs per login.
     * Answer {@code false} only if {@link #route} never blocks and its time does not depend on what a client sends
     * (pattern rules stay off the loop: a regular expression may backtrack on a crafted startup packet).
     */
    default boolean mayBlock() {
        return true;
    }

    /** A router that looks at the user name only; the function returns null for "no route". */
    static Router byUser(Function<String, BackendConfig> byUser) {
        return request -> byUser.apply(request.user());
    }
}
