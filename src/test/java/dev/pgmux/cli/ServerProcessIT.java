package dev.pgmux.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import com.sun.net.httpserver.HttpServer;
import dev.pgmux.embedded.LocalPostgres;
import dev.pgmux.testing.PgStatActivity;
import dev.pgmux.testing.TestCerts;
import dev.pgmux.testing.TestServers;
import java.io.BufferedReader;
import java.io.File;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * pgmux as people run it: a separate process started from a config file, driven by signals, probed over HTTP,
 * with real PostgreSQL servers behind it and pgjdbc in front.
 */
class ServerProcessIT {
    static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    static LocalPostgres pg17;
    static LocalPostgres pg17b;

    @TempDir
    Path dir;

    Pgmux pgmux;
    int port;
    int adminPort;

    @BeforeAll
    static void servers() {
        pg17 = TestServers.pg17();
        pg17b = TestServers.pg17b();
    }

    @AfterEach
    void stop() {
        if (pgmux != null) {
            pgmux.kill();
            assertThat(pgmux.output()).as("pgmux's output").doesNotContain("LEAK:");
        }
    }

    @Test
    void checkAcceptsAGoodConfigAndNamesKeyAndLineOfABadOne() throws Exception {
        Path good = write("good.yaml", """
                listen: ["127.0.0.1:5434"]
                routes:
                  alice: { host: 127.0.0.1, port: 5432 }
                  bob: bob@127.0.0.1:5433/lab
                """);
        Pgmux ok = Pgmux.start(List.of("check", "--config", good.toString()));
        assertThat(ok.waitForExit()).as(ok.output()).isZero();
        assertThat(ok.output()).contains("config ok: 2 routes");

        Path bad = write("bad.yaml", """
                listen: ["127.0.0.1:5434"]
                routes:
                  alice:
                    hots: 127.0.0.1
                    port: 5432
                """);
        Pgmux refused = Pgmux.start(List.of("check", "--config", bad.toString()));
        assertThat(refused.waitForExit()).isEqualTo(1);
        assertThat(refused.output()).contains(bad + ":4: routes.alice.hots: unknown key");
        assertThat(refused.output()).contains("config invalid: 1 error");

        // Environment variables and flags override the file, and their errors name them.
        Pgmux overridden = Pgmux.start(List.of("check", "--config", good.toString(), "--listen", "nowhere"),
                Map.of("PGMUX_SHUTDOWN_TIMEOUT", "soon"));
        assertThat(overridden.waitForExit()).isEqualTo(1);
        assertThat(overridden.output()).contains("--listen: listen[0]: address needs host:port, not \"nowhere\"")
                .contains("PGMUX_SHUTDOWN_TIMEOUT: timeouts.shutdown: bad duration \"soon\"");

        // Flags alone, without a file, as before config files existed.
        Pgmux flags = Pgmux.start(List.of("check", "--route", "alice=127.0.0.1:5432", "--login-timeout", "15"));
        assertThat(flags.waitForExit()).as(flags.output()).isZero();
        assertThat(flags.output()).contains("config ok: 1 route");

        // Running with the bad file fails the same way, before listening.
        Pgmux run = Pgmux.start(List.of("--config", bad.toString()));
        assertThat(run.waitForExit()).isEqualTo(2);
        assertThat(run.output()).contains(bad + ":4: routes.alice.hots: unknown key");
    }

    @Test
    void sighupAddsAndRemovesRoutesWhileARunningSessionStaysUp() throws Exception {
        Path config = writeConfig("alice: " + route(pg17));
        pgmux = Pgmux.start(List.of("--config", config.toString(), "--no-watch"));
        pgmux.awaitLine("started listen=");
        assertThat(pgmux.output()).contains("routes=1 default_route=none admin=/127.0.0.1:" + adminPort);

        try (Connection alice = connect(TestServers.ALICE, TestServers.ALICE_PASSWORD)) {
            assertThat(whoami(alice)).isEqualTo(TestServers.PG17);
            assertThat(loginError(TestServers.BOB, TestServers.BOB_PASSWORD)).isEqualTo("28000");

            writeConfig("bob: " + route(pg17b));
            pgmux.signal("HUP");
            pgmux.awaitLine("config reloaded: routes +1 -1 ~0");

            assertThat(whoami(alice)).as("the session that started before the reload").isEqualTo(TestServers.PG17);
            try (Connection bob = connect(TestServers.BOB, TestServers.BOB_PASSWORD)) {
                assertThat(whoami(bob)).isEqualTo(TestServers.PG17B);
            }
            assertThat(loginError(TestServers.ALICE, TestServers.ALICE_PASSWORD)).isEqualTo("28000");

            // A broken file changes nothing.
            write("pgmux.yaml", Files.readString(config) + "  carol: { hots: 127.0.0.1 }\n");
            pgmux.signal("HUP");
            pgmux.awaitLine("config reload refused");
            assertThat(pgmux.output()).contains("routes.carol.hots: unknown key");
            try (Connection bob = connect(TestServers.BOB, TestServers.BOB_PASSWORD)) {
                assertThat(whoami(bob)).isEqualTo(TestServers.PG17B);
            }
            assertThat(whoami(alice)).isEqualTo(TestServers.PG17);
        }
        pgmux.signal("TERM");
        assertThat(pgmux.waitForExit()).as(pgmux.output()).isZero();
    }

    @Test
    void aChangedFileIsReloadedWithoutASignal() throws Exception {
        Path config = writeConfig("alice: " + route(pg17));
        pgmux = Pgmux.start(List.of("--config", config.toString()));
        pgmux.awaitLine("started listen=");
        assertThat(loginError(TestServers.BOB, TestServers.BOB_PASSWORD)).isEqualTo("28000");

        // A new route, and client TLS turned on and required.
        Path config2 = writeConfig("alice: " + route(pg17), "bob: " + route(pg17b));
        write("pgmux.yaml", Files.readString(config2) + "tls: { cert: %s, key: %s, required: true }\n"
                .formatted(TestCerts.serverCert(), TestCerts.serverKey()));
        pgmux.awaitLine("config reloaded: routes +1 -0 ~0, default_route unchanged, limits unchanged, tls changed");
        assertThat(pgmux.output()).contains("trigger=file change added=[bob]");

        assertThat(loginError(TestServers.BOB, TestServers.BOB_PASSWORD)).as("plaintext, now that TLS is required")
                .isEqualTo("28000");
        Properties tls = new Properties();
        tls.setProperty("sslmode", "verify-full");
        tls.setProperty("sslrootcert", TestCerts.caCert().toString());
        try (Connection bob = connect(TestServers.BOB, TestServers.BOB_PASSWORD, tls)) {
            assertThat(whoami(bob)).isEqualTo(TestServers.PG17B);
        }

        // The auth file is watched with it: a change to the auth file alone reloads, and a broken one is refused.
        write("users.txt", "\"carol\" \"pw-one\"\n");
        write("pgmux.yaml", Files.readString(config) + "auth_file: users.txt\n");
        pgmux.awaitLine("changed: auth_file trigger=file change");
        write("users.txt", "\"carol\" \"pw-two\"\n");
        pgmux.awaitLine("changed: auth_file trigger=auth_file change");
        write("users.txt", "\"carol\" \"pw-three\"\ndave pw-four\n");
        pgmux.awaitLine("config reload refused");
        assertThat(pgmux.output()).contains("auth_file: " + dir.resolve("users.txt") + " line 2: expected a user"
                + " name in double quotes").doesNotContain("pw-");
    }

    @Test
    void sigtermLetsARunningQueryFinishThenExitsZero() throws Exception {
        Path config = writeConfig("alice: " + route(pg17));
        pgmux = Pgmux.start(List.of("--config", config.toString()));
        pgmux.awaitLine("started listen=");
        assertThat(http("/healthz")).isEqualTo("200 ok");
        assertThat(http("/readyz")).isEqualTo("200 ready");

        try (Connection alice = connect(TestServers.ALICE, TestServers.ALICE_PASSWORD)) {
            assertThat(query(alice, "select 'counted'")).isEqualTo("counted");
            assertThat(http("/metrics")).startsWith("200 ").contains("\npgmux_client_connections 1.0\n",
                    "\npgmux_sessions_established_total 1.0\n").containsPattern("\npgmux_client_sent_bytes_total [1-9]");
            // Long enough for the probes below to land while the query runs, even on a busy machine.
            CompletableFuture<String> sleep = CompletableFuture.supplyAsync(() -> query(alice,
                    "select 'slept' from pg_sleep(3)"));
            PgStatActivity.awaitRunning(pg17, "select 'slept' from pg_sleep(3)");
            pgmux.signal("TERM");
            String readyz = http("/readyz");
            for (long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(2);
                 readyz.startsWith("200") && System.nanoTime() < end; readyz = http("/readyz")) {
                Thread.sleep(10); // the signal is on its way
            }
            assertThat(readyz).as("while draining").isEqualTo("503 not ready");
            assertThat(http("/healthz")).as("while draining").isEqualTo("200 ok");
            assertThat(sleep).as("the query is still running").isNotDone();
            pgmux.awaitLine("SIGTERM received: shutting down");

            assertThat(sleep.get(10, TimeUnit.SECONDS)).isEqualTo("slept");
        }
        assertThat(pgmux.waitForExit()).as(pgmux.output()).isZero();
        assertThat(pgmux.output()).contains("pgmux stopped");
    }

    @Test
    void aSecondSigtermStopsAtOnce() throws Exception {
        Path config = writeConfig("alice: " + route(pg17));
        pgmux = Pgmux.start(List.of("--config", config.toString()));
        pgmux.awaitLine("started listen=");
        try (Connection alice = connect(TestServers.ALICE, TestServers.ALICE_PASSWORD)) {
            CompletableFuture<String> sleep = CompletableFuture.supplyAsync(() -> query(alice,
                    "select 'slept' from pg_sleep(30)"));
            PgStatActivity.awaitRunning(pg17, "select 'slept' from pg_sleep(30)");
            pgmux.signal("TERM");
            pgmux.awaitLine("SIGTERM received: shutting down, running sessions get up to 30s");
            long start = System.nanoTime();
            pgmux.signal("TERM");
            assertThat(pgmux.waitForExit()).as(pgmux.output()).isEqualTo(128 + 15);
            assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(10));
            assertThat(pgmux.output()).contains("second SIGTERM received: stopping at once");
            assertThat(catchThrowableOfType(Exception.class, () -> sleep.get(10, TimeUnit.SECONDS)))
                    .as("the query was cut off").isNotNull();
        }
        pg17.execute("postgres", "select pg_terminate_backend(pid) from pg_stat_activity where query like '%pg_sleep(30)%'"
                + " and pid <> pg_backend_pid()");
    }

    @Test
    void aRouterSectionRoutesAndAReloadKeepsTheHttpRoutersCache() throws Exception {
        AtomicInteger lookups = new AtomicInteger();
        HttpServer service = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        service.createContext("/route", exchange -> {
            try (exchange) {
                lookups.incrementAndGet();
                byte[] body = ("{\"host\": \"" + pg17b.host() + "\", \"port\": " + pg17b.port() + "}")
                        .getBytes(StandardCharsets.UTF_8);
                exchange.sendResponseHeaders(200, body.length);
                exchange.getResponseBody().write(body);
            }
        });
        service.start();
        try {
            String http = "    - http: { url: \"http://127.0.0.1:" + service.getAddress().getPort()
                    + "/route\", send: [user], cache_ttl: 5m }\n";
            Path config = writeRouterConfig("    - pattern: { rules: [ { name: bob, match: { user: bob },"
                    + " backend: " + route(pg17) + " } ] }\n" + http);
            Pgmux check = Pgmux.start(List.of("check", "--config", config.toString()));
            assertThat(check.waitForExit()).as(check.output()).isZero();
            assertThat(check.output()).contains("config ok: router chain[pattern(1 rule), http(");
            pgmux = Pgmux.start(List.of("--config", config.toString(), "--no-watch"));
            pgmux.awaitLine("started listen=");
            assertThat(pgmux.output()).contains("router=chain[pattern(1 rule), http(http://127.0.0.1:"
                    + service.getAddress().getPort() + "/route)]");
            try (Connection bob = connect(TestServers.BOB, TestServers.BOB_PASSWORD);
                 Connection alice = connect(TestServers.ALICE, TestServers.ALICE_PASSWORD)) {
                assertThat(whoami(bob)).as("pattern").isEqualTo(TestServers.PG17);
                assertThat(whoami(alice)).as("http").isEqualTo(TestServers.PG17B);
            }
            assertThat(lookups).hasValue(1);

            writeRouterConfig("    - pattern: { rules: [ { name: bob, match: { user: bob },"
                    + " backend: " + route(pg17b) + " } ] }\n" + http);
            pgmux.signal("HUP");
            pgmux.awaitLine("config reloaded: routes +0 -0 ~0, default_route unchanged, limits unchanged,"
                    + " tls unchanged, log unchanged, router changed");
            try (Connection bob = connect(TestServers.BOB, TestServers.BOB_PASSWORD);
                 Connection alice = connect(TestServers.ALICE, TestServers.ALICE_PASSWORD)) {
                assertThat(whoami(bob)).as("the new pattern").isEqualTo(TestServers.PG17B);
                assertThat(whoami(alice)).isEqualTo(TestServers.PG17B);
            }
            assertThat(lookups).as("the unchanged http router kept its cache").hasValue(1);

            writeRouterConfig("    - pattern: { rules: [ { name: bob, match: { user: \"(bob\" },"
                    + " backend: " + route(pg17) + " } ] }\n" + http);
            pgmux.signal("HUP");
            pgmux.awaitLine("config reload refused");
            assertThat(pgmux.output()).contains("router.chain[0].pattern.rules[0].match.user: rule \"bob\": bad"
                    + " regular expression: Unclosed group");
            try (Connection bob = connect(TestServers.BOB, TestServers.BOB_PASSWORD)) {
                assertThat(whoami(bob)).isEqualTo(TestServers.PG17B);
            }
            pgmux.signal("TERM");
            assertThat(pgmux.waitForExit()).as(pgmux.output()).isZero();
        } finally {
            service.stop(0);
        }
    }

    // --- helpers

    /** A config on fresh ports; the routes are YAML lines under {@code routes:}. */
    private Path writeConfig(String... routes) throws IOException {
        if (port == 0) {
            port = freePort();
            adminPort = freePort();
        }
        return write("pgmux.yaml", """
                listen: ["127.0.0.1:%d"]
                admin_listen: "127.0.0.1:%d"
                timeouts: { shutdown: 30s }
                routes:
                """.formatted(port, adminPort)
                + Arrays.stream(routes).map(r -> "  " + r + "\n").collect(Collectors.joining()));
    }

    /** A config on fresh ports whose {@code router:} chain is the given YAML lines. */
    private Path writeRouterConfig(String chain) throws IOException {
        if (port == 0) {
            port = freePort();
            adminPort = freePort();
        }
        return write("pgmux.yaml", """
                listen: ["127.0.0.1:%d"]
                admin_listen: "127.0.0.1:%d"
                router:
                  chain:
                """.formatted(port, adminPort) + chain);
    }

    private static String route(LocalPostgres pg) {
        return "{ host: " + pg.host() + ", port: " + pg.port() + " }";
    }

    private Path write(String name, String text) throws IOException {
        Path p = dir.resolve(name);
        Path tmp = dir.resolve(name + ".tmp");
        Files.writeString(tmp, text);
        // Replaced in one step, as editors and config management do, so a poll never sees half a file.
        Files.move(tmp, p, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        return p;
    }

    private Connection connect(String user, String password) throws SQLException {
        return connect(user, password, new Properties());
    }

    private Connection connect(String user, String password, Properties extra) throws SQLException {
        Properties props = new Properties();
        props.setProperty("user", user);
        props.setProperty("password", password);
        props.setProperty("sslmode", "disable");
        props.setProperty("connectTimeout", "10");
        props.putAll(extra);
        return DriverManager.getConnection("jdbc:postgresql://127.0.0.1:" + port + "/postgres", props);
    }

    /** The SQLSTATE of a failed login; fails the test if the login works. */
    private String loginError(String user, String password) {
        SQLException e = catchThrowableOfType(SQLException.class, () -> connect(user, password).close());
        if (e == null) {
            throw new AssertionError("login as " + user + " should have failed");
        }
        return e.getSQLState();
    }

    private static String whoami(Connection c) {
        return query(c, "select server from whoami");
    }

    private static String query(Connection c, String sql) {
        try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery(sql)) {
            assertThat(rs.next()).isTrue();
            return rs.getString(1);
        } catch (SQLException e) {
            throw new IllegalStateException(e);
        }
    }

    private String http(String path) throws Exception {
        HttpResponse<String> r = HTTP.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + adminPort + path))
                .timeout(Duration.ofSeconds(5)).build(), HttpResponse.BodyHandlers.ofString());
        return r.statusCode() + " " + r.body().trim();
    }

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }

    /** A pgmux process: {@code java dev.pgmux.cli.Main ARGS} with the test's class path, output collected. */
    static final class Pgmux {
        private final Process process;
        private final Thread reader;
        private final List<String> lines = new ArrayList<>();
        private boolean ended;
        private int cursor;

        private Pgmux(Process process) {
            this.process = process;
            this.reader = Thread.ofVirtual().start(() -> {
                try (BufferedReader r = new BufferedReader(new InputStreamReader(process.getInputStream(),
                        StandardCharsets.UTF_8))) {
                    for (String line = r.readLine(); line != null; line = r.readLine()) {
                        synchronized (lines) {
                            lines.add(line);
                            lines.notifyAll();
                        }
                    }
                } catch (IOException e) {
                    // the process ended
                }
                synchronized (lines) {
                    ended = true;
                    lines.notifyAll();
                }
            });
        }

        static Pgmux start(List<String> args) throws IOException {
            return start(args, Map.of());
        }

        static Pgmux start(List<String> args, Map<String, String> environment) throws IOException {
            // The main classes and the dependencies; not the test classes (their logback-test.xml would replace
            // the production logging setup).
            String classPath = Arrays.stream(System.getProperty("java.class.path").split(File.pathSeparator))
                    .filter(e -> !e.endsWith("test-classes"))
                    .collect(Collectors.joining(File.pathSeparator));
            List<String> command = new ArrayList<>(List.of(
                    Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                    "--enable-native-access=ALL-UNNAMED", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-Xmx256m",
                    "-Dio.netty.leakDetection.level=paranoid",
                    "-cp", classPath, "dev.pgmux.cli.Main"));
            command.addAll(args);
            ProcessBuilder pb = new ProcessBuilder(command).redirectErrorStream(true);
            pb.environment().keySet().removeIf(k -> k.startsWith("PGMUX_"));
            pb.environment().putAll(environment);
            return new Pgmux(pb.start());
        }

        /** Waits for a line containing {@code text} after the last line this method matched. */
        void awaitLine(String text) throws InterruptedException {
            long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
            synchronized (lines) {
                while (true) {
                    for (int i = cursor; i < lines.size(); i++) {
                        if (lines.get(i).contains(text)) {
                            cursor = i + 1;
                            return;
                        }
                    }
                    long left = end - System.nanoTime();
                    if (left <= 0 || ended) {
                        throw new AssertionError("pgmux printed no line with \"" + text + "\":\n" + output());
                    }
                    lines.wait(Math.max(1, Math.min(TimeUnit.NANOSECONDS.toMillis(left), 200)));
                }
            }
        }

        void signal(String name) throws Exception {
            Process kill = new ProcessBuilder("kill", "-" + name, Long.toString(process.pid())).inheritIO().start();
            assertThat(kill.waitFor()).isZero();
        }

        int waitForExit() throws InterruptedException {
            if (!process.waitFor(30, TimeUnit.SECONDS)) {
                throw new AssertionError("pgmux did not exit:\n" + output());
            }
            reader.join(Duration.ofSeconds(5));
            return process.exitValue();
        }

        String output() {
            synchronized (lines) {
                return String.join("\n", lines);
            }
        }

        void kill() {
            process.destroyForcibly();
            try {
                process.waitFor(10, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }
}
