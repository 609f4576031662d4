package dev.pgmux.compat;

import static org.assertj.core.api.Assertions.assertThat;

import dev.pgmux.AuthMode;
import dev.pgmux.BackendConfig;
import dev.pgmux.Limits;
import dev.pgmux.PoolConfig;
import dev.pgmux.PoolMode;
import dev.pgmux.ProxyServer;
import dev.pgmux.Secret;
import dev.pgmux.StaticRouter;
import dev.pgmux.TlsConfig;
import dev.pgmux.auth.ScramVerifier;
import dev.pgmux.compat.Matrix.Cell;
import dev.pgmux.compat.Matrix.Outcome;
import dev.pgmux.embedded.LocalPostgres;
import dev.pgmux.testing.TestCerts;
import dev.pgmux.testing.TestServers;
import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.function.Function;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The driver compatibility matrix, {@code docs/COMPATIBILITY.md}: each driver's check program (a real client: libpq's
 * psql and pgbench, pgjdbc, r2dbc-postgresql, vertx-pg-client, node-postgres, postgres.js, psycopg 3, asyncpg) run
 * against one pgmux in front of PostgreSQL 17, through a passthrough route, a session pool and a transaction pool
 * (each driver has pools of its own, so that the programs can run side by side).
 *
 * <p>First every driver's victim connects to each route and runs a long query, and the victims' processes are killed
 * (SIGKILL) once PostgreSQL runs all those queries; then the check programs run, four at a time, the first check of
 * each being a new client on the route where its victim died. Their lines ({@code PASS id}, {@code FAIL id reason},
 * {@code SKIP id reason}) become the matrix, which is written to the file when it differs from it. The test fails
 * when a cell marked ✔ in the file (as committed) is not ✔ now. A driver that is not installed is not run: its
 * cells are kept from the file, except in CI ({@code CI=true}), where that fails the test.
 */
class DriverMatrixIT {
    static final Path DOC = Path.of("docs", "COMPATIBILITY.md").toAbsolutePath();
    static final Path COMPAT = Path.of("compat").toAbsolutePath();
    static final Path LOGS = Path.of(System.getProperty("pgmux.postgres.dir", "target/postgres")).toAbsolutePath()
            .getParent().resolve("compat-logs");
    static final String POOL_PASSWORD = "compat_pw";
    static final int POOL_SIZE = 3;
    static final int PARALLEL = 4;
    static final Duration PROGRAM_TIMEOUT = Duration.ofMinutes(4);
    static final Duration VICTIMS_TIMEOUT = Duration.ofSeconds(60);
    static final boolean CI = "true".equals(System.getenv("CI"));

    /**
     * Why a cell is what it is, where the program's line does not say it well: by {@code check/mode/outcome} or
     * {@code driver/check/mode/outcome} ({@code *} for every mode). A failure without a note here gets the program's
     * reason; a cell that is not applicable gets the program's reason.
     */
    static final Map<String, String> NOTES = Map.of(
            "channel_binding/passthrough/FAIL", "By design. With `auth: passthrough` the client's SCRAM exchange is"
                    + " with the server, while its TLS ends at pgmux: no certificate is common to both ends, so pgmux"
                    + " offers no SCRAM-SHA-256-PLUS there (README, Limitations). On `auth: proxy` routes, as in the"
                    + " pooled modes, pgmux runs SCRAM itself and binds it to its own certificate.",
            "libpq/cancel/*/PASS", "psql's Ctrl-C (SIGINT) sends libpq's cancel request; a non-interactive psql then"
                    + " stops, so the next query is a new client's on the route.",
            "vertx/txn_error/*/PASS", "Vert.x ends a transaction itself at its first error: the next query fails in"
                    + " the client, not with the server's 25P02.");

    /** A column: how to run the driver's check program and its victim, and why it cannot run here (or null). */
    record Program(Matrix.Driver driver, Function<Target, List<String>> command,
                   Function<Target, List<String>> victim, String missing) {
        String id() {
            return driver.id();
        }
    }

    static LocalPostgres pg;
    static ProxyServer proxy;
    static String postgresVersion;

    static final List<Matrix.Driver> DRIVERS = List.of(
            new Matrix.Driver("libpq", "libpq (psql, pgbench)"),
            new Matrix.Driver("pgjdbc", "pgjdbc"),
            new Matrix.Driver("r2dbc", "r2dbc-postgresql"),
            new Matrix.Driver("vertx", "vertx-pg-client"),
            new Matrix.Driver("node_pg", "node-postgres"),
            new Matrix.Driver("postgresjs", "postgres.js"),
            new Matrix.Driver("psycopg", "psycopg 3"),
            new Matrix.Driver("asyncpg", "asyncpg"));

    @BeforeAll
    static void start() throws Exception {
        pg = TestServers.pg17();
        try (Connection c = pg.connect("postgres", TestServers.SUPERUSER, TestServers.SUPERUSER_PASSWORD);
             Statement s = c.createStatement(); ResultSet rs = s.executeQuery("show server_version")) {
            rs.next();
            postgresVersion = rs.getString(1).split(" ")[0];
        }
        StaticRouter router = StaticRouter.empty().put(TestServers.ALICE,
                BackendConfig.builder().host(pg.host()).port(pg.port()).build());
        for (Matrix.Driver d : DRIVERS) {
            router.put(user(d.id(), Mode.SESSION), pooled(PoolMode.SESSION));
            router.put(user(d.id(), Mode.TRANSACTION), pooled(PoolMode.TRANSACTION));
        }
        // One event loop: a pool's servers all serve every client of the route, so a client's transactions move
        // between them (with more loops, each loop has its share of the pool).
        proxy = new ProxyServer("127.0.0.1:0", router)
                .withTls(TlsConfig.fromPemFiles(TestCerts.serverCert(), TestCerts.serverKey()))
                .withThreads(1)
                .withLimits(Limits.DEFAULT.withBackendConnectTimeout(Duration.ofSeconds(5)))
                .start();
        Files.createDirectories(LOGS);
    }

    /** A pool of the driver's own (the verifier's random salt makes each route's backend, and so its pool, distinct). */
    static BackendConfig pooled(PoolMode mode) {
        return BackendConfig.builder().host(pg.host()).port(pg.port()).user(TestServers.ALICE).auth(AuthMode.PROXY)
                .clientCredential(ScramVerifier.generate(POOL_PASSWORD.toCharArray()).text())
                .password(Secret.of(TestServers.ALICE_PASSWORD))
                .pool(PoolConfig.builder().mode(mode).size(POOL_SIZE).waitTimeout(Duration.ofSeconds(20))
                        .idleTimeout(Duration.ofSeconds(10)).build())
                .build();
    }

    @AfterAll
    static void stop() {
        if (proxy != null) {
            proxy.close(Duration.ofSeconds(2));
        }
    }

    static String user(String driver, Mode mode) {
        return switch (mode) {
            case PASSTHROUGH -> TestServers.ALICE;
            case SESSION -> "s_" + driver;
            case TRANSACTION -> "t_" + driver;
        };
    }

    static Target target(String driver, Mode mode, boolean killed) {
        return new Target("127.0.0.1", proxy.port(), user(driver, mode),
                mode == Mode.PASSTHROUGH ? TestServers.ALICE_PASSWORD : POOL_PASSWORD, TestServers.LAB,
                driver + "_" + mode.id.charAt(0), true, killed, false);
    }

    // ------------------------------------------------------------------------------------------------ the drivers

    /** {@link JavaDriverMain} in a JVM of its own, with the test class path; small and quick to start. */
    static List<String> javaMain(List<String> args) {
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-Xmx256m", "-XX:-UsePerfData",
                "-cp", System.getProperty("java.class.path"), JavaDriverMain.class.getName()));
        cmd.addAll(args);
        return cmd;
    }

    static List<String> java(String driver, Target t) {
        List<String> args = new ArrayList<>(List.of(driver));
        args.addAll(t.args());
        return javaMain(args);
    }

    static List<String> with(List<String> head, Target t) {
        List<String> cmd = new ArrayList<>(head);
        cmd.addAll(t.args());
        return cmd;
    }

    static List<Program> programs() throws Exception {
        String libpq = NodePackages.onPath("psql") && NodePackages.onPath("pgbench") ? null
                : "psql and pgbench are not installed (Debian: postgresql-client)";
        String node = NodePackages.install();
        String psycopg = python("psycopg");
        String asyncpg = python("asyncpg");
        List<Program> all = new ArrayList<>();
        for (Matrix.Driver d : DRIVERS) {
            all.add(switch (d.id()) {
                case "libpq" -> new Program(d, t -> java("libpq", t),
                        t -> List.of("psql", "-X", "-d", t.url() + "?sslmode=disable", "-c", Target.victimQuery(t.tag())),
                        libpq);
                case "pgjdbc", "r2dbc", "vertx" -> new Program(d, t -> java(d.id(), t), null, null);
                case "node_pg" -> new Program(d, t -> with(List.of("node", "node/node_postgres.js"), t),
                        t -> with(List.of("node", "node/node_postgres.js"), t), node);
                case "postgresjs" -> new Program(d, t -> with(List.of("node", "node/postgres_js.mjs"), t),
                        t -> with(List.of("node", "node/postgres_js.mjs"), t), node);
                case "psycopg" -> new Program(d, t -> with(List.of(psycopg, "python/psycopg_check.py"), t),
                        t -> with(List.of(psycopg, "python/psycopg_check.py"), t),
                        psycopg == null ? "psycopg 3 is not installed (Debian: python3-psycopg)" : null);
                case "asyncpg" -> new Program(d, t -> with(List.of(asyncpg, "python/asyncpg_check.py"), t),
                        t -> with(List.of(asyncpg, "python/asyncpg_check.py"), t),
                        asyncpg == null ? "asyncpg is not installed (Debian: python3-asyncpg)" : null);
                default -> throw new IllegalStateException(d.id());
            });
        }
        return all;
    }

    /** A Python 3 that has the module: Debian's, else the one on the PATH; null if neither. */
    static String python(String module) throws Exception {
        for (String candidate : List.of("/usr/bin/python3", "python3")) {
            if (candidate.startsWith("/") && !Files.isExecutable(Path.of(candidate))) {
                continue;
            }
            try {
                if (ProgramRun.run(Duration.ofSeconds(30), candidate, "-c", "import " + module).ok()) {
                    return candidate;
                }
            } catch (java.io.IOException notThere) {
                // next candidate
            }
        }
        return null;
    }

    // ------------------------------------------------------------------------------------------------ the run

    @Test
    void everyDriverThroughEveryMode() throws Exception {
        long t0 = System.nanoTime();
        List<Program> programs = programs();
        List<Program> runnable = programs.stream().filter(p -> p.missing() == null).toList();
        for (Program p : programs) {
            if (p.missing() != null) {
                log("%s not run: %s", p.driver().title(), p.missing());
            }
        }

        Map<String, String> victimProblems = killVictims(runnable);
        log("victims killed after %.1f s", seconds(t0));

        Matrix fresh = new Matrix(DRIVERS, postgresVersion);
        try (ExecutorService threads = Executors.newFixedThreadPool(PARALLEL)) {
            Map<String, Future<ProgramRun>> runs = new LinkedHashMap<>();
            for (Mode mode : Mode.values()) {
                for (Program p : runnable) {
                    Target t = target(p.id(), mode, true);
                    runs.put(p.id() + "/" + mode.id, threads.submit(() -> ProgramRun.run(COMPAT, PROGRAM_TIMEOUT,
                            p.command().apply(t), Map.of())));
                }
            }
            for (Mode mode : Mode.values()) {
                for (Program p : runnable) {
                    ProgramRun run = runs.get(p.id() + "/" + mode.id).get();
                    Files.writeString(LOGS.resolve(p.id() + "-" + mode.id + ".log"), run.describe());
                    Map<Check, Cell> cells = judge(p.id(), mode, run, victimProblems.get(target(p.id(), mode, true).tag()));
                    cells.forEach((check, cell) -> fresh.put(mode, check, p.id(), cell));
                    fresh.versions.putIfAbsent(p.id(), versions(run));
                    long passed = cells.values().stream().filter(c -> c.outcome() == Outcome.PASS).count();
                    log("%-22s %-12s %2d passed in %5.1f s%s", p.driver().title(), mode.id, passed,
                            run.took().toMillis() / 1000.0, failures(cells));
                }
            }
        } finally {
            terminateVictims();
        }
        log("all programs ran after %.1f s", seconds(t0));

        String committedText = Files.exists(DOC) ? Files.readString(DOC) : null;
        Matrix committed = committedText == null ? new Matrix(DRIVERS, postgresVersion)
                : Matrix.parse(committedText, DRIVERS);
        List<String> missingInCi = new ArrayList<>();
        for (Program p : programs) {
            if (p.missing() == null) {
                continue;
            }
            if (CI) {
                missingInCi.add(p.driver().title() + ": " + p.missing());
            }
            fresh.keep(committed, p.id()); // a machine without the driver says nothing new about it
        }
        String markdown = fresh.markdown();
        if (!markdown.equals(committedText)) {
            Files.createDirectories(DOC.getParent());
            Files.writeString(DOC, markdown, StandardCharsets.UTF_8);
            log("%s rewritten: it differed from this run", DOC);
        }

        List<String> regressions = committed.lostPasses(fresh, runnable.stream().map(Program::driver).toList());
        assertThat(missingInCi).as("drivers that CI must run").isEmpty();
        assertThat(regressions).as("cells marked ✔ in docs/COMPATIBILITY.md that failed (logs in " + LOGS + ")")
                .isEmpty();
    }

    private static final Pattern LINE = Pattern.compile("^(PASS|FAIL|SKIP) (\\S+)(?: (.*))?$");
    private static final Pattern SERVERS = Pattern.compile("servers=(\\d+)");

    /** The cells of one program run. */
    static Map<Check, Cell> judge(String driver, Mode mode, ProgramRun run, String victimProblem) {
        Map<String, List<String[]>> byId = new HashMap<>();
        for (String line : run.lines()) {
            Matcher m = LINE.matcher(line);
            if (m.matches()) {
                byId.computeIfAbsent(m.group(2), k -> new ArrayList<>())
                        .add(new String[] {m.group(1), m.group(3) == null ? "" : m.group(3)});
            }
        }
        Map<Check, Cell> cells = new LinkedHashMap<>();
        for (Check check : Check.values()) {
            List<String[]> lines = byId.get(check.id);
            Outcome outcome;
            String reason = null;
            if (check == Check.KILLED && victimProblem != null) {
                outcome = Outcome.FAIL;
                reason = victimProblem;
            } else if (lines == null) {
                outcome = Outcome.FAIL;
                reason = run.timedOut() ? "the program hung before this check"
                        : "the program exited (" + run.exit() + ") before this check";
            } else if (lines.stream().anyMatch(l -> l[0].equals("FAIL"))) {
                outcome = Outcome.FAIL;
                reason = lines.stream().filter(l -> l[0].equals("FAIL")).findFirst().orElseThrow()[1];
            } else if (lines.stream().allMatch(l -> l[0].equals("SKIP"))) {
                outcome = Outcome.NOT_APPLICABLE;
                reason = lines.get(0)[1];
            } else {
                outcome = Outcome.PASS;
                Matcher servers = SERVERS.matcher(lines.get(0)[1]);
                if (mode == Mode.TRANSACTION && servers.find() && Integer.parseInt(servers.group(1)) < 2) {
                    outcome = Outcome.FAIL;
                    reason = "the check's transactions all ran on one server connection, so it proved nothing";
                }
            }
            String note = NOTES.get(driver + "/" + check.id + "/" + mode.id + "/" + outcome);
            note = note != null ? note : NOTES.get(driver + "/" + check.id + "/*/" + outcome);
            note = note != null ? note : NOTES.get(check.id + "/" + mode.id + "/" + outcome);
            if (note == null && outcome != Outcome.PASS) {
                note = outcome == Outcome.FAIL ? "Failed: " + reason + "." : reason + ".";
            }
            cells.put(check, new Cell(outcome, note == null ? null : note.replace("|", "\\|")));
        }
        return cells;
    }

    /** "pgjdbc 42.7.14", from the program's VERSION lines. */
    static String versions(ProgramRun run) {
        List<String> parts = new ArrayList<>();
        for (String line : run.lines()) {
            if (line.startsWith("VERSION ")) {
                parts.add(line.substring("VERSION ".length()).trim());
            }
        }
        return parts.isEmpty() ? "unknown" : String.join(", ", parts);
    }

    static String failures(Map<Check, Cell> cells) {
        StringBuilder sb = new StringBuilder();
        cells.forEach((check, cell) -> {
            if (cell.outcome() == Outcome.FAIL) {
                sb.append("\n      ✘ ").append(check.id).append(": ").append(cell.note());
            }
        });
        return sb.toString();
    }

    // ------------------------------------------------------------------------------------------------ victims

    /**
     * Starts a victim per driver and route, waits until PostgreSQL runs all their queries and kills them (SIGKILL).
     * The Java drivers' victims share one JVM.
     *
     * @return by tag, why a victim did not die mid-query (only those that did not)
     */
    static Map<String, String> killVictims(List<Program> runnable) throws Exception {
        List<Process> processes = new ArrayList<>();
        Map<String, Process> byTag = new HashMap<>();
        List<String> javaVictims = new ArrayList<>();
        List<String> javaTags = new ArrayList<>();
        Set<String> tags = new HashSet<>();
        File devNull = new File("/dev/null");
        try {
            for (Mode mode : Mode.values()) {
                for (Program p : runnable) {
                    Target t = target(p.id(), mode, false).asVictim();
                    tags.add(t.tag());
                    if (p.victim() == null) {
                        javaVictims.addAll(List.of(p.id(), t.tag(), t.url()));
                        javaTags.add(t.tag());
                        continue;
                    }
                    ProcessBuilder pb = new ProcessBuilder(p.victim().apply(t)).directory(COMPAT.toFile())
                            .redirectOutput(LOGS.resolve("victim-" + t.tag() + ".log").toFile())
                            .redirectErrorStream(true).redirectInput(devNull);
                    pb.environment().keySet().removeIf(name -> name.startsWith("PG"));
                    Process victim = pb.start();
                    processes.add(victim);
                    byTag.put(t.tag(), victim);
                }
            }
            if (!javaVictims.isEmpty()) {
                List<String> args = new ArrayList<>(List.of("--victims"));
                args.addAll(javaVictims);
                Process victims = new ProcessBuilder(javaMain(args))
                        .redirectOutput(LOGS.resolve("victims-java.log").toFile())
                        .redirectErrorStream(true).redirectInput(devNull).start();
                processes.add(victims);
                javaTags.forEach(tag -> byTag.put(tag, victims));
            }
            Set<String> running = new HashSet<>();
            long deadline = System.nanoTime() + VICTIMS_TIMEOUT.toNanos();
            // until every victim's query runs, or its process has ended (it failed and will not run it)
            while (System.nanoTime() < deadline
                    && !tags.stream().allMatch(tag -> running.contains(tag) || !byTag.get(tag).isAlive())) {
                running.addAll(runningVictims());
                Thread.sleep(200);
            }
            Map<String, String> problems = new HashMap<>();
            for (String tag : tags) {
                if (!running.contains(tag)) {
                    problems.put(tag, "the killed client's query never ran (see compat-logs/victim*.log)");
                }
            }
            return problems;
        } finally {
            for (Process p : processes) {
                ProgramRun.kill(p);
            }
        }
    }

    private static final Pattern VICTIM = Pattern.compile("compat-victim (\\S+) \\*/");

    static Set<String> runningVictims() throws Exception {
        Set<String> tags = new HashSet<>();
        try (Connection c = pg.connect("postgres", TestServers.SUPERUSER, TestServers.SUPERUSER_PASSWORD);
             Statement s = c.createStatement();
             ResultSet rs = s.executeQuery("select query from pg_stat_activity where state = 'active'"
                     + " and query like '%compat-victim%' and pid <> pg_backend_pid()")) {
            while (rs.next()) {
                Matcher m = VICTIM.matcher(rs.getString(1));
                if (m.find()) {
                    tags.add(m.group(1));
                }
            }
        }
        return tags;
    }

    /** The victims' queries run on after their clients died (PostgreSQL notices only when it writes to them). */
    static void terminateVictims() throws Exception {
        try (Connection c = pg.connect("postgres", TestServers.SUPERUSER, TestServers.SUPERUSER_PASSWORD);
             Statement s = c.createStatement()) {
            s.execute("select pg_terminate_backend(pid) from pg_stat_activity where query like '%compat-victim%'"
                    + " and pid <> pg_backend_pid()");
        }
    }

    static double seconds(long since) {
        return (System.nanoTime() - since) / 1e9;
    }

    static void log(String format, Object... args) {
        System.out.println("DriverMatrixIT: " + String.format(format, args));
    }
}
