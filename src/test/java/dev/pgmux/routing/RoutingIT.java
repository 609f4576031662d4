package dev.pgmux.routing;

import static dev.pgmux.testing.RawClient.params;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import com.sun.net.httpserver.HttpServer;
import dev.pgmux.ProxyServer;
import dev.pgmux.Router;
import dev.pgmux.TlsConfig;
import dev.pgmux.config.ConfigSource;
import dev.pgmux.config.ServerConfig;
import dev.pgmux.embedded.LocalPostgres;
import dev.pgmux.testing.RawClient;
import dev.pgmux.testing.TestCerts;
import dev.pgmux.testing.TestServers;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A chain from the config file (static, then pattern rules, then an HTTP routing service) in front of the real
 * test servers: pgjdbc connections and a TLS client with SNI land on the server each router names, as
 * {@code select server from whoami} shows, and an outage of the routing service costs only the tenants it never
 * answered for.
 */
class RoutingIT {
    static LocalPostgres pg17;
    static LocalPostgres pg17b;
    static LocalPostgres pg18;
    static HttpServer service;
    static ExecutorService serviceThreads;
    static final AtomicInteger serviceRequests = new AtomicInteger();
    /** The routing service's answer for a user: status and JSON body. */
    static volatile Function<String, Map.Entry<Integer, String>> answer;
    static Router router;
    static ProxyServer proxy;

    @TempDir
    static Path dir;

    @BeforeAll
    static void start() throws Exception {
        pg17 = TestServers.pg17();
        pg17b = TestServers.pg17b();
        pg18 = TestServers.pg18();
        answer = RoutingIT::tenants;
        service = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        serviceThreads = Executors.newVirtualThreadPerTaskExecutor();
        service.setExecutor(serviceThreads);
        service.createContext("/route", exchange -> {
            try (exchange) {
                serviceRequests.incrementAndGet();
                String query = exchange.getRequestURI().getRawQuery();
                String user = URLDecoder.decode(query.substring(query.indexOf("user=") + 5), StandardCharsets.UTF_8);
                Map.Entry<Integer, String> reply = answer.apply(user);
                byte[] body = reply.getValue().getBytes(StandardCharsets.UTF_8);
                exchange.sendResponseHeaders(reply.getKey(), body.length == 0 ? -1 : body.length);
                if (body.length > 0) {
                    try (OutputStream out = exchange.getResponseBody()) {
                        out.write(body);
                    }
                }
            }
        });
        service.start();

        Path config = dir.resolve("pgmux.yaml");
        Files.writeString(config, """
                router:
                  chain:
                    - static:
                        routes:
                          alice: { host: 127.0.0.1, port: %1$d }
                    - pattern:
                        rules:
                          - name: by-port
                            match: { user: "(?<who>alice|bob)@(?<port>[0-9]+)" }
                            backend: { host: 127.0.0.1, port: "{port}", user: "{who}" }
                          - name: lab
                            match: { database: "lab_(?<port>[0-9]+)" }
                            backend: { host: 127.0.0.1, port: "{port}", database: lab }
                          - name: tenants
                            match: { sni: "t(?<port>[0-9]+)\\\\.localhost" }
                            backend: { host: 127.0.0.1, port: "{port}", user: trust_user }
                    - http:
                        url: "http://127.0.0.1:%2$d/route"
                        send: [user]
                        cache_ttl: 2s
                        stale_grace: 5m
                        timeout: 1s
                """.formatted(pg17.port(), service.getAddress().getPort()));
        ServerConfig c = new ConfigSource(config, Map.of(), List.of()).load();
        router = c.routing().build();
        proxy = new ProxyServer("127.0.0.1:0", router)
                .withTls(TlsConfig.fromPemFiles(TestCerts.serverCert(), TestCerts.serverKey()))
                .start();
    }

    @AfterAll
    static void stop() throws Exception {
        if (proxy != null) {
            proxy.close(Duration.ofSeconds(2));
        }
        if (router instanceof AutoCloseable c) {
            c.close();
        }
        if (service != null) {
            service.stop(0);
            serviceThreads.shutdownNow();
        }
    }

    /** The routing service's table: tenant17 and tenant18 exist, as alice on those servers. */
    static Map.Entry<Integer, String> tenants(String user) {
        LocalPostgres pg = switch (user) {
            case "tenant17" -> pg17;
            case "tenant18" -> pg18;
            default -> null;
        };
        if (pg == null) {
            return Map.entry(404, "");
        }
        return Map.entry(200, "{\"host\": \"127.0.0.1\", \"port\": " + pg.port() + ", \"user\": \"alice\"}");
    }

    @Test
    void eachRouterOfTheChainSendsItsUsersToTheirServer() throws Exception {
        try (Connection c = connect(TestServers.ALICE, TestServers.ALICE_PASSWORD, "postgres")) {
            assertThat(whoami(c)).as("static").isEqualTo(TestServers.PG17);
        }
        try (Connection c = connect("bob@" + pg17b.port(), TestServers.BOB_PASSWORD, "postgres")) {
            assertThat(whoami(c)).as("pattern on the user").isEqualTo(TestServers.PG17B);
            assertThat(one(c, "select current_user")).isEqualTo(TestServers.BOB);
        }
        try (Connection c = connect(TestServers.BOB, TestServers.BOB_PASSWORD, "lab_" + pg18.port())) {
            assertThat(whoami(c)).as("pattern on the database").isEqualTo(TestServers.PG18);
            assertThat(one(c, "select current_database()")).isEqualTo(TestServers.LAB);
        }
        int before = serviceRequests.get();
        for (int i = 0; i < 2; i++) {
            try (Connection c = connect("tenant18", TestServers.ALICE_PASSWORD, "postgres")) {
                assertThat(whoami(c)).as("http").isEqualTo(TestServers.PG18);
                assertThat(one(c, "select current_user")).isEqualTo(TestServers.ALICE);
            }
        }
        assertThat(serviceRequests.get() - before).as("the second connect used the cache").isEqualTo(1);
    }

    @Test
    void aUserNoRouterKnowsIsRefusedWith28000() {
        SQLException e = catchThrowableOfType(SQLException.class,
                () -> connect("ghost", "whatever", "postgres").close());
        assertThat(e.getSQLState()).isEqualTo("28000");
        assertThat(e.getMessage()).contains("no route for user \"ghost\"");
    }

    @Test
    void aPatternOnSniRoutesATlsClientByTheServerNameItAskedFor() throws Exception {
        for (LocalPostgres pg : List.of(pg17b, pg18)) {
            try (RawClient c = new RawClient("127.0.0.1", proxy.port())) {
                assertThat(c.sslRequest(TestCerts.caCert(), "t" + pg.port() + ".localhost")).isEqualTo('S');
                c.startup(0, params("user", "someone", "database", "postgres"));
                RawClient.Message m = c.readUntil('Z');
                assertThat(m.type()).isEqualTo('Z');
                c.query("select server from whoami");
                RawClient.Message row = c.readUntil('D');
                assertThat(dataRowText(row)).isEqualTo(pg == pg18 ? TestServers.PG18 : TestServers.PG17B);
            }
        }
    }

    @Test
    void whenTheRoutingServiceFailsKnownTenantsAreServedStaleAndNewOnesGet08006() throws Exception {
        try (Connection c = connect("tenant17", TestServers.ALICE_PASSWORD, "postgres")) {
            assertThat(whoami(c)).isEqualTo(TestServers.PG17);
        }
        Thread.sleep(2_100); // past cache_ttl: from now on each connect asks the service
        answer = user -> Map.entry(503, "");
        try {
            try (Connection c = connect("tenant17", TestServers.ALICE_PASSWORD, "postgres")) {
                assertThat(whoami(c)).as("the stale answer").isEqualTo(TestServers.PG17);
            }
            SQLException e = catchThrowableOfType(SQLException.class,
                    () -> connect("tenant18x", TestServers.ALICE_PASSWORD, "postgres").close());
            assertThat(e.getSQLState()).isEqualTo("08006");
            assertThat(e.getMessage()).contains("routing service unavailable");
        } finally {
            answer = RoutingIT::tenants;
        }
    }

    static Connection connect(String user, String password, String database) throws SQLException {
        Properties p = new Properties();
        p.setProperty("user", user);
        p.setProperty("password", password);
        p.setProperty("sslmode", "disable");
        p.setProperty("connectTimeout", "10");
        return DriverManager.getConnection("jdbc:postgresql://127.0.0.1:" + proxy.port() + "/" + database, p);
    }

    static String whoami(Connection c) throws SQLException {
        return one(c, "select server from whoami");
    }

    static String one(Connection c, String sql) throws SQLException {
        try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery(sql)) {
            assertThat(rs.next()).isTrue();
            return rs.getString(1);
        }
    }

    /** The first column of a DataRow as text: Int16 count, then Int32 length and the bytes. */
    static String dataRowText(RawClient.Message row) {
        int length = row.int32(2);
        return new String(row.body(), 6, length, StandardCharsets.UTF_8);
    }
}
