package dev.pgmux.routing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import dev.pgmux.BackendConfig;
import dev.pgmux.Router;
import dev.pgmux.RoutingException;
import dev.pgmux.StaticRouter;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class ChainRouterTest {
    static final BackendConfig ADMIN = BackendConfig.of("admin-db", 5432, "postgres");
    static final BackendConfig LAB = BackendConfig.of("lab-db", 5432, null);
    static final BackendConfig SERVICE = BackendConfig.of("service-db", 5432, null);

    final List<String> asked = new ArrayList<>();

    Router recording(String name, Router router) {
        return request -> {
            asked.add(name);
            return router.route(request);
        };
    }

    ChainRouter chain(Router third) {
        return ChainRouter.of(
                recording("static", StaticRouter.of(Map.of("admin", ADMIN))),
                recording("pattern", PatternRouter.builder()
                        .rule(PatternRouter.Rule.named("labs").user("[a-z]+_lab").to(BackendTemplate.builder().host("lab-db")))
                        .build()),
                recording("third", third));
    }

    @Test
    void theFirstRouterWithARouteAnswers() throws Exception {
        ChainRouter chain = chain(request -> SERVICE);
        assertThat(chain.route(PatternRouterTest.request("admin", null, null))).isEqualTo(ADMIN);
        assertThat(asked).containsExactly("static");
        asked.clear();
        assertThat(chain.route(PatternRouterTest.request("ann_lab", null, null))).isEqualTo(LAB);
        assertThat(asked).containsExactly("static", "pattern");
        asked.clear();
        assertThat(chain.route(PatternRouterTest.request("zed", null, null))).isEqualTo(SERVICE);
        assertThat(asked).containsExactly("static", "pattern", "third");
    }

    @Test
    void nullPassesOnAndNoRouteAtTheEndIs28000() {
        ChainRouter chain = chain(request -> null);
        RoutingException e = catchThrowableOfType(RoutingException.class,
                () -> chain.route(PatternRouterTest.request("zed", null, null)));
        assertThat(e.sqlState()).isEqualTo("28000");
        assertThat(e.getMessage()).isEqualTo("no route for user \"zed\"");
        assertThat(asked).containsExactly("static", "pattern", "third");
    }

    @Test
    void anyOtherErrorStopsTheChain() {
        ChainRouter chain = ChainRouter.of(
                recording("failing", request -> {
                    throw new RoutingException("08006", "routing service unavailable");
                }),
                recording("fallback", request -> SERVICE));
        RoutingException e = catchThrowableOfType(RoutingException.class,
                () -> chain.route(PatternRouterTest.request("zed", null, null)));
        assertThat(e.sqlState()).isEqualTo("08006");
        assertThat(asked).containsExactly("failing");
    }

    @Test
    void theLastNoRouteMessageReachesTheClient() {
        ChainRouter chain = ChainRouter.of(request -> null, request -> {
            throw new RoutingException("28000", "tenant \"zed\" is suspended");
        });
        RoutingException e = catchThrowableOfType(RoutingException.class,
                () -> chain.route(PatternRouterTest.request("zed", null, null)));
        assertThat(e.getMessage()).isEqualTo("tenant \"zed\" is suspended");
    }

    @Test
    void closeClosesTheMembersThatHoldResources() {
        List<String> closed = new ArrayList<>();
        class Closing implements Router, AutoCloseable {
            final String name;

            Closing(String name) {
                this.name = name;
            }

            @Override
            public BackendConfig route(dev.pgmux.RouteRequest request) {
                return null;
            }

            @Override
            public void close() throws Exception {
                closed.add(name);
                if (name.equals("a")) {
                    throw new Exception("boom");
                }
            }
        }
        ChainRouter.of(new Closing("a"), request -> null, new Closing("b")).close();
        assertThat(closed).containsExactly("a", "b");
    }
}
