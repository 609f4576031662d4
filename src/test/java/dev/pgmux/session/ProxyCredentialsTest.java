package dev.pgmux.session;

import static org.assertj.core.api.Assertions.assertThat;

import dev.pgmux.AuthMode;
import dev.pgmux.BackendConfig;
import dev.pgmux.ClientAuthMethod;
import dev.pgmux.Secret;
import dev.pgmux.auth.Md5Hash;
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
    static final Md5Hash MD5 = new Md5Hash(Md5Hash.of("secret", "ann"));
    static final Login ANN = new Login(new StartupMessage(3, 0, Map.of("user", "ann"), List.of()), null, 0);

    static BackendConfig.Builder route() {
        return BackendConfig.builder().host("db").auth(AuthMode.PROXY).clientAuthMethod(ClientAuthMethod.PASSWORD);
    }

    static final ProxyCredentials.Proof KEYS = new ProxyCredentials.Proof.ScramKeys(new byte[32], new byte[32], new byte[16], 4096);
    static final ProxyCredentials.Proof CLEARTEXT =
            new ProxyCredentials.Proof.Cleartext("sécret".getBytes(StandardCharsets.UTF_8));
    static final ProxyCredentials.Proof MD5_ANSWER = new ProxyCredentials.Proof.Md5(MD5);

    @Test
    void theRoutesPasswordWinsOverAnythingTheClientProved() {
        for (ProxyCredentials.Proof proof : List.of(KEYS, CLEARTEXT, MD5_ANSWER, ProxyCredentials.Proof.NONE)) {
            ProxyRelay.BackendCredentials c = ProxyCredentials.forServer(route().password(Secret.of("backend-pw"))
                    .build(), null, ANN, proof);
            assertThat(c.password()).containsExactly("backend-pw".toCharArray());
            assertThat(c.clientKey()).isNull();
            assertThat(c.md5()).isNull();
        }
    }

    @Test
    void elseWhatTheClientProvedForItsOwnUserName() {
        ProxyRelay.BackendCredentials keys = ProxyCredentials.forServer(route().build(), null, ANN, KEYS);
        assertThat(keys.clientKey()).hasSize(32);
        assertThat(keys.serverKey()).hasSize(32);
        assertThat(ProxyCredentials.forServer(route().build(), null, ANN, CLEARTEXT).password())
                .containsExactly("sécret".toCharArray());
        assertThat(ProxyCredentials.forServer(route().build(), null, ANN, MD5_ANSWER).md5()).isEqualTo(MD5);
        ProxyRelay.BackendCredentials none = ProxyCredentials.forServer(route().build(), null, ANN,
                ProxyCredentials.Proof.NONE);
        assertThat(none.password()).isNull();
        assertThat(none.clientKey()).isNull();
        assertThat(none.md5()).isNull();
    }

    /** A proof for one user name is no proof for another: a renamed route needs its own backend password. */
    @Test
    void nothingTheClientProvedGoesToAnotherUser() {
        BackendConfig renamed = route().user("owner").build();
        for (ProxyCredentials.Proof proof : List.of(KEYS, CLEARTEXT, MD5_ANSWER)) {
            ProxyRelay.BackendCredentials c = ProxyCredentials.forServer(renamed, null, ANN, proof);
            assertThat(c.user()).isEqualTo("owner");
            assertThat(c.password()).isNull();
            assertThat(c.clientKey()).isNull();
            assertThat(c.md5()).isNull();
        }
    }

    /**
     * The auth file's password of the backend user is never used for a login the client did not prove it for: a
     * route (a table row, an HTTP answer) could otherwise choose a user and a host and be sent that password.
     */
    @Test
    void theAuthFilesPasswordOfTheBackendUserIsNotSentForAnotherClient() throws Exception {
        java.nio.file.Path file = Files.createTempFile("userlist", ".txt");
        try {
            Files.writeString(file, "\"owner\" \"owner_pw\"\n");
            dev.pgmux.auth.AuthFile authFile = dev.pgmux.auth.AuthFile.read(file);
            for (ProxyCredentials.Proof proof : List.of(KEYS, CLEARTEXT, MD5_ANSWER, ProxyCredentials.Proof.NONE)) {
                ProxyRelay.BackendCredentials c = ProxyCredentials.forServer(route().user("owner").build(), authFile,
                        ANN, proof);
                assertThat(c.password()).isNull();
            }
        } finally {
            Files.delete(file);
        }
    }

    @Test
    void anAuthFilePasswordGetsOneVerifierWithASaltStableForItsUser() {
        byte[] secret = new byte[32];
        var plain = new dev.pgmux.auth.PlainPassword("pw".toCharArray());
        var first = ProxyCredentials.verifierOf("ann", plain, secret);
        assertThat(ProxyCredentials.verifierOf("ann", new dev.pgmux.auth.PlainPassword("pw".toCharArray()), secret))
                .isSameAs(first);
        assertThat(first.matches("pw".toCharArray())).isTrue();
        assertThat(ProxyCredentials.verifierOf("bob", plain, secret).salt()).isNotEqualTo(first.salt());
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
