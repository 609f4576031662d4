package dev.pgmux.auth;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.ongres.scram.common.util.TlsServerEndpoint;
import dev.pgmux.testing.TestCerts;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * tls-server-end-point (RFC 5929 §4.1) for certificates signed with each kind of hash, made here with openssl: the
 * hash of the DER certificate with the signature's hash, SHA-256 for MD5 and SHA-1, and refused where the signature
 * has no single hash (Ed25519), as PostgreSQL's {@code be_tls_get_certificate_hash} does.
 */
class ChannelBindingTest {
    @TempDir
    static Path dir;

    @BeforeAll
    static void keys() throws Exception {
        openssl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", "ec.key");
        openssl("genpkey", "-algorithm", "ED25519", "-out", "ed25519.key");
    }

    @ParameterizedTest(name = "{0} signed with {1}: {2}")
    @CsvSource({
        "ec.key, -sha256, SHA-256",
        "ec.key, -sha384, SHA-384",
        "ec.key, -sha512, SHA-512",
        "ec.key, -sha1, SHA-256",
        "rsa, -sha256, SHA-256",
        "rsa, -sha1, SHA-256",
        "rsa, -sha384, SHA-384",
        "rsa-pss, -sha512, SHA-512",
        "rsa-pss, -sha1, SHA-256"})
    void theCertificateHashedWithItsSignaturesHash(String key, String digest, String expectedHash) throws Exception {
        X509Certificate cert = selfSigned(key, digest);

        ChannelBinding binding = ChannelBinding.tlsServerEndPoint(cert);

        assertThat(binding.type()).isEqualTo("tls-server-end-point");
        assertThat(binding.data()).isEqualTo(MessageDigest.getInstance(expectedHash).digest(cert.getEncoded()));
        if (!key.equals("rsa-pss")) {
            // what pgjdbc's client computes for the same certificate
            assertThat(binding.data()).isEqualTo(TlsServerEndpoint.getChannelBindingData(cert));
        }
    }

    @Test
    void theTestServersCertificate() throws Exception {
        X509Certificate cert = read(TestCerts.serverCert());
        assertThat(ChannelBinding.tlsServerEndPoint(cert).data())
                .isEqualTo(MessageDigest.getInstance("SHA-256").digest(cert.getEncoded()))
                .isEqualTo(TlsServerEndpoint.getChannelBindingData(cert));
    }

    @Test
    void noBindingForASignatureWithoutASingleHash() throws Exception {
        X509Certificate cert = selfSigned("ed25519.key", null);
        assertThatThrownBy(() -> ChannelBinding.tlsServerEndPoint(cert)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("Ed25519");
    }

    @Test
    void aBindingIsATypeAndSomeBytes() {
        assertThatThrownBy(() -> new ChannelBinding("tls server", new byte[1]))
                .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> new ChannelBinding("tls-unique", new byte[0]))
                .isInstanceOf(IllegalArgumentException.class);
        byte[] data = {1, 2};
        ChannelBinding b = new ChannelBinding("tls-server-end-point", data);
        data[0] = 9;
        assertThat(b.data()).containsExactly(1, 2);
        assertThat(b).isEqualTo(new ChannelBinding("tls-server-end-point", new byte[] {1, 2}));
        assertThat(b.toString()).isEqualTo("ChannelBinding[tls-server-end-point, 2 bytes]");
    }

    static X509Certificate selfSigned(String key, String digest) throws Exception {
        List<String> args = new ArrayList<>(List.of("req", "-new", "-x509", "-subj", "/CN=localhost", "-days", "1"));
        switch (key) {
            case "rsa" -> args.addAll(List.of("-key", TestCerts.serverKey().toString()));
            case "rsa-pss" -> args.addAll(List.of("-key", TestCerts.serverKey().toString(),
                    "-sigopt", "rsa_padding_mode:pss", "-sigopt", "rsa_pss_saltlen:-1"));
            default -> args.addAll(List.of("-key", key));
        }
        if (digest != null) {
            args.add(digest);
        }
        String out = key + digest + ".crt";
        args.addAll(List.of("-out", out));
        openssl(args.toArray(String[]::new));
        return read(dir.resolve(out));
    }

    static X509Certificate read(Path file) throws Exception {
        try (InputStream in = Files.newInputStream(file)) {
            return (X509Certificate) CertificateFactory.getInstance("X.509").generateCertificate(in);
        }
    }

    static void openssl(String... args) throws IOException, InterruptedException {
        List<String> command = new ArrayList<>(List.of("openssl"));
        command.addAll(List.of(args));
        Process p = new ProcessBuilder(command).directory(dir.toFile()).redirectErrorStream(true).start();
        String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!p.waitFor(60, TimeUnit.SECONDS) || p.exitValue() != 0) {
            throw new IllegalStateException(String.join(" ", command) + " failed: " + output.strip());
        }
    }
}
