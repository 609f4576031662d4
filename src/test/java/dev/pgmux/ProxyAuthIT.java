package dev.pgmux;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.pgmux.auth.ScramVerifier;
import dev.pgmux.embedded.LocalPostgres;
import com.ongres.scram.client.ScramClient;
import dev.pgmux.testing.RawClient;
import dev.pgmux.testing.TestCerts;
import dev.pgmux.testing.TestServers;
import java.io.IOException;
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
import java.util.List;
import java.util.Properties;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.postgresql.util.PSQLException;

/**
 * Authentication at pgmux ({@code auth: proxy}) end to end: pgmux checks the client's SCRAM proof itself (SCRAM-SHA-256-PLUS
 * bound to pgmux's certificate on TLS) and logs in to the server on its own, with the route's backend password or,
 * when there is none, with the ClientKey the client's proof revealed. Real PostgreSQL behind, pgjdbc and psql in
 * front.
 */
class ProxyAuthIT {
    static LocalPostgres pg;
    static ProxyServer proxy;
    static String aliceVerifier;
    @TempDir
    static Path dir;

    @BeforeAll
    static void start() throws Exception {
        pg = TestServers.pg17();
        try (Connection c = DriverManager.getConnection(pg.jdbcUrl("postgres"), TestServers.SUPERUSER,
                TestServers.SUPERUSER_PASSWORD); Statement s = c.createStatement();
             ResultSet rs = s.executeQuery("select rolpassword from pg_authid where rolname = 'alice'")) {
            rs.next();
            aliceVerifier = rs.getString(1);
        }
        String tenantVerifier = ScramVerifier.generate("tenant_pw".toCharArray()).text();
        Path authFile = dir.resolve("userlist.txt");
        Files.writeString(authFile, "\"fileuser\" \"" + ScramVerifier.generate("file_pw".toCharArray()).text() + "\"\n"
                + "\"plainuser\" \"plain_pw\"\n");
        StaticRouter router = StaticRouter.empty()
                // the server's own verifier, copied from pg_authid: no password stored at pgmux
                .put(TestServers.ALICE, backend().auth(AuthMode.PROXY).clientCredential(aliceVerifier).build())
                // a tenant name of pgmux's own, logged in to the server as alice with the route's password
                .put("tenant", backend().user(TestServers.ALICE).auth(AuthMode.PROXY).clientCredential(tenantVerifier)
                        .password(Secret.of(TestServers.ALICE_PASSWORD)).build())
                .put("tenant_md5", backend().user(TestServers.MD5_USER).auth(AuthMode.PROXY)
                        .clientCredential(tenantVerifier).password(Secret.of(TestServers.MD5_PASSWORD)).build())
                .put("tenant_clear", backend().user(TestServers.CLEAR_USER).auth(AuthMode.PROXY)
                        .clientCredential(tenantVerifier).password(Secret.of(TestServers.CLEAR_PASSWORD)).build())
                .put("tenant_badpw", backend().user(TestServers.ALICE).auth(AuthMode.PROXY)
                        .clientCredential(tenantVerifier).password(Secret.of("not the password")).build())
                .put("nocred", backend().user(TestServers.ALICE).auth(AuthMode.PROXY).build())
                .put("fileuser", backend().user(TestServers.ALICE).auth(AuthMode.PROXY)
                        .password(Secret.of(TestServers.ALICE_PASSWORD)).build())
                .put("plainuser", backend().user(TestServers.ALICE).auth(AuthMode.PROXY)
                        .password(Secret.of(TestServers.ALICE_PASSWORD)).build());
        proxy = new ProxyServer("127.0.0.1:0", router)
                .withTls(TlsConfig.fromPemFiles(TestCerts.serverCert(), TestCerts.serverKey()))
                .withAuthFile(authFile)
                .withLimits(Limits.DEFAULT.withBackendConnectTimeout(Duration.ofSeconds(2)))
                .start();
    }

    @AfterAll
    static void stop() {
        if (proxy != null) {
            proxy.close(Duration.ofSeconds(2));
        }
    }

    static BackendConfig.Builder backend() {
        return BackendConfig.builder().host(pg.host()).port(pg.port());
    }

    static Connection connect(String user, String password, Properties extra) throws SQLException {
        Properties p = new Properties();
        p.setProperty("user", user);
        p.setProperty("password", password);
        p.setProperty("sslmode", "disable");
        p.setProperty("connectTimeout", "10");
        p.putAll(extra);
        return DriverManager.getConnection("jdbc:postgresql://127.0.0.1:" + proxy.port() + "/postgres", p);
    }

    static Connection connect(String user, String password) throws SQLException {
        return connect(user, password, new Properties());
    }

    static String one(Connection c, String sql) throws SQLException {
        try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery(sql)) {
            assertThat(rs.next()).isTrue();
            return rs.getString(1);
        }
    }

    @Test
    void theServersOwnVerifierLogsInWithTheClientKeyTheProofRevealed() throws Exception {
        try (Connection c = connect(TestServers.ALICE, TestServers.ALICE_PASSWORD)) {
            assertThat(one(c, "select current_user")).isEqualTo(TestServers.ALICE);
            assertThat(one(c, "select 6 * 7")).isEqualTo("42");
        }
    }

    @Test
    void aWrongPasswordGets28P01AsFromPostgres() {
        assertThatThrownBy(() -> connect(TestServers.ALICE, "wrong").close())
                .isInstanceOfSatisfying(PSQLException.class, e -> {
                    assertThat(e.getSQLState()).isEqualTo("28P01");
                    assertThat(e.getServerErrorMessage().getMessage())
                            .isEqualTo("password authentication failed for user \"alice\"");
                });
    }

    @Test
    void aUserWithoutCredentialGetsTheSameAnswerAsAWrongPassword() {
        assertThatThrownBy(() -> connect("nocred", "anything").close())
                .isInstanceOfSatisfying(PSQLException.class, e -> {
                    assertThat(e.getSQLState()).isEqualTo("28P01");
                    assertThat(e.getServerErrorMessage().getMessage())
                            .isEqualTo("password authentication failed for user \"nocred\"");
                });
    }

    @Test
    void aRenamedUserLogsInWithTheRoutesPasswordOverScramMd5AndCleartext() throws Exception {
        try (Connection c = connect("tenant", "tenant_pw")) {
            assertThat(one(c, "select current_user")).isEqualTo(TestServers.ALICE);
        }
        // MD5 through a rename: impossible when relaying (the hash includes the user name), fine at pgmux
        try (Connection c = connect("tenant_md5", "tenant_pw")) {
            assertThat(one(c, "select current_user")).isEqualTo(TestServers.MD5_USER);
        }
        try (Connection c = connect("tenant_clear", "tenant_pw")) {
            assertThat(one(c, "select current_user")).isEqualTo(TestServers.CLEAR_USER);
        }
    }

    @Test
    void aBackendLoginFailureIsAClearFatalThatNamesTheBackendUser() {
        assertThatThrownBy(() -> connect("tenant_badpw", "tenant_pw").close())
                .isInstanceOfSatisfying(PSQLException.class, e -> {
                    assertThat(e.getSQLState()).isEqualTo("08006");
                    assertThat(e.getServerErrorMessage().getMessage())
                            .isEqualTo("pgmux could not log in to the backend server as user \"alice\"");
                });
    }

    @Test
    void channelBindingIsRequiredAndWorksOverTls() throws Exception {
        Properties tls = new Properties();
        tls.setProperty("sslmode", "require");
        tls.setProperty("channelBinding", "require");
        try (Connection c = connect(TestServers.ALICE, TestServers.ALICE_PASSWORD, tls)) {
            assertThat(one(c, "select current_user")).isEqualTo(TestServers.ALICE);
        }
        try (Connection c = connect("tenant", "tenant_pw", tls)) {
            assertThat(one(c, "select current_user")).isEqualTo(TestServers.ALICE);
        }
    }

    @Test
    void theAuthFileGivesVerifiersAndPlainPasswords() throws Exception {
        try (Connection c = connect("fileuser", "file_pw")) {
            assertThat(one(c, "select current_user")).isEqualTo(TestServers.ALICE);
        }
        try (Connection c = connect("plainuser", "plain_pw")) {
            assertThat(one(c, "select current_user")).isEqualTo(TestServers.ALICE);
        }
        assertThatThrownBy(() -> connect("fileuser", "plain_pw").close())
                .isInstanceOfSatisfying(PSQLException.class, e -> assertThat(e.getSQLState()).isEqualTo("28P01"));
    }

    @Test
    void aQueryPipelinedRightAfterTheProofWaitsForPgmuxsOwnLogin() throws Exception {
        // The client may send its first query with its SCRAM final message; the server must not see it while pgmux
        // is still answering the server's own authentication request.
        try (RawClient c = new RawClient("127.0.0.1", proxy.port())) {
            c.setTimeout(10_000);
            c.startup(0, RawClient.params("user", TestServers.ALICE, "database", "postgres"));
            RawClient.Message sasl = c.read();
            assertThat(sasl.type()).isEqualTo('R');
            ScramClient scram = ScramClient.builder().advertisedMechanisms(List.of("SCRAM-SHA-256"))
                    .username("*").password(TestServers.ALICE_PASSWORD.toCharArray()).build();
            c.send(saslMessage(scram.clientFirstMessage().toString(), "SCRAM-SHA-256"));
            RawClient.Message cont = c.read();
            assertThat(cont.int32(0)).isEqualTo(11);
            scram.serverFirstMessage(new String(cont.body(), 4, cont.body().length - 4, StandardCharsets.UTF_8));
            byte[] fin = saslMessage(scram.clientFinalMessage().toString(), null);
            byte[] query = queryMessage("select 'pipelined'");
            byte[] both = new byte[fin.length + query.length];
            System.arraycopy(fin, 0, both, 0, fin.length);
            System.arraycopy(query, 0, both, fin.length, query.length);
            c.send(both);
            c.readUntil('Z');
            RawClient.Message row = c.readUntil('D');
            assertThat(new String(row.body(), StandardCharsets.UTF_8)).contains("pipelined");
            assertThat(c.readUntil('Z').type()).isEqualTo('Z');
        }
    }

    /** A 'p' message: SASLInitialResponse when {@code mechanism} is given, else SASLResponse. */
    static byte[] saslMessage(String data, String mechanism) {
        byte[] d = data.getBytes(StandardCharsets.UTF_8);
        java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
        java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate(1024);
        b.put((byte) 'p').putInt(0);
        if (mechanism != null) {
            b.put(mechanism.getBytes(StandardCharsets.US_ASCII)).put((byte) 0).putInt(d.length);
        }
        b.put(d);
        b.putInt(1, b.position() - 1);
        out.write(b.array(), 0, b.position());
        return out.toByteArray();
    }

    static byte[] queryMessage(String sql) {
        byte[] q = sql.getBytes(StandardCharsets.UTF_8);
        java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate(q.length + 6);
        b.put((byte) 'Q').putInt(q.length + 5).put(q).put((byte) 0);
        return b.array();
    }

    @Test
    void psqlWithChannelBindingRequiredOverTls() throws Exception {
        assumeTrue(onPath("psql"), "psql is not installed");
        String conninfo = "host=127.0.0.1 port=" + proxy.port() + " user=alice dbname=postgres sslmode=require"
                + " channel_binding=require";
        ProcessBuilder pb = new ProcessBuilder("psql", "-X", "-At", conninfo, "-c", "select current_user");
        pb.environment().put("PGPASSWORD", TestServers.ALICE_PASSWORD);
        pb.redirectErrorStream(true);
        Process p = pb.start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
        assertThat(p.waitFor(30, TimeUnit.SECONDS)).isTrue();
        assertThat(out).isEqualTo("alice");
        assertThat(p.exitValue()).isZero();
    }

    static boolean onPath(String command) throws IOException {
        List<String> dirs = new ArrayList<>(List.of(System.getenv().getOrDefault("PATH", "").split(":")));
        return dirs.stream().anyMatch(d -> Files.isExecutable(Path.of(d, command)));
    }
}
