package dev.pgmux.compat;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.pgmux.AuthMode;
import dev.pgmux.PoolConfig;
import dev.pgmux.PoolMode;
import dev.pgmux.BackendConfig;
import dev.pgmux.ProxyServer;
import dev.pgmux.Secret;
import dev.pgmux.StaticRouter;
import dev.pgmux.auth.ScramVerifier;
import dev.pgmux.embedded.LocalPostgres;
import dev.pgmux.testing.TestServers;
import java.io.IOException;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * node-postgres through pgmux beyond the compatibility matrix ({@link DriverMatrixIT}, whose checks it runs in every
 * mode): {@code compat/node/pooled.js}, many clients with named statements sharing a transaction pool, and
 * {@code compat/node/login.js} for failed logins at pgmux and a client that gives up while connecting. Skipped where
 * node or npm is not installed (Debian: nodejs npm); the packages come from {@link NodePackages}.
 */
class NodePostgresIT {
    static final Path DIR = NodePackages.DIR;
    static final Duration NODE_TIMEOUT = Duration.ofSeconds(90);

    static LocalPostgres pg;
    static ProxyServer proxyAuth;
    @TempDir
    static Path tmp;

    @BeforeAll
    static void start() throws Exception {
        String missing = NodePackages.install();
        assumeTrue(missing == null, missing);
        pg = TestServers.pg17();
        String aliceVerifier;
        try (Connection c = DriverManager.getConnection(pg.jdbcUrl("postgres"), TestServers.SUPERUSER,
                TestServers.SUPERUSER_PASSWORD); Statement s = c.createStatement();
             ResultSet rs = s.executeQuery("select rolpassword from pg_authid where rolname = 'alice'")) {
            rs.next();
            aliceVerifier = rs.getString(1);
        }
        proxyAuth = new ProxyServer("127.0.0.1:0", StaticRouter.empty()
                // the server's own verifier: pgmux logs in with the ClientKey node-postgres' proof revealed
                .put(TestServers.ALICE, backend().auth(AuthMode.PROXY).clientCredential(aliceVerifier).build())
                .put("nocred", backend().user(TestServers.ALICE).auth(AuthMode.PROXY).build())
                .put("txnpool", pooled(PoolMode.TRANSACTION).build()))
                .start();
    }

    @AfterAll
    static void stop() {
        if (proxyAuth != null) {
            proxyAuth.close(Duration.ofSeconds(2));
        }
    }

    static BackendConfig.Builder pooled(PoolMode mode) {
        return backend().user(TestServers.ALICE).auth(AuthMode.PROXY)
                .clientCredential(ScramVerifier.generate("pool_pw".toCharArray()).text())
                .password(Secret.of(TestServers.ALICE_PASSWORD))
                .pool(PoolConfig.builder().mode(mode).size(3).build());
    }

    static BackendConfig.Builder backend() {
        return BackendConfig.builder().host(pg.host()).port(pg.port());
    }

    /** A node-postgres connection string; lab is alice's own database, so check.js may create temporary tables. */
    static String url(ProxyServer proxy, String user, String password) {
        return "postgresql://" + user + ":" + URLEncoder.encode(password, StandardCharsets.UTF_8) + "@127.0.0.1:"
                + proxy.port() + "/" + TestServers.LAB;
    }

    @Test
    void manyClientsWithNamedStatementsShareATransactionPool() throws Exception {
        assertAllPass(node("pooled.js", url(proxyAuth, "txnpool", "pool_pw")));
    }

    @Test
    void aWrongPasswordIs28P01AndEndWhileConnectingIsQuiet() throws Exception {
        Output out = node("login.js", url(proxyAuth, TestServers.ALICE, "wrong"));
        assertThat(out.lines()).as(out.describe()).containsExactly(
                "28P01 password authentication failed for user \"alice\"", "PASS end() while connecting");
        assertThat(out.exit()).as(out.describe()).isZero();
    }

    @Test
    void aUserWithoutCredentialGetsTheSameAnswerAsAWrongPassword() throws Exception {
        Output out = node("login.js", url(proxyAuth, "nocred", "anything"));
        assertThat(out.lines()).as(out.describe()).containsExactly(
                "28P01 password authentication failed for user \"nocred\"", "PASS end() while connecting");
        assertThat(out.exit()).as(out.describe()).isZero();
    }

    static void assertAllPass(Output out) {
        assertThat(out.exit()).as(out.describe()).isZero();
        List<String> lines = out.lines();
        assertThat(lines).as(out.describe()).isNotEmpty().last().isEqualTo("all passed");
        assertThat(lines.subList(0, lines.size() - 1)).as(out.describe()).isNotEmpty()
                .allMatch(line -> line.startsWith("PASS "));
    }

    static Output node(String script, String url) throws IOException, InterruptedException {
        return run(NODE_TIMEOUT, "node", script, url);
    }

    record Output(String command, int exit, List<String> lines, String stderr) {
        String describe() {
            return command + " exited " + exit + "\nstdout:\n" + String.join("\n", lines) + "\nstderr:\n" + stderr;
        }
    }

    /** Runs a command in compat/node with no PG* variables (they would change what node-postgres connects to). */
    static Output run(Duration timeout, String... command) throws IOException, InterruptedException {
        Path stdout = Files.createTempFile(tmp, "out", ".txt");
        Path stderr = Files.createTempFile(tmp, "err", ".txt");
        ProcessBuilder pb = new ProcessBuilder(command).directory(DIR.toFile())
                .redirectOutput(stdout.toFile()).redirectError(stderr.toFile());
        pb.environment().keySet().removeIf(name -> name.startsWith("PG"));
        Process p = pb.start();
        int exit;
        if (p.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
            exit = p.exitValue();
        } else {
            p.descendants().forEach(ProcessHandle::destroyForcibly);
            p.destroyForcibly().waitFor();
            exit = -1;
        }
        String name = String.join(" ", command) + (exit == -1 ? " (killed after " + timeout + ")" : "");
        return new Output(name, exit, Files.readAllLines(stdout), Files.readString(stderr));
    }
}
