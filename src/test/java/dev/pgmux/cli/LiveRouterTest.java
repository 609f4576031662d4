package dev.pgmux.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import dev.pgmux.BackendConfig;
import dev.pgmux.RouteRequest;
import dev.pgmux.RoutingException;
import dev.pgmux.config.RouterSpec;
import dev.pgmux.routing.ChainRouter;
import dev.pgmux.routing.HttpRouter;
import dev.pgmux.routing.RequestField;
import java.net.InetSocketAddress;
import java.net.URI;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Reloads keep the routers that hold resources when their settings are unchanged, and close the others. */
class LiveRouterTest {
    static final RouterSpec.Static STATIC = new RouterSpec.Static(Map.of("admin", BackendConfig.of("h", 5432, null)), null);

    static RouterSpec.Http http(String url) {
        return new RouterSpec.Http(URI.create(url), HttpRouter.Method.GET, Duration.ofSeconds(2), Duration.ofSeconds(30),
                Duration.ofSeconds(5), Duration.ofMinutes(5), 100, null, List.of(RequestField.USER));
    }

    static final RouteRequest REQUEST = new RouteRequest("zed", "zed", null, Map.of("user", "zed"),
            new InetSocketAddress("127.0.0.1", 1), null, false);

    @Test
    void anUnchangedHttpRouterCarriesOverWithItsCache() throws Exception {
        RouterSpec.Http a = http("http://127.0.0.1:1/a");
        RouterSpec.Http b = http("http://127.0.0.1:1/b");
        LiveRouter first = LiveRouter.start(new RouterSpec.Chain(List.of(STATIC, a, b)));
        assertThat(first.router()).isInstanceOf(ChainRouter.class);
        assertThat(first.router().route(new RouteRequest("admin", "admin", null, Map.of("user", "admin"),
                new InetSocketAddress("127.0.0.1", 1), null, false)).host()).isEqualTo("h");

        // routes changed, a unchanged, b's cache TTL changed
        RouterSpec.Http b2 = new RouterSpec.Http(b.url(), b.method(), b.timeout(), Duration.ofSeconds(60),
                b.negativeTtl(), b.staleGrace(), b.maxEntries(), null, b.send());
        LiveRouter second = first.next(new RouterSpec.Chain(List.of(
                new RouterSpec.Static(Map.of("root", BackendConfig.of("h2", 5432, null)), null), a, b2)));
        assertThat(second.resource(a)).isSameAs(first.resource(a));
        assertThat(second.resource(b2)).isNotNull().isNotSameAs(first.resource(b));

        first.retire(second);
        assertThat(unavailable((HttpRouter) first.resource(b))).as("b was closed").isTrue();
        assertThat(unavailable((HttpRouter) second.resource(a))).as("a is still open").isFalse();
        second.close();
        assertThat(unavailable((HttpRouter) second.resource(a))).isTrue();
    }

    @Test
    void aRouterThatCannotStartClosesThoseStartedWithIt() {
        RouterSpec.Http a = http("http://127.0.0.1:1/a");
        // No server listens at this DSN's port: the table router's first load fails.
        RouterSpec.Postgres broken = new RouterSpec.Postgres("postgresql://nobody@127.0.0.1:1/none?connect_timeout=2",
                "pgmux_routes");
        LiveRouter running = LiveRouter.start(a);
        assertThatThrownBy(() -> running.next(new RouterSpec.Chain(List.of(http("http://127.0.0.1:1/new"), a, broken))))
                .isInstanceOf(IllegalStateException.class);
        assertThat(unavailable((HttpRouter) running.resource(a))).as("the running one stays open").isFalse();
        running.close();
    }

    /** True if the router refuses without asking its service, as a closed one does (an open one asks port 1). */
    private static boolean unavailable(HttpRouter router) {
        long before = router.stats().lookups();
        RoutingException e = catchThrowableOfType(RoutingException.class, () -> router.route(REQUEST));
        assertThat(e).isNotNull();
        return router.stats().lookups() == before;
    }
}
