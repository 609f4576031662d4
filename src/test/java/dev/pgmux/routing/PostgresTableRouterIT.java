package dev.pgmux.routing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import dev.pgmux.AuthMode;
import dev.pgmux.BackendConfig;
import dev.pgmux.ClientAuthMethod;
import dev.pgmux.PoolConfig;
import dev.pgmux.PoolMode;
import dev.pgmux.ProxyServer;
import dev.pgmux.RouteRequest;
import dev.pgmux.RoutingException;
import dev.pgmux.SslMode;
import dev.pgmux.embedded.LocalPostgres;
import dev.pgmux.testing.TestServers;
import java.net.InetSocketAddress;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The table router against a real control-plane PostgreSQL of its own: rows loaded at start, INSERT, UPDATE,
 * DELETE and TRUNCATE applied while it runs, and a proxy whose new connections follow the table. The router
 * logs in as a role that may only SELECT the table, as the docs recommend. Each test has a table of its own.
 */
class PostgresTableRouterIT {
    static final String DATABASE = "control";
    static final String ROUTER_ROLE = "pgmux_router";
    static final String ROUTER_PASSWORD = "router-pw-5e1c";
    /** The docs' promise; NOTIFY plus a reload of a few rows takes milliseconds. */
    static final Duration WITHIN = Duration.ofSeconds(1);
    static final AtomicInteger TABLES = new AtomicInteger();

    static LocalPostgres control;

    String table;
    final List<AutoCloseable> closeAfter = new ArrayList<>();

    @BeforeAll
    static void startControlPlane() {
        control = LocalPostgres.builder().version("17").superuserPassword("control-super-pw")
                .user(ROUTER_ROLE, ROUTER_PASSWORD, "scram-sha-256")
                .database(DATABASE, null)
                .start();
    }

    @AfterAll
    static void stopControlPlane() {
        if (control != null) {
            control.close();
        }
    }

    @BeforeEach
    void createTable() throws SQLException {
        table = "routes_" + TABLES.incrementAndGet();
        PostgresTableRouter.initTable(superuserDsn(control), table);
        sql("GRANT SELECT ON " + table + " TO " + ROUTER_ROLE);
    }

    @AfterEach
    void close() throws Exception {
        for (AutoCloseable c : closeAfter.reversed()) {
            c.close();
        }
    }

    // ---- loading -----------------------------------------------------------------------------------------

    @Test
    void everyRowIsLoadedAtStart() throws Exception {
        sql("INSERT INTO " + table + "(username, host, port, backend_user) VALUES ('alice', '10.0.0.1', 5433, 'app')",
                "INSERT INTO " + table + "(username, host) VALUES ('bob', 'db.internal')",
                "INSERT INTO " + table + " VALUES ('carol', '10.0.0.3', 6432, NULL, 'lab', 'require',"
                        + " '{\"search_path\": \"lab\", \"statement_timeout\": 5000}')");

        PostgresTableRouter router = start(table);

        assertThat(router.routes()).containsOnlyKeys("alice", "bob", "carol");
        assertThat(router.route(request("alice"))).isEqualTo(BackendConfig.of("10.0.0.1", 5433, "app"));
        assertThat(router.route(request("bob"))).isEqualTo(BackendConfig.of("db.internal", 5432, null));
        assertThat(router.route(request("carol"))).isEqualTo(BackendConfig.builder().host("10.0.0.3").port(6432)
                .database("lab").sslMode(SslMode.REQUIRE).parameter("search_path", "lab")
                .parameter("statement_timeout", "5000").build());
        RoutingException none = catchThrowableOfType(RoutingException.class, () -> router.route(request("dave")));
        assertThat(none.sqlState()).isEqualTo("28000");
        assertThat(none).hasMessage("no route for user \"dave\"");
        assertThat(router.listening()).isTrue();
    }

    @Test
    void aTableOfThousandsOfRowsLoadsAndReloads() throws Exception {
        sql("INSERT INTO " + table + "(username, host, port) SELECT 'user' || i, 'host' || (i % 50), 5432 + i % 7"
                + " FROM generate_series(1, 5000) i");
        PostgresTableRouter router = start(table);
        assertThat(router.routes()).hasSize(5000);
        assertThat(router.route(request("user4999"))).isEqualTo(BackendConfig.of("host49", 5432 + 4999 % 7, null));

        // One statement, one notification, one reload.
        sql("UPDATE " + table + " SET port = 7000 WHERE username LIKE 'user1%'");
        awaitWithin(Duration.ofSeconds(2), () -> router.routes().get("user1999").port() == 7000);
        assertThat(router.routes()).hasSize(5000);
        assertThat(router.routes().values().stream().filter(b -> b.port() == 7000)).hasSize(1111);
    }

    @Test
    void aHandMadeTableWithTheRequiredColumnsWorksAndBadRowsAreLeftOut() throws Exception {
        String handMade = table + "_by_hand";
        sql("CREATE TABLE " + handMade + " (username text, host text, port int, note text)",
                "INSERT INTO " + handMade + " VALUES ('alice', '10.0.0.1', 5432, 'fine'), ('bob', '10.0.0.2', 0, 'bad'),"
                        + " ('carol', '', 5432, 'bad'), ('dave', '10.0.0.4', NULL, 'default port')",
                "GRANT SELECT ON " + handMade + " TO " + ROUTER_ROLE);

        PostgresTableRouter router = start(handMade);

        assertThat(router.routes()).containsOnlyKeys("alice", "dave");
        assertThat(router.route(request("dave")).port()).isEqualTo(5432);
        assertThatThrownBy(() -> router.route(request("bob"))).isInstanceOf(RoutingException.class);
    }

    @Test
    void thePoolColumnsAreARoutesPoolAndABadOneLeavesItsRowOut() throws Exception {
        sql("INSERT INTO " + table + "(username, host, auth, client_auth_method, pool, pool_size) VALUES"
                + " ('alice', 'db', 'proxy', 'trust', 'transaction', 8), ('bob', 'db', 'proxy', 'trust', 'session', NULL),"
                + " ('carol', 'db', NULL, NULL, 'session', NULL)");

        PostgresTableRouter router = start(table);

        BackendConfig proxy = BackendConfig.builder().host("db").auth(AuthMode.PROXY)
                .clientAuthMethod(ClientAuthMethod.TRUST).build();
        assertThat(router.route(request("alice"))).isEqualTo(proxy.toBuilder()
                .pool(PoolConfig.builder().mode(PoolMode.TRANSACTION).size(8).build()).build());
        assertThat(router.route(request("bob")).pool()).isEqualTo(PoolConfig.builder().mode(PoolMode.SESSION).build());
        assertThat(router.routes()).as("pooling needs auth proxy").containsOnlyKeys("alice", "bob");
    }

    // ---- following changes -------------------------------------------------------------------------------

    @Test
    void aPlainInsertIsRoutableWithinASecond() throws Exception {
        PostgresTableRouter router = start(table);
        assertThat(router.routes()).isEmpty();

        sql("INSERT INTO " + table + "(username, host, port, backend_user) VALUES ('alice', '10.0.0.9', 5440, NULL)");

        awaitWithin(WITHIN, () -> router.routes().containsKey("alice"));
        assertThat(router.route(request("alice"))).isEqualTo(BackendConfig.of("10.0.0.9", 5440, null));
    }

    @Test
    void anUpdateChangesTheBackendWithinASecond() throws Exception {
        sql("INSERT INTO " + table + "(username, host, port) VALUES ('alice', '10.0.0.1', 5432)");
        PostgresTableRouter router = start(table);

        sql("UPDATE " + table + " SET host = '10.0.0.2', port = 6543, backend_user = 'alice_v2', database = 'v2'"
                + " WHERE username = 'alice'");

        awaitWithin(WITHIN, () -> router.routes().get("alice").port() == 6543);
        assertThat(router.route(request("alice"))).isEqualTo(BackendConfig.builder().host("10.0.0.2").port(6543)
                .user("alice_v2").database("v2").build());
    }

    @Test
    void deleteAndTruncateRemoveRoutesWithinASecond() throws Exception {
        sql("INSERT INTO " + table + "(username, host) VALUES ('alice', 'a'), ('bob', 'b'), ('carol', 'c')");
        PostgresTableRouter router = start(table);
        assertThat(router.routes()).hasSize(3);

        sql("DELETE FROM " + table + " WHERE username = 'alice'");
        awaitWithin(WITHIN, () -> !router.routes().containsKey("alice"));
        assertThatThrownBy(() -> router.route(request("alice"))).isInstanceOf(RoutingException.class)
                .hasMessage("no route for user \"alice\"");
        assertThat(router.routes()).containsOnlyKeys("bob", "carol");

        sql("TRUNCATE " + table);
        awaitWithin(WITHIN, () -> router.routes().isEmpty());
    }

    @Test
    void aRolledBackChangeIsNeverSeen() throws Exception {
        sql("INSERT INTO " + table + "(username, host) VALUES ('alice', 'a')");
        PostgresTableRouter router = start(table);
        try (Connection c = control.connect(DATABASE, LocalPostgres.SUPERUSER, control.superuserPassword());
             Statement st = c.createStatement()) {
            c.setAutoCommit(false);
            st.execute("UPDATE " + table + " SET host = 'rolled-back' WHERE username = 'alice'");
            st.execute("INSERT INTO " + table + "(username, host) VALUES ('bob', 'b')");
            c.rollback();
        }
        // NOTIFY is transactional: nothing was sent. A later change proves the router is still following.
        sql("INSERT INTO " + table + "(username, host) VALUES ('carol', 'c')");
        awaitWithin(WITHIN, () -> router.routes().containsKey("carol"));
        assertThat(router.routes()).containsOnlyKeys("alice", "carol");
        assertThat(router.routes().get("alice").host()).isEqualTo("a");
    }

    // ---- failing to start --------------------------------------------------------------------------------

    @Test
    void startFailsWithAOneLineReasonThatNamesNoPassword() {
        PostgresTableRouter missing = PostgresTableRouter.builder().dsn(routerDsn(control)).table("no_such_table")
                .build();
        assertThatThrownBy(missing::start).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("no_such_table").hasMessageContaining("pgmux init-routing-table")
                .message().doesNotContain(ROUTER_PASSWORD).doesNotContain("\n");

        String wrongPassword = "postgresql://" + ROUTER_ROLE + ":not-the-pw-71@127.0.0.1:" + control.port() + "/"
                + DATABASE + "?sslmode=disable";
        assertThatThrownBy(() -> PostgresTableRouter.builder().dsn(wrongPassword).table(table).build().start())
                .isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("postgresql://" + ROUTER_ROLE + "@127.0.0.1:" + control.port())
                .hasMessageContaining("password authentication failed")
                .message().doesNotContain("not-the-pw-71");

        int closedPort = control.port() == 1 ? 2 : 1;
        assertThatThrownBy(() -> PostgresTableRouter.builder()
                .dsn("postgresql://u:pw-9@127.0.0.1:" + closedPort + "/x").build().start())
                .isInstanceOf(IllegalStateException.class).hasMessageContaining("refused");
    }

    // ---- through the proxy -------------------------------------------------------------------------------

    @Test
    void newConnectionsThroughTheProxyFollowTheTableWhileOldOnesStay() throws Exception {
        LocalPostgres pg17 = TestServers.pg17();
        LocalPostgres pg17b = TestServers.pg17b();
        sql("INSERT INTO " + table + "(username, host, port) VALUES ('" + TestServers.ALICE + "', '" + pg17.host()
                + "', " + pg17.port() + ")");
        PostgresTableRouter router = start(table);
        ProxyServer proxy = new ProxyServer("127.0.0.1:0", router).start();
        closeAfter.add(() -> proxy.close(Duration.ofSeconds(2)));

        try (Connection before = connectAsAlice(proxy)) {
            assertThat(whoami(before)).isEqualTo(TestServers.PG17);

            sql("UPDATE " + table + " SET host = '" + pg17b.host() + "', port = " + pg17b.port()
                    + " WHERE username = '" + TestServers.ALICE + "'");
            awaitWithin(WITHIN, () -> router.routes().get(TestServers.ALICE).port() == pg17b.port());

            try (Connection after = connectAsAlice(proxy)) {
                assertThat(whoami(after)).isEqualTo(TestServers.PG17B);
            }
            assertThat(whoami(before)).as("the connection made before the change").isEqualTo(TestServers.PG17);
        }

        sql("DELETE FROM " + table + " WHERE username = '" + TestServers.ALICE + "'");
        awaitWithin(WITHIN, () -> router.routes().isEmpty());
        SQLException refused = catchThrowableOfType(SQLException.class, () -> connectAsAlice(proxy).close());
        assertThat(refused.getSQLState()).isEqualTo("28000");
        assertThat(refused.getMessage()).contains("no route for user \"alice\"");
    }

    // ---- helpers -----------------------------------------------------------------------------------------

    static String superuserDsn(LocalPostgres pg) {
        return "postgresql://" + LocalPostgres.SUPERUSER + ":" + pg.superuserPassword() + "@127.0.0.1:" + pg.port()
                + "/" + DATABASE + "?sslmode=disable";
    }

    static String routerDsn(LocalPostgres pg) {
        return "postgresql://" + ROUTER_ROLE + ":" + ROUTER_PASSWORD + "@127.0.0.1:" + pg.port() + "/" + DATABASE
                + "?sslmode=disable";
    }

    PostgresTableRouter start(String tableName) {
        PostgresTableRouter router = PostgresTableRouter.builder().dsn(routerDsn(control)).table(tableName).build();
        closeAfter.add(router);
        return router.start();
    }

    static void sql(String... statements) {
        control.execute(DATABASE, statements);
    }

    static RouteRequest request(String user) {
        return new RouteRequest(user, "postgres", null, Map.of("user", user), new InetSocketAddress("127.0.0.1", 40000),
                null, false);
    }

    /** Waits for the condition, failing if it takes longer than {@code limit}; returns how long it took. */
    static Duration awaitWithin(Duration limit, BooleanSupplier condition) throws InterruptedException {
        long t0 = System.nanoTime();
        long deadline = t0 + limit.toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("not within " + limit.toMillis() + " ms");
            }
            Thread.sleep(5);
        }
        return Duration.ofNanos(System.nanoTime() - t0);
    }

    static Connection connectAsAlice(ProxyServer proxy) throws SQLException {
        Properties p = new Properties();
        p.setProperty("user", TestServers.ALICE);
        p.setProperty("password", TestServers.ALICE_PASSWORD);
        p.setProperty("sslmode", "disable");
        p.setProperty("connectTimeout", "10");
        return DriverManager.getConnection("jdbc:postgresql://127.0.0.1:" + proxy.port() + "/postgres", p);
    }

    static String whoami(Connection c) throws SQLException {
        try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery("SELECT server FROM whoami")) {
            assertThat(rs.next()).isTrue();
            return rs.getString(1);
        }
    }
}
