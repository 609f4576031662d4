package dev.pgmux.routing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import com.fasterxml.jackson.databind.json.JsonMapper;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import dev.pgmux.BackendConfig;
import dev.pgmux.PoolConfig;
import dev.pgmux.PoolMode;
import dev.pgmux.RouteRequest;
import dev.pgmux.RoutingException;
import dev.pgmux.SessionStatePolicy;
import dev.pgmux.SslMode;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The HTTP router against a real HTTP server (the JDK's): what it sends, what it makes of each answer, and its
 * cache. Expiry runs on a clock the test moves, so that TTLs are exact and no test sleeps through one.
 */
class HttpRouterTest {
    static final String ROUTE = "{\"host\": \"10.0.1.50\", \"port\": 6432, \"user\": \"app\"}";
    static final BackendConfig APP = BackendConfig.of("10.0.1.50", 6432, "app");

    /** What the service answers: a status, a body, and how long it takes first. */
    record Reply(int status, String body, long delayMillis) {
        static Reply ok(String body) {
            return new Reply(200, body, 0);
        }

        static Reply status(int status) {
            return new Reply(status, "", 0);
        }
    }

    /** A request as the service saw it. */
    record Seen(String method, Map<String, String> query, String authorization, String body) {
    }

    interface Service {
        Reply answer(Seen request);
    }

    HttpServer server;
    ExecutorService serverThreads;
    volatile Service service = request -> Reply.ok(ROUTE);
    final List<Seen> seen = new CopyOnWriteArrayList<>();
    final AtomicLong clock = new AtomicLong(TimeUnit.HOURS.toNanos(1));
    HttpRouter router;

    @BeforeEach
    void startService() throws IOException {
        server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        serverThreads = Executors.newVirtualThreadPerTaskExecutor();
        server.setExecutor(serverThreads);
        server.createContext("/route", this::handle);
        server.start();
    }

    @AfterEach
    void stop() {
        if (router != null) {
            router.close();
        }
        server.stop(0);
        serverThreads.shutdownNow();
    }

    private void handle(HttpExchange exchange) throws IOException {
        try (exchange) {
            String raw = exchange.getRequestURI().getRawQuery();
            Map<String, String> query = new LinkedHashMap<>();
            if (raw != null) {
                for (String kv : raw.split("&")) {
                    int eq = kv.indexOf('=');
                    query.put(URLDecoder.decode(kv.substring(0, eq), StandardCharsets.UTF_8),
                            URLDecoder.decode(kv.substring(eq + 1), StandardCharsets.UTF_8));
                }
            }
            Seen request = new Seen(exchange.getRequestMethod(), query,
                    exchange.getRequestHeaders().getFirst("Authorization"),
                    new String(exchange.getRequestBody().readAllBytes(), StandardCharsets.UTF_8));
            seen.add(request);
            Reply reply = service.answer(request);
            if (reply.delayMillis() > 0) {
                Thread.sleep(reply.delayMillis());
            }
            byte[] body = reply.body().getBytes(StandardCharsets.UTF_8);
            exchange.getResponseHeaders().set("Content-Type", "application/json");
            exchange.sendResponseHeaders(reply.status(), body.length == 0 ? -1 : body.length);
            if (body.length > 0) {
                try (OutputStream out = exchange.getResponseBody()) {
                    out.write(body);
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (IOException e) {
            // the router gave up on this request (timeout): nothing to answer to
        }
    }

    HttpRouter.Builder builder() {
        return HttpRouter.builder().url("http://127.0.0.1:" + server.getAddress().getPort() + "/route")
                .clock(clock::get);
    }

    static RouteRequest request(String user) {
        return request(user, "app", null);
    }

    static RouteRequest request(String user, String database, String sni) {
        return new RouteRequest(user, database, "psql", Map.of("user", user, "database", database,
                "application_name", "psql"), new InetSocketAddress("10.9.8.7", 50000), sni, sni != null);
    }

    void advance(Duration d) {
        clock.addAndGet(d.toNanos());
    }

    static RoutingException refused(HttpRouter router, RouteRequest request) {
        RoutingException e = catchThrowableOfType(RoutingException.class, () -> router.route(request));
        assertThat(e).as("refused").isNotNull();
        return e;
    }

    @Test
    void getSendsTheFieldsAndTheAnswerIsARoute() throws Exception {
        service = r -> Reply.ok("""
                {"host": "db.internal", "port": 5433, "user": "tenant_1", "database": "t1", "sslmode": "verify-full",
                 "sslrootcert": "/etc/pgmux/ca.pem", "parameters": {"search_path": "t1", "statement_timeout": 5000}}
                """);
        router = builder().build();
        BackendConfig b = router.route(request("ann", "sales db", "ann.db.example.com"));
        assertThat(b).isEqualTo(BackendConfig.builder().host("db.internal").port(5433).user("tenant_1").database("t1")
                .sslMode(SslMode.VERIFY_FULL).sslRootCert(Path.of("/etc/pgmux/ca.pem"))
                .parameter("search_path", "t1").parameter("statement_timeout", "5000").build());
        assertThat(seen).singleElement().satisfies(s -> {
            assertThat(s.method()).isEqualTo("GET");
            assertThat(s.query()).containsExactly(Map.entry("user", "ann"), Map.entry("database", "sales db"),
                    Map.entry("application_name", "psql"), Map.entry("sni", "ann.db.example.com"),
                    Map.entry("client_addr", "10.9.8.7"));
            assertThat(s.authorization()).isNull();
        });
    }

    @Test
    void anAnswerMayListSeveralHostsWithTheirRoles() throws Exception {
        service = r -> Reply.ok("""
                {"hosts": ["pg-a.internal", "pg-b.internal:5433", "[fd00::7]"], "port": 6432,
                 "target_session_attrs": "read-write", "load_balance_hosts": "round-robin"}
                """);
        router = builder().build();
        BackendConfig b = router.route(request("ann"));
        assertThat(b.hosts()).containsExactly(new BackendConfig.Endpoint("pg-a.internal", 6432),
                new BackendConfig.Endpoint("pg-b.internal", 5433), new BackendConfig.Endpoint("fd00::7", 6432));
        assertThat(b.targetSessionAttrs()).isEqualTo(dev.pgmux.TargetSessionAttrs.READ_WRITE);
        assertThat(b.loadBalanceHosts()).isEqualTo(dev.pgmux.LoadBalanceHosts.ROUND_ROBIN);

        service = r -> Reply.ok("{\"hosts\": [\"pg-a:5432\"], \"target_session_attrs\": \"sometimes\"}");
        router = builder().build();
        assertThat(catchThrowableOfType(RoutingException.class, () -> router.route(request("bob"))))
                .hasMessage("routing service unavailable");
    }

    @Test
    void absentFieldsAreLeftOutAndTheUrlMayHaveAQuery() throws Exception {
        router = HttpRouter.builder().url("http://127.0.0.1:" + server.getAddress().getPort() + "/route?region=eu")
                .build();
        router.route(request("ann"));
        assertThat(seen).singleElement().extracting(Seen::query).satisfies(q -> {
            assertThat(q).containsEntry("region", "eu").containsEntry("user", "ann");
            assertThat(q).doesNotContainKey("sni");
        });
    }

    @Test
    void postSendsTheFieldsAsJson() throws Exception {
        router = builder().method(HttpRouter.Method.POST).send(RequestField.USER, RequestField.SNI).build();
        assertThat(router.route(request("ann", "app", "x.example.com"))).isEqualTo(APP);
        Seen s = seen.get(0);
        assertThat(s.method()).isEqualTo("POST");
        assertThat(s.query()).isEmpty();
        assertThat(JsonMapper.builder().build().readValue(s.body(), Map.class))
                .isEqualTo(Map.of("user", "ann", "sni", "x.example.com"));
    }

    @Test
    void routesAreCachedForTheirTtl() throws Exception {
        router = builder().cacheTtl(Duration.ofSeconds(30)).build();
        assertThat(router.route(request("ann"))).isEqualTo(APP);
        advance(Duration.ofSeconds(29));
        assertThat(router.route(request("ann"))).isEqualTo(APP);
        assertThat(seen).hasSize(1);
        assertThat(router.route(request("bob"))).isEqualTo(APP);
        assertThat(seen).as("another user is another key").hasSize(2);

        service = r -> Reply.ok("{\"host\": \"moved.internal\"}");
        advance(Duration.ofSeconds(2));
        assertThat(router.route(request("ann")).host()).isEqualTo("moved.internal");
        assertThat(seen).hasSize(3);
        assertThat(router.stats()).isEqualTo(new HttpRouter.Stats(3, 1, 0, 0, 2));
    }

    @Test
    void notFoundIsNoRouteRememberedForTheNegativeTtl() {
        service = r -> Reply.status(404);
        router = builder().negativeTtl(Duration.ofSeconds(5)).build();
        RoutingException e = refused(router, request("ghost"));
        assertThat(e.sqlState()).isEqualTo("28000");
        assertThat(e.getMessage()).isEqualTo("no route for user \"ghost\"");
        advance(Duration.ofSeconds(4));
        assertThat(refused(router, request("ghost")).sqlState()).isEqualTo("28000");
        assertThat(seen).hasSize(1);

        service = r -> Reply.ok(ROUTE); // the tenant was just created
        advance(Duration.ofSeconds(2));
        assertThat(catchThrowableOfType(RoutingException.class, () -> router.route(request("ghost")))).isNull();
        assertThat(seen).hasSize(2);
    }

    @Test
    void concurrentConnectsForOneKeyShareOneRequest() throws Exception {
        service = r -> new Reply(200, ROUTE, 300);
        router = builder().build();
        int clients = 50;
        CountDownLatch go = new CountDownLatch(1);
        List<Future<BackendConfig>> results = new ArrayList<>();
        try (ExecutorService threads = Executors.newVirtualThreadPerTaskExecutor()) {
            for (int i = 0; i < clients; i++) {
                results.add(threads.submit(() -> {
                    go.await();
                    return router.route(request("ann"));
                }));
            }
            results.add(threads.submit(() -> {
                go.await();
                return router.route(request("bob"));
            }));
            go.countDown();
            for (Future<BackendConfig> f : results) {
                assertThat(f.get(10, TimeUnit.SECONDS)).isEqualTo(APP);
            }
        }
        assertThat(seen).extracting(s -> s.query().get("user")).containsExactlyInAnyOrder("ann", "bob");
        assertThat(router.stats().lookups()).isEqualTo(2);
    }

    @Test
    void concurrentConnectsShareAFailureToo() throws Exception {
        service = r -> new Reply(503, "", 200);
        router = builder().build();
        AtomicInteger unavailable = new AtomicInteger();
        CountDownLatch go = new CountDownLatch(1);
        try (ExecutorService threads = Executors.newVirtualThreadPerTaskExecutor()) {
            for (int i = 0; i < 20; i++) {
                threads.submit(() -> {
                    go.await();
                    try {
                        router.route(request("ann"));
                    } catch (RoutingException e) {
                        if (e.sqlState().equals("08006")) {
                            unavailable.incrementAndGet();
                        }
                    }
                    return null;
                });
            }
            go.countDown();
        }
        assertThat(unavailable).hasValue(20);
        assertThat(seen).hasSize(1);
    }

    @Test
    void aSlowServiceTimesOut() {
        service = r -> new Reply(200, ROUTE, 3_000);
        router = builder().timeout(Duration.ofMillis(300)).build();
        long start = System.nanoTime();
        RoutingException e = refused(router, request("ann"));
        assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofMillis(2_000));
        assertThat(e.sqlState()).isEqualTo("08006");
        assertThat(e.getMessage()).isEqualTo("routing service unavailable");
        assertThat(router.stats().failures()).isEqualTo(1);
    }

    @Test
    void aSlowBodyTimesOutToo() throws Exception {
        // Headers at once, then a body that never ends: the request timeout alone would wait forever.
        server.createContext("/trickle", exchange -> {
            exchange.sendResponseHeaders(200, 0);
            try {
                exchange.getResponseBody().write("{\"host\":".getBytes(StandardCharsets.UTF_8));
                exchange.getResponseBody().flush();
                Thread.sleep(5_000);
            } catch (InterruptedException | IOException e) {
                // the router hung up
            } finally {
                exchange.close();
            }
        });
        router = HttpRouter.builder().url("http://127.0.0.1:" + server.getAddress().getPort() + "/trickle")
                .timeout(Duration.ofMillis(300)).build();
        long start = System.nanoTime();
        assertThat(refused(router, request("ann")).sqlState()).isEqualTo("08006");
        assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofMillis(2_000));
    }

    @Test
    void errorsAreNotCached() {
        service = r -> Reply.status(500);
        router = builder().build();
        assertThat(refused(router, request("ann")).sqlState()).isEqualTo("08006");
        assertThat(refused(router, request("ann")).sqlState()).isEqualTo("08006");
        assertThat(seen).hasSize(2);
    }

    @Test
    void aServiceThatIsDownIsUnavailable() throws Exception {
        int port;
        try (var s = new java.net.ServerSocket(0)) {
            port = s.getLocalPort();
        }
        router = HttpRouter.builder().url("http://127.0.0.1:" + port + "/route").build();
        RoutingException e = refused(router, request("ann"));
        assertThat(e.sqlState()).isEqualTo("08006");
        assertThat(e.getMessage()).isEqualTo("routing service unavailable");
    }

    @Test
    void staleAnswersServeDuringAnOutageForTheGrace() throws Exception {
        router = builder().cacheTtl(Duration.ofSeconds(30)).negativeTtl(Duration.ofSeconds(5))
                .staleGrace(Duration.ofMinutes(5)).build();
        service = r -> r.query().get("user").equals("ghost") ? Reply.status(404) : Reply.ok(ROUTE);
        assertThat(router.route(request("ann"))).isEqualTo(APP);
        refused(router, request("ghost"));

        service = r -> Reply.status(503);
        advance(Duration.ofSeconds(31));
        assertThat(router.route(request("ann"))).as("stale, 1 s after expiry").isEqualTo(APP);
        assertThat(refused(router, request("ghost")).sqlState()).as("a stale 404 is still no route").isEqualTo("28000");
        advance(Duration.ofMinutes(4));
        assertThat(router.route(request("ann"))).as("stale, 4 min after expiry").isEqualTo(APP);
        assertThat(router.stats().staleServed()).isEqualTo(3);
        assertThat(refused(router, request("bob")).sqlState()).as("never known: nothing to serve").isEqualTo("08006");

        advance(Duration.ofMinutes(1));
        assertThat(refused(router, request("ann")).sqlState()).as("past the grace").isEqualTo("08006");

        service = r -> Reply.ok(ROUTE); // the service is back
        assertThat(router.route(request("ann"))).isEqualTo(APP);
    }

    @Test
    void aFlappingServiceServesTheLastGoodAnswer() throws Exception {
        // Every connection asks (no TTL); every other answer fails, some slowly.
        AtomicInteger n = new AtomicInteger();
        service = r -> switch (n.incrementAndGet()) {
            case 1 -> Reply.ok("{\"host\": \"first\"}");
            case 2 -> Reply.status(502);
            case 3 -> Reply.ok("{\"host\": \"second\"}");
            case 4 -> new Reply(200, "{\"host\": \"too-late\"}", 2_000);
            case 5 -> Reply.ok("{\"host\": \"third\"}");
            default -> Reply.status(500);
        };
        router = builder().cacheTtl(Duration.ZERO).staleGrace(Duration.ofMinutes(1)).timeout(Duration.ofMillis(300))
                .build();
        List<String> hosts = new ArrayList<>();
        for (int i = 0; i < 6; i++) {
            hosts.add(router.route(request("ann")).host());
        }
        assertThat(hosts).containsExactly("first", "first", "second", "second", "third", "third");
        assertThat(seen).hasSize(6);
        assertThat(router.stats().staleServed()).isEqualTo(3);
        assertThat(router.stats().failures()).isEqualTo(3);
    }

    @Test
    void withoutGraceAnOutageFailsAtOnce() throws Exception {
        router = builder().cacheTtl(Duration.ofSeconds(1)).staleGrace(Duration.ZERO).build();
        router.route(request("ann"));
        service = r -> Reply.status(500);
        advance(Duration.ofSeconds(1));
        assertThat(refused(router, request("ann")).sqlState()).isEqualTo("08006");
    }

    @Test
    void theBearerTokenIsSent() throws Exception {
        router = builder().bearerToken("s3cret").build();
        router.route(request("ann"));
        assertThat(seen.get(0).authorization()).isEqualTo("Bearer s3cret");
    }

    @Test
    void anAnswerIsReadAsARouteOfTheConfigFile() throws Exception {
        assertThat(RoutingService.answer("""
                {"host": "db", "user": "", "database": " ", "sslmode": "", "parameters": {"a": null, "b": ""}}
                """.getBytes(StandardCharsets.UTF_8)))
                .as("blank: not set; a null parameter is not sent, an empty one is")
                .isEqualTo(BackendConfig.builder().host("db").parameter("b", "").build());
        for (var bad : Map.of(
                "{\"host\": \"a\", \"hosts\": [\"b\"]}", "invalid answer: hosts: give host: or hosts:, not both",
                "\"db:5432\"", "invalid answer: not a JSON object",
                "{\"host\": \"db\", \"port\": 70000}", "invalid answer: port: must be between 1 and 65535, not 70000")
                .entrySet()) {
            assertThat(catchThrowableOfType(RoutingService.LookupFailed.class,
                    () -> RoutingService.answer(bad.getKey().getBytes(StandardCharsets.UTF_8))))
                    .as(bad.getKey()).hasMessage(bad.getValue());
        }
    }

    @Test
    void anAnswerMaySetThePoolWithTheConfigFilesNames() throws Exception {
        service = r -> Reply.ok("""
                {"host": "db", "auth": "proxy", "client_auth_method": "trust", "pool": "transaction", "pool_size": 8,
                 "min_pool_size": 1, "max_clients": 50, "server_idle_timeout": "10m", "server_lifetime": "0",
                 "query_wait_timeout": "15s", "server_check_delay": "5s", "on_session_state": "ignore",
                 "server_reset_query": "DISCARD ALL"}
                """);
        router = builder().build();
        assertThat(router.route(request("ann")).pool()).isEqualTo(new PoolConfig(PoolMode.TRANSACTION, 8, 1,
                Duration.ofMinutes(10), Duration.ZERO, Duration.ofSeconds(15), 50, SessionStatePolicy.IGNORE,
                "DISCARD ALL", Duration.ofSeconds(5)));

        for (var bad : Map.of(
                "{\"host\": \"db\", \"auth\": \"proxy\", \"pool\": \"statement\"}",
                "invalid answer: pool: unknown pool \"statement\" (none, session, transaction)",
                "{\"host\": \"db\", \"pool\": \"session\"}",
                "invalid answer: pool: pool session needs auth proxy: pgmux logs in to pooled servers itself, so it"
                        + " must authenticate the clients",
                "{\"host\": \"db\", \"auth\": \"proxy\", \"pool\": \"session\", \"pool_size\": 0}",
                "invalid answer: pool_size: must be at least 1, not 0",
                "{\"host\": \"db\", \"auth\": \"proxy\", \"pool_size\": 8}",
                "invalid answer: pool_size: applies only with pool: session or transaction (without pooling each"
                        + " client has a server connection of its own)",
                "{\"host\": \"db\", \"auth\": \"proxy\", \"pool\": \"transaction\", \"on_session_state\": \"keep\"}",
                "invalid answer: on_session_state: unknown on_session_state \"keep\" (pin, error, ignore)",
                "{\"host\": \"db\", \"pool\": \"none\", \"pol_size\": 8}",
                "invalid answer: unknown key \"pol_size\"").entrySet()) {
            assertThat(catchThrowableOfType(RoutingService.LookupFailed.class,
                    () -> RoutingService.answer(bad.getKey().getBytes(StandardCharsets.UTF_8))))
                    .as(bad.getKey()).hasMessage(bad.getValue());
        }
        router.close();
        service = r -> Reply.ok("{\"host\": \"db\", \"pool\": \"session\"}");
        router = builder().cacheTtl(Duration.ZERO).staleGrace(Duration.ZERO).build();
        assertThat(refused(router, request("bob")).sqlState()).as("a broken answer").isEqualTo("08006");
    }

    @Test
    void brokenAnswersAreFailuresNotRoutes() {
        router = builder().cacheTtl(Duration.ZERO).staleGrace(Duration.ZERO).build();
        for (String body : List.of("{\"hots\": \"db\"}", "not json", "{\"port\": 5432}", "[]",
                "{\"host\": \"db\", \"port\": 70000}", "{\"host\": \"db\", \"sslmode\": \"sometimes\"}",
                "{\"host\": \"db\", \"host\": \"other\"}", "{\"host\": \"" + "x".repeat(70_000) + "\"}")) {
            service = r -> Reply.ok(body);
            assertThat(refused(router, request("ann")).sqlState()).as(body.length() > 80 ? "a huge answer" : body)
                    .isEqualTo("08006");
        }
        assertThat(router.stats().failures()).isEqualTo(8);
    }

    @Test
    void theCacheKeyIsTheFieldsSent() throws Exception {
        router = builder().send(RequestField.USER).build();
        router.route(request("ann", "app", null));
        router.route(request("ann", "other", "ann.example.com"));
        assertThat(seen).singleElement().extracting(Seen::query).isEqualTo(Map.of("user", "ann"));
    }

    @Test
    void theCacheIsBoundedAndDropsTheOldest() throws Exception {
        router = builder().maxEntries(3).build();
        for (String user : List.of("u1", "u2", "u3", "u4", "u5")) {
            router.route(request(user));
        }
        assertThat(router.stats().cachedEntries()).isEqualTo(3);
        router.route(request("u5"));
        assertThat(seen).hasSize(5);
        router.route(request("u1"));
        assertThat(seen).as("u1 was dropped").hasSize(6);
    }

    @Test
    void aClosedRouterRefuses() {
        router = builder().build();
        router.close();
        assertThat(refused(router, request("ann")).sqlState()).isEqualTo("08006");
    }
}
