package dev.pgmux.session;

import static org.assertj.core.api.Assertions.assertThat;

import dev.pgmux.AuthMode;
import dev.pgmux.BackendConfig;
import dev.pgmux.ClientAuthMethod;
import dev.pgmux.Secret;
import dev.pgmux.auth.Credential;
import dev.pgmux.auth.Md5Hash;
import dev.pgmux.auth.ScramVerifier;
import dev.pgmux.protocol.StartupPacket.StartupMessage;
import dev.pgmux.testing.TestCerts;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * What pgmux logs in to the server with after each kind of client proof, and the user name a client certificate
 * carries.
 */
class ProxyCredentialsTest {
    static final ScramVerifier VERIFIER = ScramVerifier.generate("secret".toCharArray());
    static final Md5Hash MD5 = new Md5Hash(Md5Hash.of("secret", "ann"));
    static final Login ANN = new Login(new StartupMessage(3, 0, Map.of("user", "ann"), List.of()), null, 0);

    static BackendConfig.Builder route() {
        return BackendConfig.builder().host("db").auth(AuthMode.PROXY).clientAuthMethod(ClientAuthMethod.PASSWORD);
    }

    @Test
    void theRoutesPasswordWinsOverAnythingTheClientProved() {
        ProxyRelay.BackendCredentials c = ProxyCredentials.forServer(route().password(Secret.of("backend-pw")).build(),
                null, ANN, VERIFIER, new byte[32], "secret".getBytes(StandardCharsets.UTF_8));
        assertThat(c.password()).containsExactly("backend-pw".toCharArray());
        assertThat(c.clientKey()).isNull();
        assertThat(c.md5()).isNull();
    }

    @Test
    void elseWhatTheClientProvedForItsOwnUserName() {
        byte[] key = new byte[32];
        assertThat(ProxyCredentials.forServer(route().build(), null, ANN, VERIFIER, key, null).clientKey())
                .isEqualTo(key);
        assertThat(ProxyCredentials.forServer(route().build(), null, ANN, VERIFIER, null,
                "sécret".getBytes(StandardCharsets.UTF_8)).password()).containsExactly("sécret".toCharArray());
        assertThat(ProxyCredentials.forServer(route().build(), null, ANN, MD5, null, null).md5()).isEqualTo(MD5);
        ProxyRelay.BackendCredentials none = ProxyCredentials.forServer(route().build(), null, ANN, VERIFIER, null,
                null);
        assertThat(none.password()).isNull();
        assertThat(none.clientKey()).isNull();
        assertThat(none.md5()).isNull();
    }

    /** A proof for one user name is no proof for another: a renamed route needs its own backend password. */
    @Test
    void nothingTheClientProvedGoesToAnotherUser() {
        BackendConfig renamed = route().user("owner").build();
        for (Credential credential : List.<Credential>of(VERIFIER, MD5)) {
            ProxyRelay.BackendCredentials c = ProxyCredentials.forServer(renamed, null, ANN, credential, new byte[32],
                    "secret".getBytes(StandardCharsets.UTF_8));
            assertThat(c.user()).isEqualTo("owner");
            assertThat(c.password()).isNull();
            assertThat(c.clientKey()).isNull();
            assertThat(c.md5()).isNull();
        }
    }

    @Test
    void theCommonNameOfAClientCertificate() throws Exception {
        assertThat(ProxyCredentials.commonName(read(TestCerts.client("ann", true).cert()))).isEqualTo("ann");
        assertThat(ProxyCredentials.commonName(read(TestCerts.client("ann.o'neil, jr", true).cert())))
                .isEqualTo("ann.o'neil, jr");
        assertThat(ProxyCredentials.commonName(read(TestCerts.serverCert()))).isEqualTo("localhost");
        // the first CN in the subject's encoding, as OpenSSL finds it for PostgreSQL
        assertThat(ProxyCredentials.commonName(read(TestCerts.client("first/CN=second", true).cert())))
                .isEqualTo("first");
        X509Certificate withOrganization = read(TestCerts.client("x/O=acme", true).cert());
        assertThat(withOrganization.getSubjectX500Principal().getName()).isEqualTo("O=acme,CN=x");
        assertThat(ProxyCredentials.commonName(withOrganization)).isEqualTo("x");
    }

    static X509Certificate read(java.nio.file.Path pem) throws Exception {
        try (InputStream in = Files.newInputStream(pem)) {
            return (X509Certificate) CertificateFactory.getInstance("X.509").generateCertificate(in);
        }
    }
}
