package dev.pgmux;

import static org.assertj.core.api.Assertions.assertThat;

import dev.pgmux.embedded.LocalPostgres;
import dev.pgmux.testing.TestCerts;
import dev.pgmux.testing.TestServers;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * TLS policy at both ends. Toward clients: protocol versions below the configured minimum are refused in the
 * handshake (an OpenSSL client offering only TLS 1.1, or 1.2 against a TLS 1.3 minimum, gets a "protocol
 * version" alert; the same client at an allowed version gets through). Toward backends: a certificate past its
 * expiry date fails {@code verify-ca} and {@code verify-full} as a wrong CA does, while {@code require} (which
 * checks nothing, as in libpq) still connects.
 */
class TlsPolicyIT {
    static LocalPostgres expired;
    static ProxyServer proxy;
    static ProxyServer tls13;

    @BeforeAll
    static void start() throws Exception {
        expired = LocalPostgres.builder().version("17").superuserPassword(TestServers.SUPERUSER_PASSWORD)
                .user(TestServers.ALICE, TestServers.ALICE_PASSWORD, "scram-sha-256")
                .tls(TestCerts.expiredCert(), TestCerts.serverKey()).start();
        BackendConfig.Builder b = BackendConfig.builder().host("localhost").port(expired.port());
        StaticRouter router = StaticRouter.empty()
                .put("full", b.user(TestServers.ALICE).sslMode(SslMode.VERIFY_FULL).sslRootCert(TestCerts.caCert()).build())
                .put("ca", b.user(TestServers.ALICE).sslMode(SslMode.VERIFY_CA).sslRootCert(TestCerts.caCert()).build())
                .put("require", b.user(TestServers.ALICE).sslMode(SslMode.REQUIRE).sslRootCert(null).build());
        proxy = new ProxyServer("127.0.0.1:0", router)
                .withTls(TlsConfig.fromPemFiles(TestCerts.serverCert(), TestCerts.serverKey()))
                .start();
        tls13 = new ProxyServer("127.0.0.1:0", router)
                .withTls(TlsConfig.fromPemFiles(TestCerts.serverCert(), TestCerts.serverKey()).withMinVersion("TLSv1.3"))
                .start();
    }

    @AfterAll
    static void stop() {
        for (ProxyServer p : new ProxyServer[] {proxy, tls13}) {
            if (p != null) {
                p.close(Duration.ofSeconds(2));
            }
        }
        if (expired != null) {
            expired.close();
        }
    }

    /** What OpenSSL's client prints for a handshake with pgmux after PostgreSQL's SSLRequest, at one version. */
    static String handshake(int port, String version) throws IOException, InterruptedException {
        // SECLEVEL=0 lets the client offer old versions at all; the refusal must come from pgmux.
        Process p = new ProcessBuilder(List.of("openssl", "s_client", "-starttls", "postgres", "-connect",
                "127.0.0.1:" + port, "-" + version, "-cipher", "DEFAULT@SECLEVEL=0"))
                .redirectErrorStream(true).redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")))
                .start();
        if (!p.waitFor(20, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new AssertionError("openssl s_client did not finish");
        }
        return new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    }

    @Test
    void tlsBelowTheMinimumIsRefusedInTheHandshake() throws Exception {
        assertThat(handshake(proxy.port(), "tls1_1")).contains("alert protocol version");
        assertThat(handshake(proxy.port(), "tls1")).contains("alert protocol version");
        assertThat(handshake(proxy.port(), "tls1_2")).contains("Protocol  : TLSv1.2").doesNotContain("Cipher is (NONE)");
        assertThat(handshake(tls13.port(), "tls1_2")).contains("alert protocol version");
        assertThat(handshake(tls13.port(), "tls1_3")).contains("TLSv1.3").doesNotContain("Cipher is (NONE)");
        // and pgmux still serves
        try (Connection c = connect("require")) {
            assertThat(one(c, "select 1")).isEqualTo("1");
        }
    }

    @Test
    void anExpiredBackendCertificateFailsVerificationButNotRequire() throws Exception {
        assertThat(sqlState("full")).isEqualTo("08006");
        assertThat(sqlState("ca")).isEqualTo("08006");
        try (Connection c = connect("require")) {
            assertThat(one(c, "select ssl from pg_stat_ssl where pid = pg_backend_pid()")).isEqualTo("t");
        }
    }

    static Connection connect(String user) throws SQLException {
        Properties p = new Properties();
        p.setProperty("user", user);
        p.setProperty("password", TestServers.ALICE_PASSWORD);
        p.setProperty("sslmode", "disable");
        p.setProperty("connectTimeout", "10");
        return DriverManager.getConnection("jdbc:postgresql://127.0.0.1:" + proxy.port() + "/postgres", p);
    }

    static String sqlState(String user) {
        try (Connection c = connect(user)) {
            throw new AssertionError("connected as " + user);
        } catch (SQLException e) {
            return e.getSQLState();
        }
    }

    static String one(Connection c, String sql) throws SQLException {
        try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery(sql)) {
            rs.next();
            return rs.getString(1);
        }
    }
}
