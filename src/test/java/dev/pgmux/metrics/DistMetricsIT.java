package dev.pgmux.metrics;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import dev.pgmux.AuthMode;
import dev.pgmux.BackendConfig;
import dev.pgmux.Limits;
import dev.pgmux.PoolConfig;
import dev.pgmux.PoolMode;
import dev.pgmux.ProxyServer;
import dev.pgmux.Secret;
import dev.pgmux.StaticRouter;
import dev.pgmux.admin.AdminServer;
import dev.pgmux.admin.Metrics;
import dev.pgmux.auth.ScramVerifier;
import dev.pgmux.embedded.LocalPostgres;
import dev.pgmux.testing.Scrape;
import dev.pgmux.testing.TestServers;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * {@code /metrics} of a proxy that carried real traffic (passthrough, a transaction pool, a session pool, failed
 * logins, SQL errors), served as {@code pgmux} serves it; and the dashboard and alert rules shipped in
 * {@code dist/}, whose every metric must be in that output.
 */
class DistMetricsIT {
    static final String PASSWORD = "dist_pw";
    static final Pattern METRIC = Pattern.compile("(?<![A-Za-z0-9_:])((?:pgmux|jvm|process)_[A-Za-z0-9_:]*)");

    static LocalPostgres pg;
    static ProxyServer proxy;
    static AdminServer admin;
    static final HttpClient http = HttpClient.newHttpClient();
    static Scrape scrape;

    @BeforeAll
    static void start() throws Exception {
        pg = TestServers.pg17();
        int deadPort;
        try (ServerSocket s = new ServerSocket(0)) {
            deadPort = s.getLocalPort();
        }
        String verifier = ScramVerifier.generate(PASSWORD.toCharArray()).text();
        StaticRouter router = StaticRouter.empty()
                .put(TestServers.ALICE, BackendConfig.builder().host(pg.host()).port(pg.port()).build())
                .put("txn", pooled(verifier, PoolMode.TRANSACTION))
                .put("sess", pooled(verifier, PoolMode.SESSION))
                .put("down", BackendConfig.of("127.0.0.1", deadPort, TestServers.ALICE));
        proxy = new ProxyServer("127.0.0.1:0", router)
                .withLimits(Limits.DEFAULT.withBackendConnectTimeout(Duration.ofSeconds(2)))
                .start();
        // as the pgmux command serves it (ServerProcess)
        admin = AdminServer.start(new InetSocketAddress("127.0.0.1", 0), () -> true,
                Metrics.withJvm(ProxyCollector.of(proxy, () -> ProxyCollector.DEFAULT_POOL_LABELS, "test")));
        traffic();
        scrape = Scrape.parse(get(null).body());
    }

    static BackendConfig pooled(String verifier, PoolMode mode) {
        return BackendConfig.builder().host(pg.host()).port(pg.port()).user(TestServers.ALICE)
                .auth(AuthMode.PROXY).clientCredential(verifier).password(Secret.of(TestServers.ALICE_PASSWORD))
                .pool(PoolConfig.builder().mode(mode).size(2).build()).build();
    }

    @AfterAll
    static void stop() {
        if (admin != null) {
            admin.close();
        }
        if (proxy != null) {
            proxy.close(Duration.ofSeconds(2));
        }
    }

    /** Queries, transactions and errors on each kind of route, and logins that fail. */
    static void traffic() throws Exception {
        try (Connection c = connect(TestServers.ALICE, TestServers.ALICE_PASSWORD)) {
            work(c);
        }
        for (String user : List.of("txn", "sess")) {
            try (Connection c = connect(user, PASSWORD)) {
                work(c);
                try (Statement s = c.createStatement()) {
                    s.execute("listen dist_metrics"); // pins a transaction-pooled client: cause "listen"
                }
            }
        }
        // the backend refuses (28P01 relayed), pgmux refuses (its own 28P01), no backend at all (08006)
        for (String[] login : List.of(new String[] {TestServers.ALICE, "wrong"}, new String[] {"txn", "wrong"},
                new String[] {"down", "x"})) {
            SQLException refused = catchThrowableOfType(SQLException.class, () -> connect(login[0], login[1]).close());
            assertThat(refused.getSQLState()).isNotNull();
        }
    }

    static void work(Connection c) throws SQLException {
        try (Statement s = c.createStatement()) {
            for (int i = 0; i < 5; i++) {
                try (ResultSet rs = s.executeQuery("select " + i)) {
                    assertThat(rs.next()).isTrue();
                }
            }
            c.setAutoCommit(false);
            s.execute("select 1");
            s.execute("select 2");
            c.commit();
            c.setAutoCommit(true);
            SQLException noTable = catchThrowableOfType(SQLException.class, () -> s.execute("select * from no_such_table"));
            assertThat(noTable.getSQLState()).isEqualTo("42P01");
            SQLException byZero = catchThrowableOfType(SQLException.class, () -> s.execute("select 1/0"));
            assertThat(byZero.getSQLState()).isEqualTo("22012");
        }
    }

    static Connection connect(String user, String password) throws SQLException {
        Properties p = new Properties();
        p.setProperty("user", user);
        p.setProperty("password", password);
        p.setProperty("sslmode", "disable");
        p.setProperty("connectTimeout", "10");
        return DriverManager.getConnection("jdbc:postgresql://127.0.0.1:" + proxy.port() + "/postgres", p);
    }

    static HttpResponse<String> get(String accept) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + admin.address().getPort()
                + "/metrics"));
        if (accept != null) {
            b.header("Accept", accept);
        }
        return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
    }

    // ---------------------------------------------------------------- what pgmux measured

    @Test
    void histogramsMeasuredEveryKindOfRoute() {
        // 3 routes × (5 + 2 + 2 failing) requests at least, and their transactions
        assertThat(scrape.value("pgmux_query_duration_seconds_count")).isGreaterThanOrEqualTo(27);
        assertThat(scrape.value("pgmux_transaction_duration_seconds_count")).isGreaterThanOrEqualTo(3 * 8);
        assertThat(scrape.value("pgmux_query_duration_seconds_sum")).isPositive();
        assertThat(scrape.value("pgmux_login_duration_seconds_count")).isGreaterThanOrEqualTo(3);
        assertThat(scrape.value("pgmux_router_duration_seconds_count")).isGreaterThanOrEqualTo(6);
        assertThat(scrape.value("pgmux_pool_wait_duration_seconds_count")).isGreaterThanOrEqualTo(2);
        assertThat(scrape.value("pgmux_query_duration_seconds_bucket{le=\"+Inf\"}"))
                .isEqualTo(scrape.value("pgmux_query_duration_seconds_count"));
    }

    @Test
    void errorsByClassFromServersAndFromPgmux() {
        assertThat(scrape.value("pgmux_errors_total{class=\"42\"}")).as("passthrough and both pools").isEqualTo(3);
        assertThat(scrape.value("pgmux_errors_total{class=\"22\"}")).isEqualTo(3);
        assertThat(scrape.value("pgmux_errors_total{class=\"28\"}")).as("relayed and pgmux's own").isEqualTo(2);
        assertThat(scrape.value("pgmux_errors_total{class=\"08\"}")).as("no backend").isEqualTo(1);
        assertThat(scrape.value("pgmux_backend_connect_failures_total")).isGreaterThanOrEqualTo(1);
    }

    @Test
    void poolsCountTheirTrafficInBothModes() {
        for (String mode : List.of("transaction", "session")) {
            // both pools go to alice@postgres on the same host: the second one made is named with "#2"
            String pool = proxy.poolStats().stream().filter(p -> p.mode().equals(mode)).findFirst().orElseThrow()
                    .name();
            String labels = "{mode=\"" + mode + "\",pool=\"" + pool + "\"}";
            assertThat(scrape.value("pgmux_pool_queries_total" + labels)).as(mode).isGreaterThanOrEqualTo(10);
            assertThat(scrape.value("pgmux_pool_transactions_total" + labels)).as(mode).isGreaterThanOrEqualTo(8);
            assertThat(scrape.value("pgmux_pool_query_seconds_total" + labels)).as(mode).isPositive();
            assertThat(scrape.value("pgmux_pool_transaction_seconds_total" + labels)).as(mode).isPositive();
            assertThat(scrape.value("pgmux_pool_server_assignments_total" + labels)).as(mode).isPositive();
            assertThat(scrape.value("pgmux_pool_client_received_bytes_total" + labels)).as(mode).isPositive();
            assertThat(scrape.value("pgmux_pool_client_sent_bytes_total" + labels)).as(mode).isPositive();
            assertThat(scrape.get("pgmux_pool_size" + labels)).as(mode).isEqualTo(2);
        }
        String transactionPool = proxy.poolStats().stream().filter(p -> p.mode().equals("transaction")).findFirst()
                .orElseThrow().name();
        assertThat(scrape.value("pgmux_pool_pins_total{cause=\"listen\",pool=\"" + transactionPool + "\"}"))
                .isEqualTo(1);
    }

    @Test
    void withoutPoolLabelsOnlyTotalsPerMode() {
        Scrape totals = Scrape.of(ProxyCollector.of(proxy, () -> 0, "test"));
        assertThat(totals.samples().keySet()).filteredOn(k -> k.startsWith("pgmux_pool_queries_total"))
                .containsExactlyInAnyOrder("pgmux_pool_queries_total{mode=\"session\",pool=\"other\"}",
                        "pgmux_pool_queries_total{mode=\"transaction\",pool=\"other\"}");
    }

    @Test
    void openMetricsHasTheSameSamples() throws Exception {
        HttpResponse<String> r = get("application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5");
        assertThat(r.headers().firstValue("Content-Type")).contains(Metrics.OPENMETRICS_CONTENT_TYPE);
        assertThat(r.body()).endsWith("# EOF\n").contains("# TYPE pgmux_pool_queries counter\n",
                "# TYPE pgmux_query_duration_seconds histogram\n", "\npgmux_build_info{version=\"test\"} 1\n");
        Set<String> names = new TreeSet<>();
        for (String line : r.body().split("\n")) {
            if (!line.startsWith("#") && line.startsWith("pgmux_")) {
                names.add(line.split("[{ ]", 2)[0]);
            }
        }
        assertThat(names).containsAll(sampleNames().stream().filter(n -> n.startsWith("pgmux_")).toList());
    }

    // ---------------------------------------------------------------- dist/

    @Test
    void everyMetricOfTheDashboardIsServed() throws Exception {
        JsonNode dashboard = new ObjectMapper().readTree(Path.of("dist/grafana/pgmux.json").toFile());
        assertThat(dashboard.path("title").asText()).isEqualTo("pgmux");
        assertThat(dashboard.path("templating").path("list").findValuesAsText("type")).contains("datasource");
        List<String> exprs = new ArrayList<>(dashboard.findValuesAsText("expr"));
        dashboard.path("templating").path("list").forEach(v -> exprs.add(v.path("definition").asText()));
        assertThat(exprs).hasSizeGreaterThan(20);
        Set<String> used = metricsIn(exprs);
        assertThat(used).contains("pgmux_query_duration_seconds_bucket", "pgmux_pool_pins_total",
                "pgmux_errors_total", "pgmux_pool_clients_waiting", "jvm_memory_used_bytes");
        assertThat(sampleNames()).containsAll(used);
    }

    @Test
    void everyMetricOfTheAlertRulesIsServed() throws Exception {
        JsonNode rules = new ObjectMapper(new YAMLFactory()).readTree(Files.readString(Path.of(
                "dist/prometheus/alerts.yaml")));
        List<String> exprs = new ArrayList<>();
        List<String> alerts = new ArrayList<>();
        for (JsonNode group : rules.path("groups")) {
            assertThat(group.path("name").asText()).isNotBlank();
            for (JsonNode rule : group.path("rules")) {
                alerts.add(rule.path("alert").asText());
                exprs.add(rule.path("expr").asText());
                assertThat(rule.path("labels").path("severity").asText()).as(rule.toString()).isNotBlank();
                assertThat(rule.path("annotations").path("summary").asText()).as(rule.toString()).isNotBlank();
            }
        }
        assertThat(alerts).contains("PgmuxDown", "PgmuxClientsWaitingTooLong", "PgmuxBackendConnectFailures",
                "PgmuxPoolSaturated");
        Set<String> used = metricsIn(exprs);
        assertThat(used).contains("pgmux_pool_wait_duration_seconds_bucket", "pgmux_backend_connect_failures_total",
                "pgmux_pool_servers_active", "pgmux_pool_size");
        assertThat(sampleNames()).containsAll(used);
        promtoolChecks(Path.of("dist/prometheus/alerts.yaml"));
    }

    /** Where Prometheus' promtool is installed (Debian: package prometheus), it checks the rules' PromQL too. */
    static void promtoolChecks(Path rules) throws Exception {
        Path promtool = null;
        for (String dir : System.getenv().getOrDefault("PATH", "").split(":")) {
            if (!dir.isEmpty() && Files.isExecutable(Path.of(dir, "promtool"))) {
                promtool = Path.of(dir, "promtool");
                break;
            }
        }
        if (promtool == null) {
            return;
        }
        Process p = new ProcessBuilder(promtool.toString(), "check", "rules", rules.toString())
                .redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
        assertThat(p.waitFor()).as(out).isZero();
    }

    static Set<String> metricsIn(List<String> exprs) {
        Set<String> names = new TreeSet<>();
        for (String e : exprs) {
            Matcher m = METRIC.matcher(e);
            while (m.find()) {
                names.add(m.group(1));
            }
        }
        return names;
    }

    /** The names of the samples served: with _bucket, _count, _sum, _total as written. */
    static Set<String> sampleNames() {
        Set<String> names = new TreeSet<>();
        scrape.samples().keySet().forEach(k -> names.add(k.split("\\{", 2)[0]));
        return names;
    }
}
