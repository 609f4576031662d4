package dev.pgmux.reliability;

import static dev.pgmux.testing.RawClient.params;
import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.Level;
import dev.pgmux.AuthMode;
import dev.pgmux.Authenticator;
import dev.pgmux.BackendConfig;
import dev.pgmux.ClientAuthMethod;
import dev.pgmux.ProxyServer;
import dev.pgmux.Router;
import dev.pgmux.Secret;
import dev.pgmux.StaticRouter;
import dev.pgmux.TlsConfig;
import dev.pgmux.auth.Md5Hash;
import dev.pgmux.auth.ScramVerifier;
import dev.pgmux.embedded.LocalPostgres;
import dev.pgmux.testing.TestCerts;
import dev.pgmux.testing.TestServers;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import org.junit.jupiter.api.Test;

/**
 * No password reaches pgmux's log: logins that succeed and fail with SCRAM, md5 and cleartext passwords, in
 * plaintext and over TLS, a password smuggled into the startup packet, a password sent before it was asked for —
 * with pgmux's loggers at TRACE, every event rendered (message, arguments, MDC, exceptions) is searched for each
 * password, in UTF-8, hex and base64.
 */
class SecretsInLogsIT {
    static final String WRONG_SCRAM = "Wr0ng-Scram-Secret-4e1f";
    static final String WRONG_MD5 = "Wr0ng-Md5-Secret-77a0";
    static final String WRONG_CLEAR = "Wr0ng-Clear-Secret-b93c";
    static final String SMUGGLED = "Smuggled-Startup-Secret-0d2e";
    static final String EARLY = "Early-Password-Secret-51c8";

    @Test
    void noPasswordIsEverLogged() throws Exception {
        LocalPostgres pg = TestServers.pg17();
        Router router = request -> switch (request.user()) {
            case "md5_renamed" -> BackendConfig.builder().host(pg.host()).port(pg.port()).user(TestServers.MD5_USER)
                    .build();
            case "smuggler" -> BackendConfig.builder().host(pg.host()).port(pg.port()).user(TestServers.TRUST_USER)
                    .build();
            default -> BackendConfig.builder().host(pg.host()).port(pg.port()).build();
        };
        List<String> secrets = List.of(TestServers.ALICE_PASSWORD, TestServers.MD5_PASSWORD, TestServers.CLEAR_PASSWORD,
                WRONG_SCRAM, WRONG_MD5, WRONG_CLEAR, SMUGGLED, EARLY);
        try (LogCapture log = LogCapture.withLevels(Map.of("dev.pgmux", Level.TRACE));
             ProxyServer proxy = new ProxyServer("127.0.0.1:0", router)
                     .withTls(TlsConfig.fromPemFiles(TestCerts.serverCert(), TestCerts.serverKey())).start()) {
            for (boolean tls : new boolean[] {false, true}) {
                assertLogin(proxy, tls, TestServers.ALICE, TestServers.ALICE_PASSWORD, null);
                assertLogin(proxy, tls, TestServers.ALICE, WRONG_SCRAM, "28P01");
                assertLogin(proxy, tls, TestServers.MD5_USER, TestServers.MD5_PASSWORD, null);
                assertLogin(proxy, tls, TestServers.MD5_USER, WRONG_MD5, "28P01");
                assertLogin(proxy, tls, TestServers.CLEAR_USER, TestServers.CLEAR_PASSWORD, null);
                assertLogin(proxy, tls, TestServers.CLEAR_USER, WRONG_CLEAR, "28P01");
                assertLogin(proxy, tls, "md5_renamed", TestServers.MD5_PASSWORD, "28000");
            }
            // A client that puts a password into its startup packet: the backend refuses the unknown parameter.
            try (Peer peer = Peer.connect(proxy.port())) {
                peer.send(Frames.startup(params("user", "smuggler", "database", "postgres", "password", SMUGGLED)));
                Peer.Reply reply = peer.awaitEnd(Duration.ofSeconds(5));
                assertThat(reply.error()).as(reply.toString()).isNotNull();
            }
            // A client that sends its cleartext password right behind the startup, before it is asked for.
            try (Peer peer = Peer.connect(proxy.port())) {
                byte[] password = (EARLY + "\0").getBytes(StandardCharsets.UTF_8);
                peer.send(Frames.concat(Frames.startup(params("user", TestServers.CLEAR_USER, "database", "postgres")),
                        Frames.message('p', 4 + password.length, password)));
                peer.awaitEnd(Duration.ofSeconds(5));
            }
            Probe.awaitIdle(proxy, Duration.ofSeconds(5));
            proxy.close(Duration.ofSeconds(1));

            String text = log.text();
            assertThat(text).as("the failed logins were logged").contains("login failed");
            for (String secret : secrets) {
                for (String form : forms(secret)) {
                    assertThat(text).as("log output must not contain a password").doesNotContain(form);
                }
            }
        }
    }

    /**
     * Logins at pgmux itself ({@code auth: proxy}): MD5 against an md5 hash, a cleartext password against a verifier,
     * a token the application's hook accepts, refuses or throws on; right and wrong, none of them logged.
     */
    @Test
    void noPasswordOfALoginAtPgmuxIsEverLogged() throws Exception {
        LocalPostgres pg = TestServers.pg17();
        String token = "eyJhbGciOiJIUzI1NiJ9.Token-Secret-9f3a.c2lnbmF0dXJl";
        String refusedToken = "eyJhbGciOiJIUzI1NiJ9.Refused-Token-Secret-1c7e.c2ln";
        String thrownToken = "eyJhbGciOiJIUzI1NiJ9.Thrown-Token-Secret-5d0b.c2ln";
        BackendConfig.Builder proxied = BackendConfig.builder().host(pg.host()).port(pg.port()).auth(AuthMode.PROXY);
        StaticRouter router = StaticRouter.empty()
                .put("md5_client", proxied.clientAuthMethod(ClientAuthMethod.MD5).user(TestServers.MD5_USER)
                        .clientCredential(Md5Hash.of(TestServers.MD5_PASSWORD, "md5_client"))
                        .password(Secret.of(TestServers.MD5_PASSWORD)).build())
                .put("clear_client", proxied.clientAuthMethod(ClientAuthMethod.PASSWORD).user(TestServers.ALICE)
                        .clientCredential(ScramVerifier.generate(TestServers.CLEAR_PASSWORD.toCharArray()).text())
                        .password(Secret.of(TestServers.ALICE_PASSWORD)).build())
                .put("token_client", proxied.clientAuthMethod(ClientAuthMethod.PASSWORD).user(TestServers.ALICE)
                        .clientCredential(null).password(Secret.of(TestServers.ALICE_PASSWORD)).build());
        Authenticator hook = request -> {
            String password = request.password() == null ? "" : new String(request.password());
            if (password.equals(thrownToken)) {
                throw new IllegalStateException("the token service is down");
            }
            return password.equals(token) ? Authenticator.Decision.ACCEPT
                    : password.equals(refusedToken) ? Authenticator.Decision.refuse("invalid token")
                    : Authenticator.Decision.PASS;
        };
        List<String> secrets = List.of(TestServers.MD5_PASSWORD, TestServers.CLEAR_PASSWORD, WRONG_MD5, WRONG_CLEAR,
                token, refusedToken, thrownToken, Md5Hash.of(TestServers.MD5_PASSWORD, "md5_client"));
        try (LogCapture log = LogCapture.withLevels(Map.of("dev.pgmux", Level.TRACE));
             ProxyServer proxy = new ProxyServer("127.0.0.1:0", router)
                     .withTls(TlsConfig.fromPemFiles(TestCerts.serverCert(), TestCerts.serverKey()))
                     .withAuthenticator(hook).start()) {
            for (boolean tls : new boolean[] {false, true}) {
                assertLogin(proxy, tls, "md5_client", TestServers.MD5_PASSWORD, null, TestServers.MD5_USER);
                assertLogin(proxy, tls, "md5_client", WRONG_MD5, "28P01", null);
                assertLogin(proxy, tls, "clear_client", TestServers.CLEAR_PASSWORD, tls ? null : "28000",
                        TestServers.ALICE);
                assertLogin(proxy, tls, "clear_client", WRONG_CLEAR, tls ? "28P01" : "28000", null);
            }
            assertLogin(proxy, true, "token_client", token, null, TestServers.ALICE);
            assertLogin(proxy, true, "token_client", refusedToken, "28P01", null);
            assertLogin(proxy, true, "token_client", thrownToken, "08006", null);
            Probe.awaitIdle(proxy, Duration.ofSeconds(5));
            proxy.close(Duration.ofSeconds(1));

            String text = log.text();
            assertThat(text).as("the failed logins were logged").contains("login failed")
                    .contains("authenticator failed");
            for (String secret : secrets) {
                for (String form : forms(secret)) {
                    assertThat(text).as("log output must not contain a password").doesNotContain(form);
                }
            }
        }
    }

    /** A password as text, and as it would look in a hex or base64 dump of the bytes that carried it. */
    static List<String> forms(String secret) {
        byte[] bytes = secret.getBytes(StandardCharsets.UTF_8);
        List<String> forms = new ArrayList<>();
        forms.add(secret);
        forms.add(HexFormat.of().formatHex(bytes));
        forms.add(Base64.getEncoder().withoutPadding().encodeToString(bytes));
        return forms;
    }

    static void assertLogin(ProxyServer proxy, boolean tls, String user, String password, String expectedState)
            throws Exception {
        assertLogin(proxy, tls, user, password, expectedState, user);
    }

    /** @param backendUser the user the server sees, when the login succeeds */
    static void assertLogin(ProxyServer proxy, boolean tls, String user, String password, String expectedState,
                            String backendUser) throws Exception {
        Properties p = new Properties();
        if (tls) {
            p.setProperty("sslmode", "verify-full");
            p.setProperty("sslrootcert", TestCerts.caCert().toString());
            p.setProperty("channelBinding", "disable");
        }
        String state = null;
        try (Connection c = Jdbc.connect(proxy.port(), user, password, "postgres", p)) {
            assertThat(Jdbc.one(c, "select current_user")).isEqualTo(backendUser);
        } catch (SQLException e) {
            state = e.getSQLState();
        }
        assertThat(state).as(user + (tls ? " over TLS" : "")).isEqualTo(expectedState);
    }
}
