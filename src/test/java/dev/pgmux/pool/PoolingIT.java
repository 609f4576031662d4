package dev.pgmux.pool;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.pgmux.AuthMode;
import dev.pgmux.BackendConfig;
import dev.pgmux.Limits;
import dev.pgmux.PoolConfig;
import dev.pgmux.PoolMode;
import dev.pgmux.ProxyServer;
import dev.pgmux.Secret;
import dev.pgmux.StaticRouter;
import dev.pgmux.auth.ScramVerifier;
import dev.pgmux.embedded.LocalPostgres;
import dev.pgmux.testing.TestServers;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.postgresql.util.PSQLException;

/** Session and transaction pooling end to end: real PostgreSQL behind, pgjdbc in front. */
class PoolingIT {
    static final String PASSWORD = "pool_pw";
    static LocalPostgres pg;
    static ProxyServer proxy;

    @BeforeAll
    static void start() throws Exception {
        pg = TestServers.pg17();
        String verifier = ScramVerifier.generate(PASSWORD.toCharArray()).text();
        StaticRouter router = StaticRouter.empty()
                .put("sess", pooled(verifier, PoolConfig.builder().mode(PoolMode.SESSION).size(2)))
                .put("txn", pooled(verifier, PoolConfig.builder().mode(PoolMode.TRANSACTION).size(2)))
                .put("txn1", pooled(verifier, PoolConfig.builder().mode(PoolMode.TRANSACTION).size(1)
                        .waitTimeout(Duration.ofMillis(700))));
        proxy = new ProxyServer("127.0.0.1:0", router)
                .withLimits(Limits.DEFAULT.withBackendConnectTimeout(Duration.ofSeconds(2)))
                .start();
    }

    static BackendConfig pooled(String verifier, PoolConfig.Builder pool) {
        return BackendConfig.builder().host(pg.host()).port(pg.port()).user(TestServers.ALICE)
                .auth(AuthMode.PROXY).clientCredential(verifier).password(Secret.of(TestServers.ALICE_PASSWORD))
                .pool(pool.build()).build();
    }

    @AfterAll
    static void stop() {
        if (proxy != null) {
            proxy.close(Duration.ofSeconds(2));
        }
    }

    static Connection connect(String user, Properties extra) throws SQLException {
        Properties p = new Properties();
        p.setProperty("user", user);
        p.setProperty("password", PASSWORD);
        p.setProperty("sslmode", "disable");
        p.setProperty("connectTimeout", "10");
        p.setProperty("socketTimeout", "8");
        p.putAll(extra);
        return DriverManager.getConnection("jdbc:postgresql://127.0.0.1:" + proxy.port() + "/postgres", p);
    }

    static Connection connect(String user) throws SQLException {
        return connect(user, new Properties());
    }

    static String one(Connection c, String sql) throws SQLException {
        try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery(sql)) {
            assertThat(rs.next()).isTrue();
            return rs.getString(1);
        }
    }

    @Test
    void sessionPoolReusesServersAndResetsThem() throws Exception {
        java.util.Set<String> pids = new java.util.HashSet<>();
        for (int i = 0; i < 6; i++) {
            try (Connection c = connect("sess")) {
                pids.add(one(c, "select pg_backend_pid()"));
                assertThat(one(c, "show work_mem")).isEqualTo("4MB");
                assertThat(one(c, "select count(*) from pg_class where relname = 't' and relnamespace = pg_my_temp_schema()"))
                        .isEqualTo("0");
                assertThat(one(c, "select current_user")).isEqualTo(TestServers.ALICE);
                try (Statement s = c.createStatement()) {
                    s.execute("set work_mem = '7MB'");
                    s.execute("create temp table t(x int)");
                }
                assertThat(one(c, "show work_mem")).isEqualTo("7MB");
            }
        }
        assertThat(pids).hasSizeLessThanOrEqualTo(2); // pool_size
    }

    @Test
    void transactionPoolServesManyClientsWithServerPreparedStatements() throws Exception {
        Properties p = new Properties();
        p.setProperty("prepareThreshold", "1");
        ExecutorService pool = Executors.newFixedThreadPool(6);
        try {
            List<Future<Integer>> results = new ArrayList<>();
            for (int t = 0; t < 6; t++) {
                int base = t * 1000;
                results.add(pool.submit(() -> {
                    int sum = 0;
                    try (Connection c = connect("txn", p);
                         PreparedStatement ps = c.prepareStatement("select ?::int + 1")) {
                        for (int i = 0; i < 50; i++) {
                            ps.setInt(1, base + i);
                            try (ResultSet rs = ps.executeQuery()) {
                                rs.next();
                                assertThat(rs.getInt(1)).isEqualTo(base + i + 1);
                                sum++;
                            }
                            if (i % 10 == 0) {
                                c.setAutoCommit(false);
                                one(c, "select 1");
                                c.commit();
                                c.setAutoCommit(true);
                            }
                        }
                    }
                    return sum;
                }));
            }
            for (Future<Integer> f : results) {
                assertThat(f.get()).isEqualTo(50);
            }
        } finally {
            pool.shutdownNow();
        }
        assertThat(proxy.poolStats()).anySatisfy(s -> {
            assertThat(s.mode()).isEqualTo("transaction");
            assertThat(s.size()).isEqualTo(2);
            assertThat(s.serversActive() + s.serversIdle()).isLessThanOrEqualTo(2);
            assertThat(s.transactions()).isGreaterThanOrEqualTo(6 * 50);
        });
        String metrics = dev.pgmux.admin.Metrics.withJvm(dev.pgmux.metrics.ProxyCollector.of(proxy, () -> 100, "test"))
                .text();
        assertThat(metrics)
                .containsPattern("pgmux_pool_transactions_total\\{mode=\"transaction\",pool=\"alice@postgres/[^\"]+\"} [1-9]")
                .containsPattern("pgmux_pool_query_seconds_total\\{mode=\"transaction\",pool=\"alice@postgres/[^\"]+\"} 0\\.[0-9]*[1-9]")
                .containsPattern("\npgmux_query_duration_seconds_count [1-9][0-9]{2,}\n")
                .containsPattern("\npgmux_transaction_duration_seconds_count [1-9][0-9]{2,}\n")
                .containsPattern("\npgmux_pool_wait_duration_seconds_count [1-9]")
                .contains("# TYPE pgmux_pool_clients_waiting gauge");
    }

    @Test
    void pgjdbcBatchesPipelineThroughATransactionPool() throws Exception {
        Properties p = new Properties();
        p.setProperty("prepareThreshold", "1");
        try (Connection c = connect("txn", p); Connection other = connect("txn", p)) {
            try (Statement s = c.createStatement()) {
                s.execute("create temp table batch_t(x int)"); // pins c: the table lives on its server
            }
            try (PreparedStatement ps = c.prepareStatement("insert into batch_t values (?)")) {
                for (int i = 1; i <= 500; i++) {
                    ps.setInt(1, i);
                    ps.addBatch(); // several Bind/Execute before one Sync: a pipeline
                }
                assertThat(ps.executeBatch()).hasSize(500);
            }
            assertThat(one(c, "select sum(x) from batch_t")).isEqualTo("125250");
            // an unpinned client's batch, pipelined up to one Sync, on whichever server it gets
            try (Statement s = other.createStatement()) {
                for (int i = 0; i < 200; i++) {
                    s.addBatch("set local work_mem = '5MB'");
                }
                assertThat(s.executeBatch()).hasSize(200);
            }
            assertThat(one(other, "show work_mem")).isEqualTo("4MB");
        }
    }

    @Test
    void aClientWaitingPastTheWaitTimeoutGets53300() throws Exception {
        try (Connection holder = connect("txn1")) {
            holder.setAutoCommit(false);
            one(holder, "select 1"); // holds the only server in its transaction
            assertThatThrownBy(() -> {
                try (Connection c = connect("txn1")) {
                    one(c, "select 2");
                }
            }).isInstanceOfSatisfying(PSQLException.class, e -> assertThat(e.getSQLState()).isEqualTo("53300"));
            holder.rollback();
        }
    }
}
