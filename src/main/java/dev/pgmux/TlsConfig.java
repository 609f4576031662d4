package dev.pgmux;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Objects;
import javax.net.ssl.SSLContext;

/**
 * TLS toward clients. Either PEM files (a certificate chain and a PKCS#8 private key), which pgmux reloads when
 * they change on disk without dropping sessions, or a caller's {@link SSLContext}. With PEM files, a client CA
 * ({@link #withClientCa}) makes pgmux ask clients for a certificate, which routes with
 * {@link ClientAuthMethod#CERT} require.
 *
 * <pre>{@code
 * TlsConfig.fromPemFiles(Path.of("server.crt"), Path.of("server.key")).withRequired(true)
 * }</pre>
 */
public final class TlsConfig {
    private final Path certFile;
    private final Path keyFile;
    private final SSLContext sslContext;
    private final boolean required;
    private final List<String> protocols;
    private final Path clientCa;

    private TlsConfig(Path certFile, Path keyFile, SSLContext sslContext, boolean required, List<String> protocols,
                      Path clientCa) {
        this.certFile = certFile;
        this.keyFile = keyFile;
        this.sslContext = sslContext;
        this.required = required;
        this.protocols = List.copyOf(protocols);
        this.clientCa = clientCa;
    }

    public static TlsConfig fromPemFiles(Path certFile, Path keyFile) {
        Objects.requireNonNull(certFile, "certFile");
        Objects.requireNonNull(keyFile, "keyFile");
        for (Path p : List.of(certFile, keyFile)) {
            if (!Files.isReadable(p)) {
                throw new IllegalArgumentException("TLS file not readable: " + p);
            }
        }
        return new TlsConfig(certFile, keyFile, null, false, List.of("TLSv1.3", "TLSv1.2"), null);
    }

    public static TlsConfig fromSslContext(SSLContext sslContext) {
        return new TlsConfig(null, null, Objects.requireNonNull(sslContext, "sslContext"), false,
                List.of("TLSv1.3", "TLSv1.2"), null);
    }

    /** Refuse plaintext sessions with FATAL 28000 (cancel requests are still accepted in plaintext). */
    public TlsConfig withRequired(boolean required) {
        return new TlsConfig(certFile, keyFile, sslContext, required, protocols, clientCa);
    }

    /** Allow TLS versions from {@code minVersion} ({@code TLSv1.2} or {@code TLSv1.3}) up. Default: TLSv1.2. */
    public TlsConfig withMinVersion(String minVersion) {
        return switch (minVersion) {
            case "TLSv1.2" -> withProtocols("TLSv1.3", "TLSv1.2");
            case "TLSv1.3" -> withProtocols("TLSv1.3");
            default -> throw new IllegalArgumentException("min TLS version must be TLSv1.2 or TLSv1.3: " + minVersion);
        };
    }

    /** The exact TLS protocol versions to enable, e.g. {@code "TLSv1.3"}. */
    public TlsConfig withProtocols(String... protocols) {
        if (protocols.length == 0) {
            throw new IllegalArgumentException("no TLS protocols");
        }
        return new TlsConfig(certFile, keyFile, sslContext, required, List.of(protocols), clientCa);
    }

    /**
     * Asks every TLS client for a certificate and verifies the one it sends against the CA certificates (PEM) of
     * {@code caFile}; a client may also send none (other routes' clients keep connecting), but one whose
     * certificate does not verify fails the handshake, as with PostgreSQL's {@code ssl_ca_file}. A route with
     * {@link ClientAuthMethod#CERT} then takes the verified certificate's CN as the user name. Reloaded with the
     * certificate and key when it changes on disk. Null: no client certificates.
     *
     * @throws IllegalArgumentException if the file is not readable, or this config is a caller's {@link SSLContext},
     *                                  whose own trust managers would decide
     */
    public TlsConfig withClientCa(Path caFile) {
        if (caFile != null) {
            if (sslContext != null) {
                throw new IllegalArgumentException("a client CA goes with PEM files: a caller's SSLContext verifies"
                        + " client certificates with its own trust managers");
            }
            if (!Files.isReadable(caFile)) {
                throw new IllegalArgumentException("TLS file not readable: " + caFile);
            }
        }
        return new TlsConfig(certFile, keyFile, sslContext, required, protocols, caFile);
    }

    public Path certFile() {
        return certFile;
    }

    public Path keyFile() {
        return keyFile;
    }

    /** The caller's context, or null for PEM files. */
    public SSLContext sslContext() {
        return sslContext;
    }

    public boolean required() {
        return required;
    }

    public List<String> protocols() {
        return protocols;
    }

    /** The CA certificates client certificates are verified against, or null when clients are not asked for one. */
    public Path clientCa() {
        return clientCa;
    }
}
