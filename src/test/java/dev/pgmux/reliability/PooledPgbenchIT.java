package dev.pgmux.reliability;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.pgmux.AuthMode;
import dev.pgmux.BackendConfig;
import dev.pgmux.PoolConfig;
import dev.pgmux.PoolMode;
import dev.pgmux.ProxyServer;
import dev.pgmux.embedded.LocalPostgres;
import dev.pgmux.pool.PoolStats;
import dev.pgmux.testing.TestServers;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * pgbench through session and transaction pools, with each query mode (simple, extended, prepared: libpq's named
 * statements on whichever server a transaction gets), and many clients on few servers: every transaction pgbench
 * reports is in {@code pgbench_history}, and the balances add up.
 *
 * <p>With many clients the check uses {@code -M extended}: pgbench's {@code -M prepared} prepares each statement
 * of a script synchronously at its first use, blocking the pgbench thread, while the thread's other clients hold
 * their servers inside a transaction (BEGIN); with more clients than servers that deadlocks pgbench through any
 * transaction pooler, as it would with as many dedicated connections as pool_size.
 *
 * <p>CI runs {@value #DEFAULT_CLIENTS} clients on {@value #POOL_SIZE} servers for {@value #DEFAULT_SECONDS} s. The soak
 * of the pooling issue, 10,000 clients on 20 servers: {@code ./mvnw verify -Dtest=PooledPgbenchIT
 * -Dpgmux.pool.clients=10000 -Dpgmux.pool.seconds=240} (pgbench's {@code -T} counts the time its clients take to
 * connect, a minute or two for 10,000 SCRAM logins on two cores, so the clients run together for the rest; only the
 * pool's servers reach PostgreSQL).
 */
class PooledPgbenchIT {
    private static final Logger log = LoggerFactory.getLogger(PooledPgbenchIT.class);
    static final int POOL_SIZE = 20;
    static final int DEFAULT_CLIENTS = 200;
    static final int DEFAULT_SECONDS = 8;

    static LocalPostgres pg;
    static ProxyServer sessionPool;
    static ProxyServer transactionPool;

    @BeforeAll
    static void start() throws Exception {
        assumeTrue(Pgbench.installed(), "pgbench is not installed");
        pg = TestServers.pg17b();
        Jdbc.ensureDatabase(pg);
        String verifier;
        try (Connection c = java.sql.DriverManager.getConnection(pg.jdbcUrl("postgres"), TestServers.SUPERUSER,
                TestServers.SUPERUSER_PASSWORD); Statement s = c.createStatement();
             ResultSet rs = s.executeQuery("select rolpassword from pg_authid where rolname = 'alice'")) {
            rs.next();
            verifier = rs.getString(1);
        }
        sessionPool = pooled(verifier, PoolMode.SESSION);
        transactionPool = pooled(verifier, PoolMode.TRANSACTION);
    }

    /** alice's own verifier at pgmux: pgmux logs in to the server with the ClientKey pgbench's proof reveals. */
    static ProxyServer pooled(String verifier, PoolMode mode) throws Exception {
        BackendConfig backend = BackendConfig.builder().host(pg.host()).port(pg.port()).auth(AuthMode.PROXY)
                .clientCredential(verifier)
                .pool(PoolConfig.builder().mode(mode).size(POOL_SIZE).waitTimeout(Duration.ofSeconds(120)).build())
                .build();
        return new ProxyServer("127.0.0.1:0", request -> backend).start();
    }

    @AfterAll
    static void stop() {
        for (ProxyServer p : new ProxyServer[] {sessionPool, transactionPool}) {
            if (p != null) {
                p.close(Duration.ofSeconds(2));
            }
        }
    }

    @ParameterizedTest
    @CsvSource({"transaction,simple,8", "transaction,extended,8", "transaction,prepared,8", "session,prepared,8",
            "transaction,extended,many"})
    void everyTransactionPgbenchReportsIsInTheHistory(String mode, String protocol, String clients,
                                                      @TempDir Path dir) throws Exception {
        int n = clients.equals("many") ? Integer.getInteger("pgmux.pool.clients", DEFAULT_CLIENTS) : 8;
        int seconds = clients.equals("many") ? Integer.getInteger("pgmux.pool.seconds", DEFAULT_SECONDS) : 3;
        ProxyServer proxy = mode.equals("session") ? sessionPool : transactionPool;
        Pgbench.run(proxy.port(), dir.resolve("init.log"), 120, "-i", "-s", "1", "-q");
        // With many clients, simple-update (no branch and teller rows, which serialize every transaction at scale 1):
        // each still writes one history row and changes one account's balance by its delta.
        String script = clients.equals("many") ? "simple-update" : "tpcb-like";
        Process p = Pgbench.start(proxy.port(), dir.resolve("run.log"), "-n", "-b", script,
                "-M", protocol, "-c", Integer.toString(n), "-j", "2", "-T", Integer.toString(seconds));
        Pgbench.Result r = Pgbench.finish(p, dir.resolve("run.log"), seconds + 600L);
        log.info("pgbench through a {} pool mode={} clients={} processed={} failed={}", mode, protocol, n,
                r.processed(), r.failed());
        assertThat(r.processed()).as(r.output()).isPositive();
        assertThat(r.failed()).as(r.output()).isZero();
        try (Connection direct = pg.connect(Jdbc.DATABASE, TestServers.ALICE, TestServers.ALICE_PASSWORD)) {
            assertThat(Long.parseLong(Jdbc.one(direct, "select count(*) from pgbench_history")))
                    .as("history rows").isEqualTo(r.processed());
            assertThat(Jdbc.one(direct, "select coalesce(sum(delta), 0) from pgbench_history"))
                    .isEqualTo(Jdbc.one(direct, "select sum(abalance) from pgbench_accounts"));
        }
        for (PoolStats s : proxy.poolStats()) {
            assertThat(s.serversActive() + s.serversIdle() + s.serversOpening()).isLessThanOrEqualTo(POOL_SIZE);
        }
    }
}
