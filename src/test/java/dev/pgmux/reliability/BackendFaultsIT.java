package dev.pgmux.reliability;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.pgmux.BackendConfig;
import dev.pgmux.Limits;
import dev.pgmux.ProxyServer;
import dev.pgmux.Router;
import dev.pgmux.RoutingException;
import dev.pgmux.SslMode;
import dev.pgmux.embedded.LocalPostgres;
import dev.pgmux.testing.Await;
import dev.pgmux.testing.PgStatActivity;
import dev.pgmux.testing.TestServers;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Backends and routers that fail: a port that refuses, a port that accepts and never answers (with and without
 * TLS), a backend that stalls in its TLS handshake or closes at once, a whole PostgreSQL server SIGKILLed in the
 * middle of a query, and a router that throws, returns null or takes too long. The client concerned gets a
 * FATAL error with a fitting SQLSTATE within the configured timeout; every other client goes on undisturbed; no
 * connection, session or cancel key is left behind.
 */
class BackendFaultsIT {
    static final Duration CONNECT_TIMEOUT = Duration.ofSeconds(1);
    static final Duration ROUTER_TIMEOUT = Duration.ofMillis(500);

    static LocalPostgres pg;
    static ProxyServer proxy;
    static int refusingPort;
    static final List<ServerSocket> fakes = new ArrayList<>();
    static final List<Socket> held = new CopyOnWriteArrayList<>();
    /** Threads of the fake servers and the bystander. */
    static final ExecutorService fakeThreads = Executors.newVirtualThreadPerTaskExecutor();
    /** The dedicated server of the SIGKILL test, routed as "victim". */
    static volatile LocalPostgres victim;

    @BeforeAll
    static void start() throws Exception {
        pg = TestServers.pg17();
        try (ServerSocket s = new ServerSocket(0, 50, InetAddress.getLoopbackAddress())) {
            refusingPort = s.getLocalPort();
        }
        int blackhole = fake(socket -> {
            // accepts and never answers
        });
        int stallsInTls = fake(socket -> {
            try {
                socket.getInputStream().readNBytes(8); // SSLRequest
                socket.getOutputStream().write('S');
                socket.getOutputStream().flush();
            } catch (IOException e) {
                // the proxy gave up
            }
        });
        int stallsAfterSslAnswer = fake(socket -> {
            try {
                socket.getInputStream().readNBytes(8); // SSLRequest
                socket.getOutputStream().write('N');   // no TLS here; then the startup message goes unanswered
                socket.getOutputStream().flush();
            } catch (IOException e) {
                // the proxy gave up
            }
        });
        int closesAtOnce = fake(socket -> {
            try {
                socket.getInputStream().read();
                socket.close();
            } catch (IOException e) {
                // the proxy gave up
            }
        });
        Router router = request -> switch (request.user()) {
            case "refusing" -> BackendConfig.of("127.0.0.1", refusingPort, TestServers.ALICE);
            case "blackhole" -> BackendConfig.of("127.0.0.1", blackhole, TestServers.ALICE);
            case "blackhole_tls" -> BackendConfig.builder().host("127.0.0.1").port(blackhole).sslMode(SslMode.REQUIRE)
                    .build();
            case "stalls_in_tls" -> BackendConfig.builder().host("127.0.0.1").port(stallsInTls)
                    .sslMode(SslMode.REQUIRE).build();
            case "stalls_after_ssl_answer" -> BackendConfig.builder().host("127.0.0.1").port(stallsAfterSslAnswer)
                    .sslMode(SslMode.PREFER).build();
            case "failover_after_stall" -> BackendConfig.builder().addHost("127.0.0.1", stallsAfterSslAnswer)
                    .addHost(pg.host(), pg.port()).user(TestServers.ALICE).sslMode(SslMode.PREFER).build();
            case "closes_at_once" -> BackendConfig.of("127.0.0.1", closesAtOnce, TestServers.ALICE);
            case "unknown_host" -> BackendConfig.of("no-such-host.invalid", 5432, TestServers.ALICE);
            case "victim" -> BackendConfig.builder().host(victim.host()).port(victim.port()).user(TestServers.ALICE)
                    .build();
            case "router_throws" -> throw new IllegalStateException("router bug");
            case "router_null" -> null;
            case "router_refuses" -> throw new RoutingException("3D000", "no such tenant");
            case "router_slow" -> {
                try {
                    Thread.sleep(10_000);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
                yield BackendConfig.builder().host(pg.host()).port(pg.port()).user(TestServers.ALICE).build();
            }
            default -> BackendConfig.builder().host(pg.host()).port(pg.port()).user(TestServers.ALICE).build();
        };
        proxy = new ProxyServer("127.0.0.1:0", router)
                .withLimits(Limits.DEFAULT.withBackendConnectTimeout(CONNECT_TIMEOUT).withRouterTimeout(ROUTER_TIMEOUT))
                .start();
    }

    /** A local TCP server that hands each accepted socket to {@code behaviour} and keeps it open. */
    static int fake(Consumer<Socket> behaviour) throws IOException {
        ServerSocket server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
        fakes.add(server);
        fakeThreads.submit(() -> {
            while (!server.isClosed()) {
                try {
                    Socket s = server.accept();
                    held.add(s);
                    fakeThreads.submit(() -> behaviour.accept(s));
                } catch (IOException e) {
                    return;
                }
            }
        });
        return server.getLocalPort();
    }

    @AfterAll
    static void stop() throws IOException {
        if (proxy != null) {
            proxy.close(Duration.ofSeconds(1));
        }
        for (ServerSocket s : fakes) {
            s.close();
        }
        for (Socket s : held) {
            s.close();
        }
        fakeThreads.shutdownNow();
        if (victim != null) {
            victim.close();
        }
    }

    @AfterEach
    void nothingLeft() {
        Probe.awaitIdle(proxy, Duration.ofSeconds(5));
    }

    /** A client on a working route that runs queries the whole time; it must never see an error. */
    static final class Bystander {
        final AtomicBoolean running = new AtomicBoolean(true);
        final AtomicLong queries = new AtomicLong();
        final CompletableFuture<Void> done;

        private Bystander() {
            done = CompletableFuture.runAsync(() -> {
                try (Connection c = Jdbc.connect(proxy.port(), "bystander", TestServers.ALICE_PASSWORD)) {
                    while (running.get()) {
                        assertThat(Jdbc.one(c, "select 'fine'")).isEqualTo("fine");
                        queries.incrementAndGet();
                        Thread.sleep(5);
                    }
                } catch (SQLException | InterruptedException e) {
                    throw new AssertionError(e);
                }
            }, fakeThreads);
        }

        /** Starts the client and returns once it has run its first query. */
        static Bystander start() {
            Bystander b = new Bystander();
            Await.until(Duration.ofSeconds(10), () -> "the bystander's first query",
                    () -> b.queries.get() > 0 || b.done.isDone());
            return b;
        }

        /** Stops the client; fails if it saw an error or never got to run a query. */
        void stop() throws Exception {
            running.set(false);
            done.get(10, TimeUnit.SECONDS);
            assertThat(queries.get()).as("bystander queries").isPositive();
        }
    }

    record Failure(String sqlState, String message, Duration took) {
    }

    static Failure login(String user) {
        long t0 = System.nanoTime();
        try (Connection c = Jdbc.connect(proxy.port(), user, TestServers.ALICE_PASSWORD)) {
            throw new AssertionError("login as " + user + " succeeded: " + Jdbc.one(c, "select current_user"));
        } catch (SQLException e) {
            return new Failure(e.getSQLState(), e.getMessage(), Duration.ofNanos(System.nanoTime() - t0));
        }
    }

    @Test
    void unreachableBackendsGetAFatalWithinTheConnectTimeout() throws Exception {
        Bystander bystander = Bystander.start();
        try {
            Failure refused = login("refusing");
            assertThat(refused.sqlState()).isEqualTo("08006");
            assertThat(refused.message()).contains("could not connect to the backend server")
                    .doesNotContain(String.valueOf(refusingPort));
            assertThat(refused.took()).isLessThan(CONNECT_TIMEOUT);

            for (String user : List.of("blackhole", "blackhole_tls", "stalls_in_tls", "stalls_after_ssl_answer")) {
                Failure f = login(user);
                assertThat(f.sqlState()).as(user).isEqualTo("08006");
                assertThat(f.message()).as(user).contains("could not connect to the backend server");
                assertThat(f.took()).as(user).isBetween(CONNECT_TIMEOUT.minusMillis(100), CONNECT_TIMEOUT.plusSeconds(2));
            }

            // The connect timeout covers each host until its first answer to the startup message, so a host that
            // stalls after answering the SSLRequest is passed over in time, not at the login timeout.
            long t0 = System.nanoTime();
            try (Connection c = Jdbc.connect(proxy.port(), "failover_after_stall", TestServers.ALICE_PASSWORD)) {
                assertThat(Jdbc.one(c, "select current_user")).isEqualTo(TestServers.ALICE);
            }
            assertThat(Duration.ofNanos(System.nanoTime() - t0))
                    .isBetween(CONNECT_TIMEOUT.minusMillis(100), CONNECT_TIMEOUT.plusSeconds(2));

            Failure closed = login("closes_at_once");
            assertThat(closed.sqlState()).isEqualTo("08006");
            assertThat(closed.took()).isLessThan(CONNECT_TIMEOUT);

            Failure unknown = login("unknown_host");
            assertThat(unknown.sqlState()).isEqualTo("08006");
            assertThat(unknown.message()).doesNotContain("no-such-host");
        } finally {
            bystander.stop();
        }
    }

    @Test
    void manyClientsOnABlackholedRouteDoNotHoldUpOthers() throws Exception {
        Bystander bystander = Bystander.start();
        try (ExecutorService threads = Executors.newVirtualThreadPerTaskExecutor()) {
            List<Future<Failure>> stuck = new ArrayList<>();
            for (int i = 0; i < 50; i++) {
                stuck.add(threads.submit(() -> login("blackhole")));
            }
            long t0 = System.nanoTime();
            try (Connection c = Jdbc.connect(proxy.port(), "meanwhile", TestServers.ALICE_PASSWORD)) {
                assertThat(Jdbc.one(c, "select 'served'")).isEqualTo("served");
            }
            assertThat(Duration.ofNanos(System.nanoTime() - t0)).isLessThan(CONNECT_TIMEOUT);
            for (Future<Failure> f : stuck) {
                assertThat(f.get(10, TimeUnit.SECONDS).sqlState()).isEqualTo("08006");
            }
        } finally {
            bystander.stop();
        }
    }

    @Test
    void aFailingRouterFailsOnlyItsOwnClient() throws Exception {
        Bystander bystander = Bystander.start();
        try (ExecutorService threads = Executors.newVirtualThreadPerTaskExecutor()) {
            Failure threw = login("router_throws");
            assertThat(threw.sqlState()).isEqualTo("08006");
            assertThat(threw.message()).contains("could not route the connection").doesNotContain("router bug");

            Failure none = login("router_null");
            assertThat(none.sqlState()).isEqualTo("28000");
            assertThat(none.message()).contains("no route for user \"router_null\"");

            Failure refused = login("router_refuses");
            assertThat(refused.sqlState()).isEqualTo("3D000");
            assertThat(refused.message()).contains("no such tenant");

            // Slow routes overlap: each times out on its own, and a fast route is not held up meanwhile.
            List<Future<Failure>> slow = new ArrayList<>();
            for (int i = 0; i < 20; i++) {
                slow.add(threads.submit(() -> login("router_slow")));
            }
            long t0 = System.nanoTime();
            try (Connection c = Jdbc.connect(proxy.port(), "meanwhile", TestServers.ALICE_PASSWORD)) {
                assertThat(Jdbc.one(c, "select 'served'")).isEqualTo("served");
            }
            assertThat(Duration.ofNanos(System.nanoTime() - t0)).isLessThan(ROUTER_TIMEOUT.plusMillis(400));
            for (Future<Failure> f : slow) {
                Failure timedOut = f.get(10, TimeUnit.SECONDS);
                assertThat(timedOut.sqlState()).isEqualTo("08006");
                assertThat(timedOut.message()).contains("timed out");
                assertThat(timedOut.took()).isBetween(ROUTER_TIMEOUT.minusMillis(50), ROUTER_TIMEOUT.plusSeconds(2));
            }
        } finally {
            bystander.stop();
        }
    }

    @Test
    void aWholeServerKilledMidQueryFailsItsClientsPromptly() throws Exception {
        // A server of its own: the shared ones must survive this test.
        victim = LocalPostgres.builder().version("17").superuserPassword(TestServers.SUPERUSER_PASSWORD)
                .user(TestServers.ALICE, TestServers.ALICE_PASSWORD, "scram-sha-256").start();
        Bystander bystander = Bystander.start();
        try (ExecutorService threads = Executors.newVirtualThreadPerTaskExecutor()) {
            Connection busy = Jdbc.connect(proxy.port(), "victim", TestServers.ALICE_PASSWORD);
            Connection idle = Jdbc.connect(proxy.port(), "victim", TestServers.ALICE_PASSWORD);
            Connection inTransaction = Jdbc.connect(proxy.port(), "victim", TestServers.ALICE_PASSWORD);
            inTransaction.setAutoCommit(false);
            Jdbc.one(inTransaction, "select 1");
            Future<String> running = threads.submit(() -> {
                try (Statement s = busy.createStatement()) {
                    s.execute("select pg_sleep(60)");
                    return "finished";
                } catch (SQLException e) {
                    return e.getSQLState();
                }
            });
            PgStatActivity.awaitCount(victim, "query = 'select pg_sleep(60)' and state = 'active'", 1,
                    Duration.ofSeconds(10));
            assertThat(Probe.cancelKeys(proxy)).as("cancel keys: three victims, one bystander").isEqualTo(4);

            long t0 = System.nanoTime();
            victim.kill();
            assertThat(running.get(5, TimeUnit.SECONDS)).isIn("08006", "57P01");
            assertThat(Duration.ofNanos(System.nanoTime() - t0)).isLessThan(Duration.ofSeconds(3));
            assertThatThrownBy(() -> Jdbc.one(idle, "select 1")).isInstanceOf(SQLException.class);
            assertThatThrownBy(() -> Jdbc.one(inTransaction, "select 1")).isInstanceOf(SQLException.class);
            Await.until(Duration.ofSeconds(5), () -> "sessions=" + Probe.sessions(proxy),
                    () -> Probe.sessions(proxy) == 1 && Probe.cancelKeys(proxy) == 1 && proxy.stats().current() == 1);

            // The dead server refuses new clients at once; the route comes back with the server.
            Failure refused = login("victim");
            assertThat(refused.sqlState()).isEqualTo("08006");
            assertThat(refused.took()).isLessThan(CONNECT_TIMEOUT);
            for (Connection c : List.of(busy, idle, inTransaction)) {
                c.close();
            }
        } finally {
            try {
                bystander.stop();
            } finally {
                victim.close();
                victim = null;
            }
        }
    }
}
