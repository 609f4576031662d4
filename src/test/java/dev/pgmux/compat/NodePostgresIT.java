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
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * node-postgres through pgmux: {@code compat/node/check.js} (queries, COPY, a cursor, LISTEN/NOTIFY, cancel) through
 * a passthrough route and through {@code auth: proxy} routes, where node-postgres does SCRAM with pgmux itself; and
 * {@code compat/node/login.js} for failed logins and a client that gives up while connecting. Skipped where node or
 * npm is not installed (Debian: nodejs npm). The packages come from {@code compat/node/package-lock.json} through
 * {@code npm ci}, run again only when the lockfile changed.
 */
class NodePostgresIT {
    static final Path DIR = Path.of("compat", "node").toAbsolutePath();
    /** Written into node_modules after a successful npm ci; npm ci empties node_modules first. */
    static final Path STAMP = DIR.resolve("node_modules/.pgmux-lockfile-sha256");
    static final Duration NPM_TIMEOUT = Duration.ofMinutes(3);
    static final Duration NODE_TIMEOUT = Duration.ofSeconds(90);

    static LocalPostgres pg;
    static ProxyServer passthrough;
    static ProxyServer proxyAuth;
    @TempDir
    static Path tmp;

    @BeforeAll
    static void start() throws Exception {
        assumeTrue(onPath("node"), "node is not installed");
        assumeTrue(onPath("npm"), "npm is not installed");
        npmCi();
        pg = TestServers.pg17();
        String aliceVerifier;
        try (Connection c = DriverManager.getConnection(pg.jdbcUrl("postgres"), TestServers.SUPERUSER,
                TestServers.SUPERUSER_PASSWORD); Statement s = c.createStatement();
             ResultSet rs = s.executeQuery("select rolpassword from pg_authid where rolname = 'alice'")) {
            rs.next();
            aliceVerifier = rs.getString(1);
        }
        passthrough = new ProxyServer("127.0.0.1:0", request -> backend().build()).start();
        proxyAuth = new ProxyServer("127.0.0.1:0", StaticRouter.empty()
                // the server's own verifier: pgmux logs in with the ClientKey node-postgres' proof revealed
                .put(TestServers.ALICE, backend().auth(AuthMode.PROXY).clientCredential(aliceVerifier).build())
                // a name of pgmux's own, logged in to the server as alice with the route's password
                .put("tenant", backend().user(TestServers.ALICE).auth(AuthMode.PROXY)
                        .clientCredential(ScramVerifier.generate("tenant_pw".toCharArray()).text())
                        .password(Secret.of(TestServers.ALICE_PASSWORD)).build())
                .put("nocred", backend().user(TestServers.ALICE).auth(AuthMode.PROXY).build())
                .put("sessionpool", pooled(PoolMode.SESSION).build())
                .put("txnpool", pooled(PoolMode.TRANSACTION).build()))
                .start();
    }

    @AfterAll
    static void stop() {
        for (ProxyServer proxy : new ProxyServer[] {passthrough, proxyAuth}) {
            if (proxy != null) {
                proxy.close(Duration.ofSeconds(2));
            }
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
    void checksPassThroughAPassthroughRoute() throws Exception {
        assertAllPass(node("check.js", url(passthrough, TestServers.ALICE, TestServers.ALICE_PASSWORD)));
    }

    @Test
    void checksPassWithScramAtPgmuxAndTheServersVerifier() throws Exception {
        assertAllPass(node("check.js", url(proxyAuth, TestServers.ALICE, TestServers.ALICE_PASSWORD)));
    }

    @Test
    void checksPassWithScramAtPgmuxAndARenamedUser() throws Exception {
        assertAllPass(node("check.js", url(proxyAuth, "tenant", "tenant_pw")));
    }

    @Test
    void checksPassThroughASessionPool() throws Exception {
        assertAllPass(node("check.js", url(proxyAuth, "sessionpool", "pool_pw")));
    }

    @Test
    void checksPassThroughATransactionPool() throws Exception {
        assertAllPass(node("check.js", url(proxyAuth, "txnpool", "pool_pw")));
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

    /** npm ci into compat/node/node_modules, unless the stamp there says it was done for this lockfile. */
    static void npmCi() throws Exception {
        String lock = sha256(DIR.resolve("package.json"), DIR.resolve("package-lock.json"));
        if (Files.exists(STAMP) && Files.readString(STAMP).equals(lock)) {
            return;
        }
        // --ignore-scripts: none of these packages needs an install step, and none gets to run one
        Output out = run(NPM_TIMEOUT, "npm", "ci", "--no-audit", "--no-fund", "--ignore-scripts");
        assertThat(out.exit()).as(out.describe()).isZero();
        Files.writeString(STAMP, lock);
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

    static String sha256(Path... files) throws IOException, NoSuchAlgorithmException {
        MessageDigest sha = MessageDigest.getInstance("SHA-256");
        for (Path file : files) {
            sha.update(Files.readAllBytes(file));
        }
        return HexFormat.of().formatHex(sha.digest());
    }

    static boolean onPath(String tool) {
        for (String dir : System.getenv().getOrDefault("PATH", "").split(":")) {
            if (!dir.isEmpty() && Files.isExecutable(Path.of(dir, tool))) {
                return true;
            }
        }
        return false;
    }
}
