package dev.pgmux;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.pgmux.embedded.LocalPostgres;
import dev.pgmux.testing.TestCerts;
import dev.pgmux.testing.TestServers;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.util.Base64;
import java.util.Properties;
import java.util.concurrent.TimeUnit;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.postgresql.util.PSQLException;

/**
 * The client authentication methods of {@code auth: proxy} besides SCRAM, end to end with pgjdbc (and psql where
 * installed) in front and a real PostgreSQL behind: MD5 for an md5 hash, the password in cleartext (refused without
 * TLS), trust, a client certificate whose CN is the user name, and an {@link Authenticator} that takes a JWT as the
 * password. Each test asserts the user the server saw, or the SQLSTATE and message PostgreSQL would have sent.
 */
class ProxyAuthMethodsIT {
    static final byte[] JWT_KEY = "pgmux-test-jwt-key-0123456789abcdef".getBytes(StandardCharsets.US_ASCII);
    static LocalPostgres pg;
    /** Without a hook; TLS with a client CA. */
    static ProxyServer proxy;
    /** With a hook that takes a JWT for the password, and fails for the user "boom". */
    static ProxyServer tokens;

    @BeforeAll
    static void start() throws Exception {
        pg = TestServers.pg17();
        String aliceVerifier = storedPassword(TestServers.ALICE);
        String md5Hash = storedPassword(TestServers.MD5_USER);
        assertThat(md5Hash).startsWith("md5");
        TlsConfig tls = TlsConfig.fromPemFiles(TestCerts.serverCert(), TestCerts.serverKey())
                .withClientCa(TestCerts.caCert());
        StaticRouter router = StaticRouter.empty()
                // the server's own md5 hash: pgmux checks the client's MD5 answer, then answers the server's MD5
                // request with the same hash
                .put(TestServers.MD5_USER, proxied(ClientAuthMethod.MD5).clientCredential(md5Hash).build())
                // the password in cleartext against the server's verifier, then to the server as the client sent it
                .put(TestServers.ALICE, proxied(ClientAuthMethod.PASSWORD).clientCredential(aliceVerifier).build())
                .put("guest", proxied(ClientAuthMethod.TRUST).user(TestServers.TRUST_USER).build())
                .put("certuser", proxied(ClientAuthMethod.CERT).user(TestServers.ALICE)
                        .password(Secret.of(TestServers.ALICE_PASSWORD)).build());
        proxy = new ProxyServer("127.0.0.1:0", router).withTls(tls).start();

        StaticRouter apps = StaticRouter.empty()
                .put("app", proxied(ClientAuthMethod.PASSWORD).user(TestServers.ALICE)
                        .password(Secret.of(TestServers.ALICE_PASSWORD)).build())
                .put(TestServers.ALICE, proxied(ClientAuthMethod.PASSWORD).clientCredential(aliceVerifier).build())
                .put("boom", proxied(ClientAuthMethod.PASSWORD).user(TestServers.ALICE)
                        .password(Secret.of(TestServers.ALICE_PASSWORD)).build());
        Authenticator jwt = jwt(JWT_KEY);
        tokens = new ProxyServer("127.0.0.1:0", apps).withTls(tls).withAuthenticator(request -> {
            if (request.user().equals("boom")) {
                throw new IllegalStateException("the token service is down");
            }
            return jwt.authenticate(request);
        }).start();
    }

    @AfterAll
    static void stop() {
        for (ProxyServer p : new ProxyServer[] {proxy, tokens}) {
            if (p != null) {
                p.close(Duration.ofSeconds(2));
            }
        }
    }

    /**
     * The README's example: a platform's tokens (HS256 JWTs whose {@code sub} is the user name) as passwords. Anything
     * that is not a token goes on to the route's stored credential.
     */
    static Authenticator jwt(byte[] key) {
        ObjectMapper json = new ObjectMapper();
        return request -> {
            String[] parts = request.password() == null ? new String[0] : new String(request.password()).split("\\.");
            if (parts.length != 3) {
                return Authenticator.Decision.PASS;
            }
            Mac mac = Mac.getInstance("HmacSHA256");
            mac.init(new SecretKeySpec(key, "HmacSHA256"));
            byte[] signature = mac.doFinal((parts[0] + "." + parts[1]).getBytes(StandardCharsets.US_ASCII));
            JsonNode claims = json.readTree(Base64.getUrlDecoder().decode(parts[1]));
            boolean valid = MessageDigest.isEqual(signature, Base64.getUrlDecoder().decode(parts[2]))
                    && claims.path("sub").asText().equals(request.user())
                    && claims.path("exp").asLong() > Instant.now().getEpochSecond();
            return valid ? Authenticator.Decision.ACCEPT : Authenticator.Decision.refuse("invalid token");
        };
    }

    static String token(byte[] key, String subject, Instant expires) throws Exception {
        Base64.Encoder b64 = Base64.getUrlEncoder().withoutPadding();
        String header = b64.encodeToString("{\"alg\":\"HS256\",\"typ\":\"JWT\"}".getBytes(StandardCharsets.UTF_8));
        String payload = b64.encodeToString(("{\"sub\":\"" + subject + "\",\"exp\":" + expires.getEpochSecond() + "}")
                .getBytes(StandardCharsets.UTF_8));
        Mac mac = Mac.getInstance("HmacSHA256");
        mac.init(new SecretKeySpec(key, "HmacSHA256"));
        return header + "." + payload + "." + b64.encodeToString(mac.doFinal((header + "." + payload)
                .getBytes(StandardCharsets.US_ASCII)));
    }

    static BackendConfig.Builder proxied(ClientAuthMethod method) {
        return BackendConfig.builder().host(pg.host()).port(pg.port()).auth(AuthMode.PROXY).clientAuthMethod(method);
    }

    static String storedPassword(String role) throws SQLException {
        try (Connection c = DriverManager.getConnection(pg.jdbcUrl("postgres"), TestServers.SUPERUSER,
                TestServers.SUPERUSER_PASSWORD); Statement s = c.createStatement();
             ResultSet rs = s.executeQuery("select rolpassword from pg_authid where rolname = '" + role + "'")) {
            assertThat(rs.next()).isTrue();
            return rs.getString(1);
        }
    }

    static Properties tls() {
        Properties p = new Properties();
        p.setProperty("sslmode", "verify-full");
        p.setProperty("sslrootcert", TestCerts.caCert().toString());
        // no client certificate unless a test gives one (pgjdbc would look in ~/.postgresql)
        p.setProperty("sslcert", TestCerts.dir().resolve("none.crt").toString());
        return p;
    }

    static Properties plaintext() {
        Properties p = new Properties();
        p.setProperty("sslmode", "disable");
        return p;
    }

    static Connection connect(ProxyServer server, String user, String password, Properties p) throws SQLException {
        p.setProperty("user", user);
        if (password != null) {
            p.setProperty("password", password);
        }
        p.setProperty("connectTimeout", "10");
        return DriverManager.getConnection("jdbc:postgresql://localhost:" + server.port() + "/postgres", p);
    }

    static String currentUser(ProxyServer server, String user, String password, Properties p) throws SQLException {
        try (Connection c = connect(server, user, password, p); Statement s = c.createStatement();
             ResultSet rs = s.executeQuery("select current_user")) {
            assertThat(rs.next()).isTrue();
            return rs.getString(1);
        }
    }

    static void assertRefused(ProxyServer server, String user, String password, Properties p, String sqlState,
                              String message) {
        assertThatThrownBy(() -> currentUser(server, user, password, p)).as(user)
                .isInstanceOfSatisfying(PSQLException.class, e -> {
                    assertThat(e.getSQLState()).isEqualTo(sqlState);
                    assertThat(e.getServerErrorMessage()).as(e.toString()).isNotNull();
                    assertThat(e.getServerErrorMessage().getMessage()).isEqualTo(message);
                });
    }

    // ---------------------------------------------------------------- MD5

    @Test
    void md5ForAnMd5HashAndTheSameHashLogsInToTheServer() throws Exception {
        assertThat(currentUser(proxy, TestServers.MD5_USER, TestServers.MD5_PASSWORD, plaintext()))
                .isEqualTo(TestServers.MD5_USER);
        assertThat(currentUser(proxy, TestServers.MD5_USER, TestServers.MD5_PASSWORD, tls()))
                .isEqualTo(TestServers.MD5_USER);
        assertRefused(proxy, TestServers.MD5_USER, "wrong", plaintext(), "28P01",
                "password authentication failed for user \"md5_user\"");
    }

    // ---------------------------------------------------------------- cleartext

    @Test
    void cleartextIsRefusedWithoutTlsBeforeThePasswordIsSent() {
        assertRefused(proxy, TestServers.ALICE, TestServers.ALICE_PASSWORD, plaintext(), "28000",
                "password authentication requires an SSL connection");
    }

    @Test
    void cleartextOverTlsAgainstTheServersVerifierThenToTheServer() throws Exception {
        assertThat(currentUser(proxy, TestServers.ALICE, TestServers.ALICE_PASSWORD, tls()))
                .isEqualTo(TestServers.ALICE);
        assertRefused(proxy, TestServers.ALICE, "wrong", tls(), "28P01",
                "password authentication failed for user \"alice\"");
    }

    @Test
    void psqlSendsItsPasswordInCleartextOverTls() throws Exception {
        assumeTrue(ProxyAuthIT.onPath("psql"), "psql is not installed");
        String conninfo = "host=localhost port=" + proxy.port() + " user=alice dbname=postgres sslmode=verify-full"
                + " sslrootcert=" + TestCerts.caCert() + " sslcert=" + TestCerts.dir().resolve("none.crt");
        ProcessBuilder pb = new ProcessBuilder("psql", "-X", "-At", conninfo, "-c", "select current_user");
        pb.environment().put("PGPASSWORD", TestServers.ALICE_PASSWORD);
        pb.redirectErrorStream(true);
        Process p = pb.start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
        assertThat(p.waitFor(30, TimeUnit.SECONDS)).isTrue();
        assertThat(out).isEqualTo("alice");
    }

    // ---------------------------------------------------------------- trust

    @Test
    void trustAsksForNothing() throws Exception {
        assertThat(currentUser(proxy, "guest", null, plaintext())).isEqualTo(TestServers.TRUST_USER);
        assertThat(currentUser(proxy, "guest", "ignored", tls())).isEqualTo(TestServers.TRUST_USER);
    }

    // ---------------------------------------------------------------- cert

    @Test
    void aClientCertificateWhoseCnIsTheUserName() throws Exception {
        assertThat(currentUser(proxy, "certuser", null, withCertificate(TestCerts.client("certuser", true))))
                .isEqualTo(TestServers.ALICE);
    }

    @Test
    void aClientCertificateForAnotherNameOrNoneIs28000() throws Exception {
        assertRefused(proxy, "certuser", null, withCertificate(TestCerts.client("someone", true)), "28000",
                "certificate authentication failed for user \"certuser\"");
        assertRefused(proxy, "certuser", null, tls(), "28000", "connection requires a valid client certificate");
        assertRefused(proxy, "certuser", null, plaintext(), "28000", "connection requires a valid client certificate");
    }

    /** pgjdbc offers only a certificate that one of the CAs pgmux names signed: none here. */
    @Test
    void aClientCertificateTheCaDidNotSignIsNotOffered() throws Exception {
        assertRefused(proxy, "certuser", null, withCertificate(TestCerts.client("certuser", false)), "28000",
                "connection requires a valid client certificate");
    }

    /** libpq sends its certificate whatever the CA: one pgmux cannot verify fails the handshake. */
    @Test
    void psqlWithAClientCertificate() throws Exception {
        assumeTrue(ProxyAuthIT.onPath("psql"), "psql is not installed");
        Psql ok = psql(TestCerts.client("certuser", true));
        assertThat(ok.out()).isEqualTo("alice");
        assertThat(ok.exit()).isZero();
        Psql untrusted = psql(TestCerts.client("certuser", false));
        assertThat(untrusted.exit()).isNotZero();
        assertThat(untrusted.out()).containsIgnoringCase("SSL").doesNotContain("alice");
        // and clients without a certificate keep connecting
        assertThat(currentUser(proxy, TestServers.ALICE, TestServers.ALICE_PASSWORD, tls())).isEqualTo("alice");
    }

    record Psql(int exit, String out) {
    }

    static Psql psql(TestCerts.ClientCert cert) throws Exception {
        String conninfo = "host=localhost port=" + proxy.port() + " user=certuser dbname=postgres sslmode=verify-full"
                + " sslrootcert=" + TestCerts.caCert() + " sslcert=" + cert.cert() + " sslkey=" + cert.key();
        ProcessBuilder pb = new ProcessBuilder("psql", "-X", "-At", "-w", conninfo, "-c", "select current_user");
        pb.redirectErrorStream(true);
        Process p = pb.start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
        assertThat(p.waitFor(30, TimeUnit.SECONDS)).isTrue();
        return new Psql(p.exitValue(), out);
    }

    static Properties withCertificate(TestCerts.ClientCert cert) {
        Properties p = tls();
        p.setProperty("sslcert", cert.cert().toString());
        p.setProperty("sslkey", cert.keyDer().toString());
        return p;
    }

    // ---------------------------------------------------------------- the Authenticator hook

    @Test
    void aTokenTheHookAcceptsLogsInWithTheRoutesBackendPassword() throws Exception {
        String token = token(JWT_KEY, "app", Instant.now().plusSeconds(300));
        assertThat(currentUser(tokens, "app", token, tls())).isEqualTo(TestServers.ALICE);
    }

    @Test
    void aTokenTheHookRefusesIs28P01WithItsMessage() throws Exception {
        String otherKey = token("another-key-0123456789abcdef-0123".getBytes(StandardCharsets.US_ASCII), "app",
                Instant.now().plusSeconds(300));
        String otherUser = token(JWT_KEY, "someone", Instant.now().plusSeconds(300));
        String expired = token(JWT_KEY, "app", Instant.now().minusSeconds(1));
        for (String token : new String[] {otherKey, otherUser, expired}) {
            assertRefused(tokens, "app", token, tls(), "28P01", "invalid token");
        }
    }

    @Test
    void whatIsNoTokenGoesOnToTheStoredCredential() throws Exception {
        assertThat(currentUser(tokens, TestServers.ALICE, TestServers.ALICE_PASSWORD, tls()))
                .isEqualTo(TestServers.ALICE);
        assertRefused(tokens, "app", "not a token", tls(), "28P01", "password authentication failed for user \"app\"");
    }

    @Test
    void aHookThatThrowsIs08006() {
        assertRefused(tokens, "boom", token(JWT_KEY, "boom"), tls(), "08006", "could not authenticate the connection");
    }

    static String token(byte[] key, String subject) {
        try {
            return token(key, subject, Instant.now().plusSeconds(300));
        } catch (Exception e) {
            throw new AssertionError(e);
        }
    }
}
