package dev.pgmux.session;

import dev.pgmux.BackendConfig;
import dev.pgmux.RouteRequest;
import dev.pgmux.Router;
import dev.pgmux.RoutingException;
import dev.pgmux.protocol.ErrorResponse;
import dev.pgmux.protocol.SqlState;
import dev.pgmux.server.ServerConnection.Host;
import io.netty.channel.EventLoop;
import io.netty.util.concurrent.ScheduledFuture;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.BiConsumer;

/**
 * Asks the router where a connection belongs, then orders and resolves the backend's hosts, all off the event loop
 * (a router may block, so may DNS), and hands the answer back on the event loop.
 */
final class RouteLookup {

    /** The router's answer with the backend's hosts in the order to try them. */
    record Routed(BackendConfig backend, List<Host> hosts) {
    }

    private RouteLookup() {
    }

    /**
     * Starts the lookup; {@code then} runs on {@code loop} with the answer or the failure: a
     * {@link RoutingException}, a {@link TimeoutException} (router too slow), an {@link UnknownHostException} (no
     * host resolved), a {@link java.util.concurrent.RejectedExecutionException} (shutting down) or anything the
     * router threw.
     *
     * @throws java.util.concurrent.RejectedExecutionException when the router's executor takes no more work
     */
    static void route(ProxyContext proxy, RouteRequest request, EventLoop loop, BiConsumer<Routed, Throwable> then) {
        Router router = proxy.router();
        if (!router.mayBlock()) {
            routeHere(proxy, router, request, loop, then);
            return;
        }
        CompletableFuture<BackendConfig> answer = new CompletableFuture<>();
        Future<?> task = proxy.routerExecutor().submit(() -> {
            try {
                answer.complete(callRouter(proxy, router, request));
            } catch (Throwable t) {
                answer.completeExceptionally(t);
            }
        });
        // On timeout the router's thread is interrupted, so that a router stuck in I/O does not keep a thread per
        // login that gave up on it.
        ScheduledFuture<?> timeout = loop.schedule(() -> {
            if (answer.completeExceptionally(new TimeoutException())) {
                task.cancel(true);
            }
        }, proxy.limits().routerTimeout().toMillis(), TimeUnit.MILLISECONDS);
        answer.whenComplete((backend, error) -> timeout.cancel(false));
        // Then, outside the router's time: the hosts' order (role checks have their own deadline) and DNS.
        answer.thenApplyAsync(backend -> resolve(backend, proxy), proxy.routerExecutor())
                .whenComplete((routed, error) -> loop.execute(() -> then.accept(routed, unwrap(error))));
    }

    /**
     * A router that answers from memory, called here on the event loop; the hosts are ordered and resolved here too
     * when that cannot block (one host, an IP address, no role to check), else off the event loop as usual.
     */
    private static void routeHere(ProxyContext proxy, Router router, RouteRequest request, EventLoop loop,
                                  BiConsumer<Routed, Throwable> then) {
        BackendConfig backend;
        try {
            backend = callRouter(proxy, router, request);
        } catch (Throwable t) {
            then.accept(null, unwrap(t));
            return;
        }
        BackendConfig.Endpoint only = backend.hosts().size() == 1 ? backend.hosts().getFirst() : null;
        if (only != null && only.host().indexOf('%') < 0 // an IPv6 zone is kept only by a lookup
                && io.netty.util.NetUtil.createByteArrayFromIpAddressString(only.host()) != null) {
            InetSocketAddress address;
            try {
                address = new InetSocketAddress(InetAddress.getByAddress(
                        io.netty.util.NetUtil.createByteArrayFromIpAddressString(only.host())), only.port());
            } catch (UnknownHostException e) {
                then.accept(null, e);
                return;
            }
            then.accept(new Routed(backend, List.of(new Host(0, only, address))), null);
            return;
        }
        proxy.routerExecutor().execute(() -> {
            Routed routed = null;
            Throwable error = null;
            try {
                routed = resolve(backend, proxy);
            } catch (Throwable t) {
                error = unwrap(t);
            }
            Routed r = routed;
            Throwable e = error;
            loop.execute(() -> then.accept(r, e));
        });
    }

    /** The error a client gets when routing failed, logged as it deserves. */
    static ErrorResponse failure(Throwable error, ProxyContext proxy, InetSocketAddress client, Login login,
                                 java.util.function.Consumer<String> logLoginFailure) {
        return switch (error) {
            case RoutingException e -> {
                logLoginFailure.accept("router refused sqlstate=" + e.sqlState());
                yield ErrorResponse.fatal(e.sqlState(), e.getMessage());
            }
            case TimeoutException e -> {
                ClientSession.log.warn("router timed out client={} user={} timeout_ms={}", client, login.logUser(),
                        proxy.limits().routerTimeout().toMillis());
                yield ErrorResponse.fatal(SqlState.CONNECTION_FAILURE, "could not route the connection: timed out");
            }
            case UnknownHostException e -> {
                ClientSession.log.warn("backend host unknown user={} error={}", login.logUser(), e.getMessage());
                yield ErrorResponse.fatal(SqlState.CONNECTION_FAILURE, "could not connect to the backend server");
            }
            case java.util.concurrent.RejectedExecutionException e ->
                    ErrorResponse.fatal(SqlState.CANNOT_CONNECT_NOW, "the proxy is shutting down");
            default -> {
                ClientSession.log.error("router failed user={}", login.logUser(), error);
                yield ErrorResponse.fatal(SqlState.CONNECTION_FAILURE, "could not route the connection");
            }
        };
    }

    private static Throwable unwrap(Throwable error) {
        return error instanceof CompletionException && error.getCause() != null ? error.getCause() : error;
    }

    /** The router's answer; its time, failures included, goes into the router latency histogram. */
    private static BackendConfig callRouter(ProxyContext proxy, Router router, RouteRequest request) {
        long start = System.nanoTime();
        try {
            BackendConfig backend = router.route(request);
            if (backend == null) {
                throw new CompletionException(RoutingException.noRoute(request.user()));
            }
            return backend;
        } catch (RoutingException e) {
            throw new CompletionException(e);
        } finally {
            proxy.metrics().router(System.nanoTime() - start);
        }
    }

    /** A host that does not resolve is kept, with no address, and passed over when its turn comes. */
    private static Routed resolve(BackendConfig backend, ProxyContext proxy) {
        List<BackendConfig.Endpoint> order = proxy.hostSelector().order(backend, proxy.roleCheck(),
                proxy.limits().backendConnectTimeout());
        List<Host> hosts = new ArrayList<>(order.size());
        boolean any = false;
        for (BackendConfig.Endpoint h : order) {
            InetSocketAddress address = null;
            try {
                address = new InetSocketAddress(InetAddress.getByName(h.host()), h.port());
                any = true;
            } catch (UnknownHostException e) {
                // passed over
            }
            hosts.add(new Host(hosts.size(), h, address));
        }
        if (!any) {
            throw new CompletionException(new UnknownHostException("unknown backend host " + backend.address()));
        }
        return new Routed(backend, hosts);
    }
}
