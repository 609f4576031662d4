package dev.pgmux.console;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.pgmux.AdminActions;
import dev.pgmux.AuthMode;
import dev.pgmux.BackendConfig;
import dev.pgmux.ConsoleConfig;
import dev.pgmux.PoolConfig;
import dev.pgmux.PoolMode;
import dev.pgmux.ProxyServer;
import dev.pgmux.Secret;
import dev.pgmux.StaticRouter;
import dev.pgmux.auth.ScramVerifier;
import dev.pgmux.embedded.LocalPostgres;
import dev.pgmux.testing.TestServers;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.ResultSetMetaData;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.postgresql.util.PSQLException;
import com.ongres.scram.client.ScramClient;
import dev.pgmux.testing.RawClient;

/**
 * The admin console against a live pgmux with a passthrough route, a session pool and a transaction pool: every
 * SHOW with PgBouncer 1.25's columns, every action, who may do what, and the queries PgBouncer's exporters send.
 */
class ConsoleIT {
    static final String ADMIN = "ops";
    static final String ADMIN_PASSWORD = "ops_pw";
    static final String STATS = "watcher";
    static final String STATS_PASSWORD = "watcher_pw";
    static final String POOL_PASSWORD = "pool_pw";

    static LocalPostgres pg;
    static ProxyServer proxy;
    static final AtomicInteger reloads = new AtomicInteger();
    static final AtomicInteger shutdowns = new AtomicInteger();
    static ExecutorService threads = Executors.newCachedThreadPool();
    @TempDir
    static Path tmp;

    @BeforeAll
    static void start() throws Exception {
        pg = TestServers.pg17();
        Path authFile = tmp.resolve("userlist.txt");
        Files.writeString(authFile, "\"" + ADMIN + "\" \"" + ScramVerifier.generate(ADMIN_PASSWORD.toCharArray()).text()
                + "\"\n\"" + STATS + "\" \"" + STATS_PASSWORD + "\"\n\"stranger\" \"stranger_pw\"\n");
        String verifier = ScramVerifier.generate(POOL_PASSWORD.toCharArray()).text();
        StaticRouter router = StaticRouter.empty()
                .put(TestServers.ALICE, BackendConfig.builder().host(pg.host()).port(pg.port()).build())
                .put("sess", pooled(verifier, PoolConfig.builder().mode(PoolMode.SESSION).size(2)))
                .put("txn", pooled(verifier, PoolConfig.builder().mode(PoolMode.TRANSACTION).size(2)
                        .waitTimeout(Duration.ofSeconds(20))).toBuilder().database(TestServers.LAB).build())
                // the same backend user and database as "sess", in another pool: its name gets "#2"
                .put("txn2", pooled(verifier, PoolConfig.builder().mode(PoolMode.TRANSACTION).size(1)));
        proxy = new ProxyServer("127.0.0.1:0", router)
                .withAuthFile(authFile)
                .withConsole(ConsoleConfig.of(java.util.Set.of(ADMIN), java.util.Set.of(STATS)))
                .withAdminActions(new AdminActions() {
                    @Override
                    public String reload() {
                        reloads.incrementAndGet();
                        return "nothing changed";
                    }

                    @Override
                    public void shutdown() {
                        shutdowns.incrementAndGet();
                    }
                })
                .start();
    }

    static BackendConfig pooled(String verifier, PoolConfig.Builder pool) {
        return BackendConfig.builder().host(pg.host()).port(pg.port()).user(TestServers.ALICE).database("postgres")
                .auth(AuthMode.PROXY).clientCredential(verifier).password(Secret.of(TestServers.ALICE_PASSWORD))
                .pool(pool.build()).build();
    }

    @AfterAll
    static void stop() {
        threads.shutdownNow();
        if (proxy != null) {
            proxy.close(Duration.ofSeconds(2));
        }
    }

    @AfterEach
    void liftHolds() throws Exception {
        try (Connection c = console(ADMIN, ADMIN_PASSWORD, true); Statement s = c.createStatement()) {
            for (String sql : List.of("RESUME", "RESUME lab", "RESUME " + pg.host() + ":" + pg.port(), "ENABLE alice")) {
                try {
                    s.execute(sql);
                } catch (SQLException e) {
                    // not held
                }
            }
        }
    }

    static Connection console(String user, String password, boolean simple) throws SQLException {
        Properties p = new Properties();
        p.setProperty("user", user);
        p.setProperty("password", password);
        p.setProperty("sslmode", "disable");
        p.setProperty("connectTimeout", "10");
        p.setProperty("socketTimeout", "30");
        if (simple) {
            p.setProperty("preferQueryMode", "simple");
        }
        return DriverManager.getConnection("jdbc:postgresql://127.0.0.1:" + proxy.port() + "/pgmux", p);
    }

    static Connection client(String user) throws SQLException {
        Properties p = new Properties();
        p.setProperty("user", user);
        p.setProperty("password", user.equals(TestServers.ALICE) ? TestServers.ALICE_PASSWORD : POOL_PASSWORD);
        p.setProperty("sslmode", "disable");
        p.setProperty("connectTimeout", "10");
        p.setProperty("socketTimeout", "30");
        p.setProperty("ApplicationName", "console-it-" + user);
        p.setProperty("assumeMinServerVersion", "9.0"); // application_name in the startup message
        return DriverManager.getConnection("jdbc:postgresql://127.0.0.1:" + proxy.port() + "/postgres", p);
    }

    /** Rows of a console query as maps of column name to text. */
    static List<Map<String, String>> rows(Connection c, String sql) throws SQLException {
        List<Map<String, String>> out = new ArrayList<>();
        try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery(sql)) {
            ResultSetMetaData md = rs.getMetaData();
            while (rs.next()) {
                Map<String, String> row = new LinkedHashMap<>();
                for (int i = 1; i <= md.getColumnCount(); i++) {
                    row.put(md.getColumnName(i), rs.getString(i));
                }
                out.add(row);
            }
        }
        return out;
    }

    static String one(Connection c, String sql) throws SQLException {
        try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery(sql)) {
            assertThat(rs.next()).isTrue();
            return rs.getString(1);
        }
    }

    @Test
    void everyShowHasPgBouncersColumnsAndTypes() throws Exception {
        Map<String, List<String>> expected = new LinkedHashMap<>();
        for (String line : Files.readAllLines(Path.of("src/test/resources/console/pgbouncer-1.25.2-columns.tsv"))) {
            if (line.startsWith("#") || line.isBlank()) {
                continue;
            }
            String[] f = line.split("\t");
            String type = switch (f[2]) {
                case "25" -> "text";
                case "23" -> "int4";
                case "20" -> "int8";
                case "1700" -> "numeric";
                default -> throw new IllegalStateException(line);
            };
            expected.computeIfAbsent(f[0], k -> new ArrayList<>()).add(f[1] + ":" + type);
        }
        assertThat(expected).hasSizeGreaterThanOrEqualTo(13);
        for (boolean simple : new boolean[] {true, false}) {
            try (Connection c = console(STATS, STATS_PASSWORD, simple); Statement s = c.createStatement()) {
                for (var e : expected.entrySet()) {
                    try (ResultSet rs = s.executeQuery(e.getKey())) {
                        ResultSetMetaData md = rs.getMetaData();
                        List<String> got = new ArrayList<>();
                        for (int i = 1; i <= md.getColumnCount(); i++) {
                            got.add(md.getColumnName(i) + ":" + md.getColumnTypeName(i));
                        }
                        assertThat(got).as(e.getKey() + (simple ? " (simple)" : " (extended)"))
                                .isEqualTo(e.getValue());
                    }
                }
            }
        }
    }

    @Test
    void showsListPooledAndPassthroughClientsAndServers() throws Exception {
        try (Connection alice = client(TestServers.ALICE); Connection sess = client("sess");
             Connection txn = client("txn"); Connection c = console(ADMIN, ADMIN_PASSWORD, true)) {
            one(alice, "select 1");
            one(sess, "select 1");
            txn.setAutoCommit(false);
            one(txn, "select 1"); // holds its server: a transaction is open
            String alicePool = "alice@postgres/" + pg.host() + ":" + pg.port();
            String pooledName = "alice@lab/" + pg.host() + ":" + pg.port();
            try (Connection txn2 = client("txn2")) {
                one(txn2, "select 1");
            }

            Map<String, String> modes = new HashMap<>();
            for (Map<String, String> r : rows(c, "SHOW POOLS")) {
                modes.put(r.get("database") + " " + r.get("pool_mode"), r.get("cl_active") + "/" + r.get("sv_active"));
            }
            assertThat(modes).containsKeys(alicePool + " passthrough", alicePool + " session",
                    pooledName + " transaction", alicePool + "#2 transaction");
            assertThat(modes.get(pooledName + " transaction")).isEqualTo("1/1");

            List<Map<String, String>> clients = rows(c, "SHOW CLIENTS");
            assertThat(clients).extracting(r -> r.get("application_name"))
                    .contains("console-it-alice", "console-it-sess", "console-it-txn");
            assertThat(clients).filteredOn(r -> "console-it-txn".equals(r.get("application_name")))
                    .singleElement().satisfies(r -> {
                        assertThat(r.get("state")).isEqualTo("active");
                        assertThat(r.get("type")).isEqualTo("C");
                        assertThat(r.get("link")).startsWith("0x");
                        assertThat(r.get("database")).isEqualTo(pooledName);
                    });
            assertThat(clients).filteredOn(r -> "pgmux".equals(r.get("database"))).isNotEmpty();

            List<Map<String, String>> servers = rows(c, "SHOW SERVERS");
            assertThat(servers).extracting(r -> r.get("type")).containsOnly("S");
            assertThat(servers).filteredOn(r -> "active".equals(r.get("state"))).hasSizeGreaterThanOrEqualTo(3);
            assertThat(servers).allSatisfy(r -> assertThat(Integer.parseInt(r.get("remote_pid"))).isPositive());
            String txnPid = one(txn, "select pg_backend_pid()");
            assertThat(servers).extracting(r -> r.get("remote_pid")).contains(txnPid);

            assertThat(rows(c, "SHOW DATABASES")).extracting(r -> r.get("name")).contains(alicePool);
            assertThat(rows(c, "SHOW STATS")).extracting(r -> r.get("database")).isNotEmpty();
            // the transaction pool's totals, from its counters: what txn has done so far shows
            assertThat(rows(c, "SHOW STATS")).filteredOn(r -> r.get("database").equals(pooledName)).singleElement()
                    .satisfies(r -> {
                        assertThat(Long.parseLong(r.get("total_query_count"))).isPositive();
                        assertThat(Long.parseLong(r.get("total_server_assignment_count"))).isPositive();
                        assertThat(Long.parseLong(r.get("total_received"))).isPositive();
                        assertThat(Long.parseLong(r.get("total_sent"))).isPositive();
                        assertThat(Long.parseLong(r.get("total_query_time"))).isPositive();
                    });
            assertThat(rows(c, "SHOW STATS_TOTALS")).isNotEmpty();
            assertThat(rows(c, "SHOW STATS_AVERAGES")).isNotEmpty();
            assertThat(rows(c, "SHOW TOTALS")).extracting(r -> r.get("name")).contains("total_xact_count");
            assertThat(rows(c, "SHOW LISTS")).extracting(r -> r.get("list"))
                    .containsExactly("databases", "users", "peers", "pools", "peer_pools", "free_clients",
                            "used_clients", "login_clients", "free_servers", "used_servers", "dns_names", "dns_zones",
                            "dns_queries", "dns_pending");
            assertThat(rows(c, "SHOW STATE")).extracting(r -> r.get("key") + "=" + r.get("value"))
                    .containsExactly("active=yes", "paused=no", "suspended=no");
            assertThat(one(c, "SHOW VERSION")).startsWith("pgmux ");
            assertThat(rows(c, "SHOW CONFIG")).extracting(r -> r.get("key")).contains("admin_users", "stats_users");
            assertThat(rows(c, "SHOW USERS")).extracting(r -> r.get("name")).contains("alice", "sess", "txn");
            assertThat(rows(c, "show routes;")).extracting(r -> r.get("name") + " " + r.get("pool_mode"))
                    .contains("alice none", "sess session", "txn transaction");
            rows(c, "SHOW PINS");
            txn.commit();
        }
    }

    @Test
    void pauseHoldsQueriesAndResumeReleasesThem() throws Exception {
        try (Connection txn = client("txn"); Connection c = console(ADMIN, ADMIN_PASSWORD, true);
             Statement admin = c.createStatement()) {
            one(txn, "select 1");
            txn.setAutoCommit(false);
            one(txn, "select 2"); // in a transaction: PAUSE waits for it
            Future<?> pause = threads.submit(() -> {
                admin.execute("PAUSE lab");
                return null;
            });
            assertThatThrownBy(() -> pause.get(500, TimeUnit.MILLISECONDS)).isInstanceOf(TimeoutException.class);
            txn.commit(); // the server comes back: closed, and PAUSE answers
            pause.get(10, TimeUnit.SECONDS);
            txn.setAutoCommit(true);

            try (Connection watcher = console(STATS, STATS_PASSWORD, true)) {
                assertThat(rows(watcher, "SHOW DATABASES")).filteredOn(r -> r.get("database").equals("lab"))
                        .singleElement().satisfies(r -> assertThat(r.get("paused")).isEqualTo("1"));
                assertThat(rows(watcher, "SHOW DATABASES")).filteredOn(r -> r.get("database").equals("postgres"))
                        .allSatisfy(r -> assertThat(r.get("paused")).isEqualTo("0"));
            }
            Future<String> held = threads.submit(() -> one(txn, "select 'after resume'"));
            assertThatThrownBy(() -> held.get(1, TimeUnit.SECONDS)).isInstanceOf(TimeoutException.class);
            try (Connection watcher = console(STATS, STATS_PASSWORD, true)) {
                assertThat(rows(watcher, "SHOW CLIENTS")).filteredOn(r -> "console-it-txn".equals(r.get("application_name")))
                        .singleElement().satisfies(r -> assertThat(r.get("state")).isEqualTo("waiting"));
            }
            admin.execute("RESUME lab");
            assertThat(held.get(10, TimeUnit.SECONDS)).isEqualTo("after resume");
        }
    }

    @Test
    void pauseOfAPassthroughBackendHoldsNewLogins() throws Exception {
        try (Connection c = console(ADMIN, ADMIN_PASSWORD, true); Statement admin = c.createStatement()) {
            admin.execute("PAUSE " + pg.host() + ":" + pg.port()); // every backend on that host
            assertThat(one(c, "SHOW STATE")).isNotNull();
            Future<String> login = threads.submit(() -> {
                try (Connection alice = client(TestServers.ALICE)) {
                    return one(alice, "select 'in'");
                }
            });
            assertThatThrownBy(() -> login.get(1, TimeUnit.SECONDS)).isInstanceOf(TimeoutException.class);
            admin.execute("RESUME " + pg.host() + ":" + pg.port());
            assertThat(login.get(10, TimeUnit.SECONDS)).isEqualTo("in");
            assertThatThrownBy(() -> admin.execute("RESUME " + pg.host()))
                    .isInstanceOf(PSQLException.class).hasMessageContaining("not paused")
                    .satisfies(e -> assertThat(((PSQLException) e).getSQLState()).isEqualTo("55000"));
        }
    }

    @Test
    void statsUsersMayOnlyLook() throws Exception {
        int reloadsBefore = reloads.get();
        int shutdownsBefore = shutdowns.get();
        try (Connection c = console(STATS, STATS_PASSWORD, true); Statement s = c.createStatement()) {
            assertThat(rows(c, "SHOW POOLS")).isNotNull();
            for (String action : List.of("PAUSE", "RESUME", "RECONNECT", "KILL txn", "KILL_CLIENT 1", "RELOAD",
                    "SHUTDOWN", "WAIT_CLOSE", "DISABLE alice", "ENABLE alice")) {
                assertThatThrownBy(() -> s.execute(action)).as(action).isInstanceOf(PSQLException.class)
                        .satisfies(e -> assertThat(((PSQLException) e).getSQLState()).isEqualTo("42501"));
            }
            assertThat(one(c, "SHOW STATE")).isEqualTo("active");
        }
        assertThat(reloads.get()).isEqualTo(reloadsBefore);
        assertThat(shutdowns.get()).isEqualTo(shutdownsBefore);
    }

    @Test
    void wrongPasswordsAndUnlistedUsersGet28P01() {
        for (String[] login : List.of(new String[] {ADMIN, "wrong"}, new String[] {STATS, "wrong"},
                new String[] {"stranger", "stranger_pw"}, new String[] {"nobody", "x"})) {
            assertThatThrownBy(() -> console(login[0], login[1], true).close()).as(login[0])
                    .isInstanceOf(PSQLException.class)
                    .satisfies(e -> assertThat(((PSQLException) e).getSQLState()).isEqualTo("28P01"));
        }
    }

    @Test
    void answersAsAServerWould() throws Exception {
        try (Connection c = console(ADMIN, ADMIN_PASSWORD, true); Statement s = c.createStatement()) {
            assertThatThrownBy(() -> s.execute("select 1")).isInstanceOf(PSQLException.class)
                    .satisfies(e -> assertThat(((PSQLException) e).getSQLState()).isEqualTo("42601"))
                    .hasMessageContaining("invalid command 'select 1', use SHOW HELP;");
            assertThatThrownBy(() -> s.execute("SHOW nonsense")).isInstanceOf(PSQLException.class)
                    .satisfies(e -> assertThat(((PSQLException) e).getSQLState()).isEqualTo("42601"));
            assertThatThrownBy(() -> s.execute("KILL_CLIENT 999999")).isInstanceOf(PSQLException.class)
                    .satisfies(e -> assertThat(((PSQLException) e).getSQLState()).isEqualTo("42704"));
            s.execute("SET extra_float_digits = 3"); // what pgjdbc and others send at login
            s.execute("SHOW HELP");
            assertThat((Object) s.getWarnings()).isNotNull();
            assertThat(s.getWarnings().getMessage()).contains("SHOW");
            int before = reloads.get();
            s.execute("RELOAD");
            assertThat(reloads.get()).isEqualTo(before + 1);
            // two statements in one query string, as psql -c sends them
            assertThat(s.execute("SHOW VERSION; SHOW STATE")).isTrue();
            s.execute("RECONNECT");
            s.execute("WAIT_CLOSE");
            s.execute("DISABLE alice");
            assertThatThrownBy(() -> client(TestServers.ALICE).close()).isInstanceOf(PSQLException.class)
                    .satisfies(e -> assertThat(((PSQLException) e).getSQLState()).isEqualTo("55000"));
            s.execute("ENABLE alice");
            try (Connection alice = client(TestServers.ALICE)) {
                assertThat(one(alice, "select 1")).isEqualTo("1");
            }
        }
    }

    @Test
    void reconnectReplacesServersAndWaitCloseWaitsForThem() throws Exception {
        try (Connection sess = client("sess"); Connection c = console(ADMIN, ADMIN_PASSWORD, true);
             Statement admin = c.createStatement()) {
            String before = one(sess, "select pg_backend_pid()");
            admin.execute("RECONNECT \"alice@postgres/" + pg.host() + ":" + pg.port() + "\"");
            assertThat(rows(c, "SHOW SERVERS")).filteredOn(r -> r.get("remote_pid").equals(before))
                    .singleElement().satisfies(r -> assertThat(r.get("close_needed")).isEqualTo("1"));
            Future<?> waitClose = threads.submit(() -> {
                admin.execute("WAIT_CLOSE");
                return null;
            });
            assertThatThrownBy(() -> waitClose.get(500, TimeUnit.MILLISECONDS)).isInstanceOf(TimeoutException.class);
            sess.close(); // its server comes back and is closed
            waitClose.get(10, TimeUnit.SECONDS);
            try (Connection again = client("sess")) {
                assertThat(one(again, "select pg_backend_pid()")).isNotEqualTo(before);
            }
        }
    }

    @Test
    void killEndsClientsAndHoldsNewOnesUntilResume() throws Exception {
        Connection victim = client("txn");
        one(victim, "select 1");
        try (Connection c = console(ADMIN, ADMIN_PASSWORD, false); Statement admin = c.createStatement()) {
            admin.execute("KILL lab");
            assertThatThrownBy(() -> one(victim, "select 1")).isInstanceOf(SQLException.class);
            Future<String> next = threads.submit(() -> {
                try (Connection again = client("txn")) {
                    return one(again, "select 'served'");
                }
            });
            assertThatThrownBy(() -> next.get(1, TimeUnit.SECONDS)).isInstanceOf(TimeoutException.class);
            admin.execute("RESUME lab");
            assertThat(next.get(10, TimeUnit.SECONDS)).isEqualTo("served");

            Connection other = client(TestServers.ALICE);
            String id = rows(c, "SHOW CLIENTS").stream()
                    .filter(r -> "console-it-alice".equals(r.get("application_name"))).findFirst().orElseThrow()
                    .get("id");
            admin.execute("KILL_CLIENT " + id);
            assertThatThrownBy(() -> one(other, "select 1")).isInstanceOf(SQLException.class);
        } finally {
            victim.close();
        }
    }

    /** The queries prometheus-community's pgbouncer_exporter sends, and the columns it reads from each. */
    @Test
    void pgbouncerExporterQueriesRead() throws Exception {
        try (Connection alice = client(TestServers.ALICE); Connection c = console(STATS, STATS_PASSWORD, true)) {
            one(alice, "select 1");
            Map<String, List<String>> reads = Map.of(
                    "SHOW STATS;", List.of("database", "total_xact_count", "total_query_count", "total_received",
                            "total_sent", "total_xact_time", "total_query_time", "total_wait_time",
                            "total_server_assignment_count"),
                    "SHOW POOLS;", List.of("database", "user", "cl_active", "cl_waiting", "sv_active", "sv_idle",
                            "sv_used", "sv_tested", "sv_login", "maxwait", "maxwait_us", "pool_mode"),
                    "SHOW DATABASES;", List.of("name", "host", "port", "database", "force_user", "pool_size",
                            "reserve_pool_size", "pool_mode", "max_connections", "current_connections", "paused",
                            "disabled"),
                    "SHOW LISTS;", List.of("list", "items"),
                    "SHOW CONFIG;", List.of("key", "value", "default", "changeable"),
                    "SHOW VERSION;", List.of("version"));
            for (var e : reads.entrySet()) {
                List<Map<String, String>> rows = rows(c, e.getKey());
                assertThat(rows).as(e.getKey()).isNotEmpty();
                Map<String, String> first = rows.get(0);
                assertThat(first.keySet()).as(e.getKey()).containsAll(e.getValue());
            }
        }
    }

    @Test
    void psqlTalksToTheConsole() throws Exception {
        Path psql = Path.of("/usr/bin/psql");
        org.junit.jupiter.api.Assumptions.assumeTrue(Files.isExecutable(psql), "psql is not installed");
        ProcessBuilder pb = new ProcessBuilder(psql.toString(), "-X", "-A", "-t", "-h", "127.0.0.1",
                "-p", String.valueOf(proxy.port()), "-U", ADMIN, "-d", "pgmux", "-c", "SHOW VERSION",
                "-c", "show state; show lists")
                .redirectErrorStream(true);
        pb.environment().put("PGPASSWORD", ADMIN_PASSWORD);
        pb.environment().put("PGCONNECT_TIMEOUT", "10");
        Process p = pb.start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor(30, TimeUnit.SECONDS)).isTrue();
        assertThat(p.exitValue()).as(out).isZero();
        assertThat(out).contains("pgmux ").contains("active|yes").contains("used_clients|");
    }

    /** Logs in to the console over a raw socket (SCRAM), ready for queries. */
    static RawClient rawConsole(String user, String password) throws Exception {
        RawClient c = new RawClient("127.0.0.1", proxy.port());
        c.setTimeout(20_000);
        c.startup(0, RawClient.params("user", user, "database", "pgmux"));
        RawClient.Message sasl = c.read();
        assertThat(sasl.type()).isEqualTo('R');
        ScramClient scram = ScramClient.builder().advertisedMechanisms(List.of("SCRAM-SHA-256"))
                .username("*").password(password.toCharArray()).build();
        c.send(message('p', "SCRAM-SHA-256", scram.clientFirstMessage().toString()));
        RawClient.Message cont = c.read();
        scram.serverFirstMessage(new String(cont.body(), 4, cont.body().length - 4, StandardCharsets.UTF_8));
        c.send(message('p', null, scram.clientFinalMessage().toString()));
        assertThat(c.readUntil('Z').type()).isEqualTo('Z');
        return c;
    }

    /** A 'p' message (SASLInitialResponse with a mechanism, else SASLResponse) or, for 'Q', a query. */
    static byte[] message(char type, String mechanism, String data) {
        byte[] d = data.getBytes(StandardCharsets.UTF_8);
        java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate(d.length + 64);
        b.put((byte) type).putInt(0);
        if (mechanism != null) {
            b.put(mechanism.getBytes(StandardCharsets.US_ASCII)).put((byte) 0).putInt(d.length);
        }
        b.put(d);
        if (type == 'Q') {
            b.put((byte) 0);
        }
        b.putInt(1, b.position() - 1);
        return java.util.Arrays.copyOf(b.array(), b.position());
    }

    @Test
    void pipelinedQueriesAreAnsweredInOrderWithoutPilingUp() throws Exception {
        try (RawClient c = rawConsole(STATS, STATS_PASSWORD)) {
            java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
            int n = 3000;
            for (int i = 0; i < n; i++) {
                out.write(message('Q', null, i % 3 == 0 ? "" : i % 3 == 1 ? ";; ;" : "SHOW VERSION; ; SHOW STATE"));
            }
            c.send(out.toByteArray());
            int empty = 0;
            int ready = 0;
            int complete = 0;
            while (ready < n) {
                RawClient.Message m = c.read();
                switch (m.type()) {
                    case 'I' -> empty++;
                    case 'Z' -> ready++;
                    case 'C' -> complete++;
                    case 'E' -> throw new AssertionError("error: " + m.field('M'));
                    default -> {
                    }
                }
            }
            assertThat(empty).isEqualTo(2 * n / 3); // one per query of nothing but empty statements
            assertThat(complete).isEqualTo(2 * (n / 3));
            // a Bind cut short: 08P01, not a stack trace
            c.send(new byte[] {'B', 0, 0, 0, 6, 0, 0});
            RawClient.Message err = c.readUntil('E');
            assertThat(err.field('C')).isEqualTo("08P01");
        }
    }

    @Test
    void theAuthenticatorHookNeverDecidesConsoleLogins() throws Exception {
        ProxyServer hooked = new ProxyServer("127.0.0.1:0", StaticRouter.empty())
                .withAuthFile(tmp.resolve("userlist.txt"))
                .withConsole(ConsoleConfig.of(java.util.Set.of(ADMIN), java.util.Set.of()))
                .withAuthenticator(request -> dev.pgmux.Authenticator.Decision.ACCEPT)
                .start();
        try {
            for (String[] login : List.of(new String[] {ADMIN, "wrong"}, new String[] {"mallory", "x"})) {
                Properties p = new Properties();
                p.setProperty("user", login[0]);
                p.setProperty("password", login[1]);
                p.setProperty("preferQueryMode", "simple");
                assertThatThrownBy(() -> DriverManager.getConnection("jdbc:postgresql://127.0.0.1:" + hooked.port()
                        + "/pgmux", p).close()).isInstanceOf(PSQLException.class)
                        .satisfies(e -> assertThat(((PSQLException) e).getSQLState()).isEqualTo("28P01"));
            }
        } finally {
            hooked.close(Duration.ofSeconds(1));
        }
    }

    @Test
    void pauseLiftedByAnotherAdminEndsTheWait() throws Exception {
        try (Connection txn = client("txn"); Connection c = console(ADMIN, ADMIN_PASSWORD, true);
             Connection other = console(ADMIN, ADMIN_PASSWORD, true); Statement admin = c.createStatement()) {
            txn.setAutoCommit(false);
            one(txn, "select 1"); // a server in use: PAUSE waits
            Future<?> pause = threads.submit(() -> {
                admin.execute("PAUSE lab");
                return null;
            });
            assertThatThrownBy(() -> pause.get(500, TimeUnit.MILLISECONDS)).isInstanceOf(TimeoutException.class);
            try (Statement s = other.createStatement()) {
                s.execute("RESUME lab");
            }
            assertThatThrownBy(() -> pause.get(10, TimeUnit.SECONDS)).hasCauseInstanceOf(PSQLException.class)
                    .satisfies(e -> assertThat(((PSQLException) e.getCause()).getSQLState()).isEqualTo("57014"));
            txn.commit();
        }
    }

    @Test
    void shutdownRunsTheGivenAction() throws Exception {
        int before = shutdowns.get();
        try (Connection c = console(ADMIN, ADMIN_PASSWORD, true); Statement s = c.createStatement()) {
            s.execute("SHUTDOWN");
        }
        assertThat(shutdowns.get()).isEqualTo(before + 1);
    }
}
