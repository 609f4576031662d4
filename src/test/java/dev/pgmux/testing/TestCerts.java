package dev.pgmux.testing;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * TLS material for tests, made once per JVM with the {@code openssl} command line:
 * <ul>
 *   <li>a CA ({@code ca.crt}, {@code ca.key});</li>
 *   <li>a server certificate signed by that CA for {@code localhost}, with SAN {@code DNS:localhost,
 *       DNS:*.localhost, IP:127.0.0.1} ({@code server.crt}, {@code server.key});</li>
 *   <li>an unrelated self-signed certificate for wrong-CA tests ({@code other.crt}, {@code other.key});</li>
 *   <li>a certificate like the server's, signed by the CA, that expired a day ago ({@code expired.crt}, with
 *       {@code server.key});</li>
 *   <li>on demand, client certificates with a given CN ({@link #client}), signed by the CA or self-signed, all with
 *       one key ({@code client.key}, also as DER PKCS#8 {@code client.pk8}, the form pgjdbc's {@code sslkey}
 *       reads).</li>
 * </ul>
 * Keys are unencrypted PKCS#8 PEM ({@code BEGIN PRIVATE KEY}), which both OpenSSL and Netty read.
 * Certificates are world-readable so that a PostgreSQL running as {@code nobody} (the JVM being root) can
 * read them where it needs a path, such as {@code ssl_ca_file}.
 */
public final class TestCerts {

    private static final class Holder {
        static final Path DIR = generate();
    }

    /** A client certificate and its key (PEM, and DER PKCS#8 for pgjdbc). */
    public record ClientCert(Path cert, Path key, Path keyDer) {
    }

    private static int clients;

    private TestCerts() {}

    public static Path dir() {
        return Holder.DIR;
    }

    public static Path caCert() {
        return dir().resolve("ca.crt");
    }

    public static Path caKey() {
        return dir().resolve("ca.key");
    }

    public static Path serverCert() {
        return dir().resolve("server.crt");
    }

    public static Path serverKey() {
        return dir().resolve("server.key");
    }

    /** Signed by the CA, names as {@link #serverCert()}, key {@link #serverKey()}, but past its notAfter date. */
    public static Path expiredCert() {
        return dir().resolve("expired.crt");
    }

    public static Path otherCert() {
        return dir().resolve("other.crt");
    }

    public static Path otherKey() {
        return dir().resolve("other.key");
    }

    /**
     * A client certificate whose subject is {@code CN=<cn>}, for TLS client authentication (PostgreSQL's
     * {@code cert} method takes the CN for the user name): signed by {@link #caCert()}, or self-signed when not
     * {@code trusted}. Made with openssl on each call.
     */
    public static synchronized ClientCert client(String cn, boolean trusted) {
        Path dir = dir();
        String name = "client" + (++clients);
        try {
            openssl(dir, "req", "-new", "-config", "certs.cnf", "-key", "client.key", "-subj", "/CN=" + cn,
                    "-out", name + ".csr");
            if (trusted) {
                openssl(dir, "x509", "-req", "-in", name + ".csr", "-CA", "ca.crt", "-CAkey", "ca.key",
                        "-set_serial", Integer.toString(100 + clients), "-days", "3650", "-extfile", "certs.cnf",
                        "-extensions", "client_ext", "-out", name + ".crt");
            } else {
                openssl(dir, "x509", "-req", "-in", name + ".csr", "-signkey", "client.key", "-days", "3650",
                        "-extfile", "certs.cnf", "-extensions", "client_ext", "-out", name + ".crt");
            }
            Files.setPosixFilePermissions(dir.resolve(name + ".crt"), PosixFilePermissions.fromString("rw-r--r--"));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot make a client certificate", e);
        }
        return new ClientCert(dir.resolve(name + ".crt"), dir.resolve("client.key"), dir.resolve("client.pk8"));
    }

    private static Path generate() {
        try {
            Path dir = Files.createTempDirectory("pgmux-certs-");
            Runtime.getRuntime().addShutdownHook(new Thread(() -> deleteAll(dir), "pgmux-certs-exit"));
            Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxr-xr-x"));
            Files.writeString(dir.resolve("certs.cnf"), """
                    [req]
                    distinguished_name = dn
                    [dn]
                    [ca_ext]
                    basicConstraints = critical, CA:TRUE
                    keyUsage = critical, keyCertSign, cRLSign
                    subjectKeyIdentifier = hash
                    [server_ext]
                    basicConstraints = critical, CA:FALSE
                    keyUsage = critical, digitalSignature, keyEncipherment
                    extendedKeyUsage = serverAuth
                    subjectAltName = DNS:localhost, DNS:*.localhost, IP:127.0.0.1
                    authorityKeyIdentifier = keyid
                    [client_ext]
                    basicConstraints = critical, CA:FALSE
                    keyUsage = critical, digitalSignature, keyEncipherment
                    extendedKeyUsage = clientAuth
                    [other_ext]
                    basicConstraints = critical, CA:FALSE
                    keyUsage = critical, digitalSignature, keyEncipherment
                    extendedKeyUsage = serverAuth
                    subjectAltName = DNS:localhost, IP:127.0.0.1
                    """);
            // RSA rather than EC: every client a test may drive accepts it. The three keys are made in
            // parallel since RSA key generation is most of the time here.
            List<Openssl> keys = new ArrayList<>();
            for (String key : List.of("ca.key", "server.key", "other.key", "client.key")) {
                keys.add(start(dir, "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", key));
            }
            for (Openssl key : keys) {
                key.await();
            }
            openssl(dir, "req", "-new", "-x509", "-config", "certs.cnf", "-extensions", "ca_ext",
                    "-key", "ca.key", "-subj", "/CN=pgmux test CA", "-days", "3650", "-out", "ca.crt");
            openssl(dir, "req", "-new", "-config", "certs.cnf",
                    "-key", "server.key", "-subj", "/CN=localhost", "-out", "server.csr");
            openssl(dir, "x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-set_serial", "2",
                    "-days", "3650", "-extfile", "certs.cnf", "-extensions", "server_ext", "-out", "server.crt");
            // Negative days: notAfter a day before notBefore (now), so the certificate is expired from the start.
            openssl(dir, "x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-set_serial", "3",
                    "-days", "-1", "-extfile", "certs.cnf", "-extensions", "server_ext", "-out", "expired.crt");
            // Same subject and names as the server certificate: only the issuer is wrong.
            openssl(dir, "req", "-new", "-x509", "-config", "certs.cnf", "-extensions", "other_ext",
                    "-key", "other.key", "-subj", "/CN=localhost", "-days", "3650", "-out", "other.crt");
            for (String cert : List.of("ca.crt", "server.crt", "other.crt", "expired.crt")) {
                Files.setPosixFilePermissions(dir.resolve(cert), PosixFilePermissions.fromString("rw-r--r--"));
            }
            openssl(dir, "pkcs8", "-topk8", "-inform", "PEM", "-outform", "DER", "-in", "client.key", "-out",
                    "client.pk8", "-nocrypt");
            for (String key : List.of("ca.key", "server.key", "other.key", "client.key", "client.pk8")) {
                Files.setPosixFilePermissions(dir.resolve(key), PosixFilePermissions.fromString("rw-------"));
            }
            return dir;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot generate test certificates", e);
        }
    }

    private static void deleteAll(Path dir) {
        try (Stream<Path> files = Files.walk(dir)) {
            files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (IOException e) {
            // best effort: a temp directory
        }
    }

    private static void openssl(Path dir, String... args) throws IOException {
        start(dir, args).await();
    }

    private static Openssl start(Path dir, String... args) throws IOException {
        List<String> command = new ArrayList<>(List.of("openssl"));
        command.addAll(List.of(args));
        Process p = new ProcessBuilder(command).directory(dir.toFile()).redirectErrorStream(true).start();
        return new Openssl(String.join(" ", command), p);
    }

    private record Openssl(String command, Process process) {
        void await() throws IOException {
            String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            try {
                if (!process.waitFor(60, TimeUnit.SECONDS) || process.exitValue() != 0) {
                    process.destroyForcibly();
                    throw new IllegalStateException(command + " failed: " + output.strip());
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted: " + command, e);
            }
        }
    }
}
