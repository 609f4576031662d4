package dev.pgmux.demo;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

import dev.pgmux.embedded.Binaries;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code pgmux demo} as a user runs it: a JVM of its own, seen only through its output, its port and signals.
 */
@Timeout(value = 4, unit = TimeUnit.MINUTES)
class DemoIT {

    private static final Duration BANNER_TIMEOUT = Duration.ofSeconds(90);
    private static final Duration EXIT_TIMEOUT = Duration.ofSeconds(30);

    /** {@code  alice → server A (PostgreSQL 17.7 on port 41234)}; the arrow is ASCII on a terminal that needs it. */
    private static final Pattern ROUTE = Pattern.compile(
            "^ {2}(\\w+) +(?:→|->) (server ([AB]) \\(PostgreSQL (\\S+) on port (\\d+)\\))$");
    private static final Pattern URI = Pattern.compile(
            "^ {2}psql \"postgresql://(\\w+):([A-Za-z0-9]+)@([^:/\"]+):(\\d+)/(\\w+)\" -c \"(.+)\"$");
    private static final Pattern DATA = Pattern.compile("^ {2}temporary data \\(deleted on exit\\): (.+)$");

    record Route(String name, String label, int port) {}

    record Login(String user, String password, String host, int port, String database, String query) {
        String jdbcUrl() {
            return "jdbc:postgresql://" + host + ":" + port + "/" + database;
        }
    }

    @Test
    void routesAliceAndBobToTheirOwnServersAndRemovesEverythingOnSigterm(@TempDir Path tmp) throws Exception {
        int port = freePort();
        long t0 = System.nanoTime();
        Demo demo = Demo.start(tmp, "--port", Integer.toString(port));
        try {
            List<String> banner = demo.awaitBanner();
            System.out.printf("pgmux demo came up in %d ms%n", (System.nanoTime() - t0) / 1_000_000);

            assertThat(banner.getFirst()).isEqualTo("pgmux demo is running on 127.0.0.1:" + port + " (Ctrl-C to stop)");
            Map<String, Route> routes = new LinkedHashMap<>();
            List<Login> logins = new ArrayList<>();
            List<Path> dataDirs = new ArrayList<>();
            for (String line : banner) {
                Matcher m;
                if ((m = ROUTE.matcher(line)).matches()) {
                    routes.put(m.group(1), new Route(m.group(2), m.group(3), Integer.parseInt(m.group(5))));
                } else if ((m = URI.matcher(line)).matches()) {
                    logins.add(new Login(m.group(1), m.group(2), m.group(3), Integer.parseInt(m.group(4)),
                            m.group(5), m.group(6)));
                } else if ((m = DATA.matcher(line)).matches()) {
                    Arrays.stream(m.group(1).split(", ")).map(Path::of).forEach(dataDirs::add);
                }
            }
            // the admin console's line comes first
            Login console = logins.stream().filter(l -> l.database().equals("pgmux")).findFirst().orElseThrow();
            logins.remove(console);
            assertThat(console.user()).isEqualTo("admin");
            assertThat(routes).containsOnlyKeys("alice", "bob");
            assertThat(routes.get("alice").label()).isEqualTo("A");
            assertThat(routes.get("bob").label()).isEqualTo("B");
            assertThat(routes.get("alice").port()).isNotEqualTo(routes.get("bob").port()).isNotEqualTo(port);
            assertThat(logins).extracting(Login::user).containsExactly("alice", "bob");
            assertThat(logins).allSatisfy(login -> {
                assertThat(login.host()).isEqualTo("127.0.0.1");
                assertThat(login.port()).isEqualTo(port);
                assertThat(login.database()).isEqualTo("lab");
                assertThat(login.password()).hasSizeGreaterThanOrEqualTo(12);
            });
            assertThat(logins.get(0).password()).isNotEqualTo(logins.get(1).password());
            assertThat(dataDirs).hasSize(2).allSatisfy(dir -> assertThat(dir).isDirectory());

            for (Login login : logins) {
                Route route = routes.get(login.user());
                // The printed query, then what only the backend itself can tell: its port and the session's user.
                assertThat(queryThroughProxy(login, login.query())).isEqualTo(route.name());
                assertThat(queryThroughProxy(login, "select inet_server_port() || ' ' || current_user"))
                        .isEqualTo(route.port() + " " + login.user());
            }
            assertThat(queryThroughProxy(console, "show version")).startsWith("pgmux ");
            // Routing goes by user: alice's password is not bob's on bob's server.
            Login alice = logins.get(0);
            Login bobWithAlicesPassword = new Login("bob", alice.password(), alice.host(), alice.port(),
                    alice.database(), alice.query());
            try {
                queryThroughProxy(bobWithAlicesPassword, "select 1");
                fail("bob logged in with alice's password");
            } catch (SQLException e) {
                assertThat(e.getSQLState()).isEqualTo("28P01");
            }

            demo.process().destroy(); // SIGTERM
            assertThat(demo.process().waitFor(EXIT_TIMEOUT.toSeconds(), TimeUnit.SECONDS))
                    .as("demo exited within %s after SIGTERM; stderr:%n%s", EXIT_TIMEOUT, demo.stderr())
                    .isTrue();
            for (Path dir : dataDirs) {
                assertThat(dir).as("temporary data of a demo server").doesNotExist();
                awaitNoProcessMentioning(dir.toString());
            }
        } finally {
            demo.stop();
        }
    }

    @Test
    void aTakenPortFailsAtOnceWithOneLineNamingTheOption(@TempDir Path tmp) throws Exception {
        try (ServerSocket taken = new ServerSocket(0, 1, InetAddress.getByName("127.0.0.1"))) {
            Demo demo = Demo.start(tmp, "--port", Integer.toString(taken.getLocalPort()));
            try {
                assertThat(demo.process().waitFor(EXIT_TIMEOUT.toSeconds(), TimeUnit.SECONDS)).isTrue();
                assertThat(demo.process().exitValue()).isEqualTo(1);
                assertOneLineWithoutStackTrace(demo.stdout() + demo.stderr())
                        .contains("127.0.0.1:" + taken.getLocalPort())
                        .contains("--port");
            } finally {
                demo.stop();
            }
        }
    }

    @Test
    void missingPostgresBinariesFailWithOneLineSayingWhereToPointIt(@TempDir Path tmp) throws Exception {
        Path nowhere = tmp.resolve("no-postgres-here");
        Demo demo = Demo.start(tmp, nowhere, "--port", Integer.toString(freePort()));
        try {
            assertThat(demo.process().waitFor(EXIT_TIMEOUT.toSeconds(), TimeUnit.SECONDS)).isTrue();
            assertThat(demo.process().exitValue()).isEqualTo(1);
            assertOneLineWithoutStackTrace(demo.stdout() + demo.stderr())
                    .contains(nowhere.resolve("17").resolve("postgres.jar").toString())
                    .contains("-D" + Binaries.DIR_PROPERTY + "=");
        } finally {
            demo.stop();
        }
    }

    private static org.assertj.core.api.AbstractStringAssert<?> assertOneLineWithoutStackTrace(String output) {
        List<String> lines = output.lines().filter(l -> !l.isBlank()).toList();
        assertThat(lines).as("output: %s", output).hasSize(1);
        assertThat(output).doesNotContain("Exception").doesNotContain("at dev.pgmux");
        return assertThat(lines.getFirst()).startsWith("pgmux demo: ");
    }

    private static String queryThroughProxy(Login login, String sql) throws SQLException {
        Properties props = new Properties();
        props.setProperty("user", login.user());
        props.setProperty("password", login.password());
        props.setProperty("connectTimeout", "10");
        try (Connection c = DriverManager.getConnection(login.jdbcUrl(), props);
             Statement st = c.createStatement();
             ResultSet rs = st.executeQuery(sql)) {
            assertThat(rs.next()).isTrue();
            String value = rs.getString(1);
            assertThat(rs.next()).as("one row").isFalse();
            return value;
        }
    }

    /** The postmaster's command line names its data directory; after the demo exits, none may be left. */
    private static void awaitNoProcessMentioning(String dir) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        List<String> left;
        do {
            left = ProcessHandle.allProcesses()
                    .filter(p -> p.info().commandLine().map(c -> c.contains(dir)).orElse(false))
                    .map(p -> p.pid() + " " + p.info().commandLine().orElse(""))
                    .toList();
            if (left.isEmpty()) {
                return;
            }
            Thread.sleep(50);
        } while (System.nanoTime() < deadline);
        fail("processes of %s still running after the demo exited: %s", dir, left);
    }

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getByName("127.0.0.1"))) {
            return s.getLocalPort();
        }
    }

    /** The demo in a JVM of its own, started as {@code java -cp <test class path> dev.pgmux.cli.Main demo ...}. */
    record Demo(Process process, Path stdoutFile, Path stderrFile) {

        static Demo start(Path tmp, String... args) throws IOException {
            String dir = System.getProperty(Binaries.DIR_PROPERTY);
            return start(tmp, dir == null ? null : Path.of(dir), args);
        }

        static Demo start(Path tmp, Path postgresDir, String... args) throws IOException {
            List<String> command = new ArrayList<>(List.of(
                    Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                    "--enable-native-access=ALL-UNNAMED", "-XX:+UseSerialGC",
                    // The test class path holds logback-test.xml (logs to stdout); the demo's own config logs
                    // to stderr, and the banner must be alone on stdout.
                    "-Dlogback.configurationFile=logback.xml"));
            if (postgresDir != null) {
                command.add("-D" + Binaries.DIR_PROPERTY + "=" + postgresDir);
            }
            command.addAll(List.of("-cp", System.getProperty("java.class.path"), "dev.pgmux.cli.Main", "demo"));
            command.addAll(List.of(args));
            Path out = tmp.resolve("stdout");
            Path err = tmp.resolve("stderr");
            Process process = new ProcessBuilder(command)
                    .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")))
                    .redirectOutput(out.toFile())
                    .redirectError(err.toFile())
                    .start();
            return new Demo(process, out, err);
        }

        /** The lines on stdout once the banner is complete, that is once bob's psql line is there. */
        List<String> awaitBanner() throws IOException, InterruptedException {
            long deadline = System.nanoTime() + BANNER_TIMEOUT.toNanos();
            while (System.nanoTime() < deadline) {
                List<String> lines = stdout().lines().toList();
                if (lines.stream().anyMatch(l -> l.startsWith("  psql \"postgresql://bob:"))) {
                    return lines;
                }
                if (!process.isAlive()) {
                    fail("demo exited with %d before printing its banner; stdout:%n%s%nstderr:%n%s",
                            process.exitValue(), stdout(), stderr());
                }
                Thread.sleep(50);
            }
            return fail("no banner within %s; stdout:%n%s%nstderr:%n%s", BANNER_TIMEOUT, stdout(), stderr());
        }

        String stdout() throws IOException {
            return Files.readString(stdoutFile, StandardCharsets.UTF_8);
        }

        String stderr() throws IOException {
            return Files.readString(stderrFile, StandardCharsets.UTF_8);
        }

        /** SIGTERM, so that the demo's shutdown hooks stop its servers; SIGKILL only if that does not work. */
        void stop() throws InterruptedException {
            if (process.isAlive()) {
                process.destroy();
                if (!process.waitFor(EXIT_TIMEOUT.toSeconds(), TimeUnit.SECONDS)) {
                    process.destroyForcibly();
                }
            }
        }
    }
}
