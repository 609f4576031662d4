package dev.pgmux;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;

/**
 * Where a routed connection goes and how its startup message is rewritten.
 *
 * @param host        backend host name or address
 * @param port        backend port
 * @param user        the user name sent to the backend, or null to keep the client's
 * @param database    the database sent to the backend, or null to keep the client's
 * @param parameters  extra startup parameters for the backend (they override the client's)
 * @param sslMode     TLS toward the backend; default {@link SslMode#DISABLE}. With TLS on both hops, SCRAM clients
 *                    must turn channel binding off ({@code channel_binding=disable}): PostgreSQL treats a TLS client
 *                    that does not bind as a downgrade attack, and binding to pgmux's certificate cannot match.
 * @param sslRootCert CA certificates (PEM) for {@code verify-ca}/{@code verify-full}; null means the JDK's trust store
 */
public record BackendConfig(String host, int port, String user, String database, Map<String, String> parameters,
                            SslMode sslMode, Path sslRootCert) {

    public BackendConfig {
        Objects.requireNonNull(host, "host");
        if (host.isBlank()) {
            throw new IllegalArgumentException("backend host is empty");
        }
        if (port < 1 || port > 65535) {
            throw new IllegalArgumentException("backend port out of range: " + port);
        }
        parameters = parameters == null ? Map.of() : Map.copyOf(parameters);
        sslMode = sslMode == null ? SslMode.DISABLE : sslMode;
    }

    /** A backend reached as {@code user} (null keeps the client's user name), same database name. */
    public static BackendConfig of(String host, int port, String user) {
        return new BackendConfig(host, port, user, null, Map.of(), SslMode.DISABLE, null);
    }

    public static Builder builder() {
        return new Builder();
    }

    public Builder toBuilder() {
        Builder b = new Builder().host(host).port(port).user(user).database(database).sslMode(sslMode)
                .sslRootCert(sslRootCert);
        b.parameters.putAll(parameters);
        return b;
    }

    /** The backend as {@code host:port}, for logs (never shown to unauthenticated clients). */
    public String address() {
        return (host.indexOf(':') >= 0 ? "[" + host + "]" : host) + ":" + port;
    }

    /** Builds a {@link BackendConfig}; host and port are required. */
    public static final class Builder {
        private String host;
        private int port = 5432;
        private String user;
        private String database;
        private final Map<String, String> parameters = new LinkedHashMap<>();
        private SslMode sslMode = SslMode.DISABLE;
        private Path sslRootCert;

        public Builder host(String host) {
            this.host = host;
            return this;
        }

        public Builder port(int port) {
            this.port = port;
            return this;
        }

        public Builder user(String user) {
            this.user = user;
            return this;
        }

        public Builder database(String database) {
            this.database = database;
            return this;
        }

        public Builder parameter(String name, String value) {
            parameters.put(name, value);
            return this;
        }

        public Builder sslMode(SslMode sslMode) {
            this.sslMode = sslMode;
            return this;
        }

        public Builder sslRootCert(Path sslRootCert) {
            this.sslRootCert = sslRootCert;
            return this;
        }

        public BackendConfig build() {
            return new BackendConfig(host, port, user, database, parameters, sslMode, sslRootCert);
        }
    }
}
