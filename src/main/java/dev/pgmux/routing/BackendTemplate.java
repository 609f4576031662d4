package dev.pgmux.routing;

import dev.pgmux.AuthMode;
import dev.pgmux.BackendConfig;
import dev.pgmux.ClientAuthMethod;
import dev.pgmux.LoadBalanceHosts;
import dev.pgmux.PoolConfig;
import dev.pgmux.Secret;
import dev.pgmux.SslMode;
import dev.pgmux.TargetSessionAttrs;
import dev.pgmux.TcpPort;
import java.nio.file.Path;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A backend with {@code {name}} placeholders in its host, port, user, database and parameter values, filled in
 * per connection by a {@link PatternRouter} rule: {@code host: "{lab}.labs.internal"}. Text in braces that is not
 * a name ({@code {1,3}}, {@code { }}) stays as it is; the authentication and pool settings take none. Once filled in, the text is read as every other source's
 * ({@link BackendSpec#parse}): a value that is blank once filled in is not set.
 *
 * @param host        backend host, may hold placeholders; a comma-separated list gives several hosts
 * @param port        backend port as text, a number or placeholders ({@code "{port}"}); 5432 when blank
 * @param user        backend user, or null to keep the client's (as a blank one does once filled in)
 * @param database    backend database, or null to keep the client's (as a blank one does once filled in)
 * @param parameters  extra startup parameters; their values may hold placeholders
 * @param sslMode     TLS toward the backend
 * @param sslRootCert CA certificates for {@code verify-ca}/{@code verify-full}, or null
 * @param targetSessionAttrs which of several hosts fit (see {@link BackendConfig#targetSessionAttrs()})
 * @param loadBalanceHosts   the order several hosts are tried in
 * @param auth               who authenticates the client (see {@link BackendConfig#auth()})
 * @param clientAuthMethod   with {@link AuthMode#PROXY}: how pgmux authenticates the client
 * @param clientCredential   with {@link AuthMode#PROXY}: the clients' verifier or MD5 hash, or null
 * @param password           with {@link AuthMode#PROXY}: the backend's password, or null
 * @param authUser           with {@link AuthMode#PROXY}: PgBouncer's {@code auth_user}, or null
 * @param authQuery          with {@link AuthMode#PROXY}: PgBouncer's {@code auth_query}, or null for the default
 * @param pool               how server connections are shared (see {@link BackendConfig#pool()})
 */
public record BackendTemplate(String host, String port, String user, String database, Map<String, String> parameters,
                              SslMode sslMode, Path sslRootCert, TargetSessionAttrs targetSessionAttrs,
                              LoadBalanceHosts loadBalanceHosts, AuthMode auth, ClientAuthMethod clientAuthMethod,
                              String clientCredential, Secret password, String authUser, String authQuery,
                              PoolConfig pool) {
    private static final Pattern PLACEHOLDER = Pattern.compile("\\{([A-Za-z][A-Za-z0-9_]*)}");

    public BackendTemplate {
        Objects.requireNonNull(host, "host");
        if (host.isBlank()) {
            throw new IllegalArgumentException("backend host is empty");
        }
        port = port == null || port.isBlank() ? Integer.toString(BackendSpec.DEFAULT_PORT) : port.strip();
        if (placeholders(port).isEmpty()) {
            try {
                TcpPort.parse(port);
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("backend port " + e.getMessage(), e);
            }
        }
        parameters = parameters == null ? Map.of() : Collections.unmodifiableMap(new LinkedHashMap<>(parameters));
        sslMode = sslMode == null ? SslMode.DISABLE : sslMode;
        targetSessionAttrs = targetSessionAttrs == null ? TargetSessionAttrs.ANY : targetSessionAttrs;
        loadBalanceHosts = loadBalanceHosts == null ? LoadBalanceHosts.DISABLE : loadBalanceHosts;
        auth = auth == null ? AuthMode.PASSTHROUGH : auth;
        clientAuthMethod = clientAuthMethod == null ? ClientAuthMethod.SCRAM_SHA_256 : clientAuthMethod;
        pool = pool == null ? PoolConfig.NONE : pool;
        if (auth == AuthMode.PROXY && authUser != null && clientCredential == null
                && !(placeholders(host).isEmpty() && placeholders(port).isEmpty())) {
            // auth_user's password would go to a host that a client's startup values choose
            throw new IllegalArgumentException("auth_user cannot look up credentials on a host or port filled in from"
                    + " the client's startup values: give the rule a client_password, or fixed hosts");
        }
        // BackendConfig's checks, now rather than at every expansion.
        BackendConfig.builder().host("localhost").auth(auth).clientAuthMethod(clientAuthMethod)
                .clientCredential(clientCredential).password(password).authUser(authUser).authQuery(authQuery)
                .pool(pool).build();
    }

    /** A template without pooling. */
    public BackendTemplate(String host, String port, String user, String database, Map<String, String> parameters,
                           SslMode sslMode, Path sslRootCert, TargetSessionAttrs targetSessionAttrs,
                           LoadBalanceHosts loadBalanceHosts, AuthMode auth, ClientAuthMethod clientAuthMethod,
                           String clientCredential, Secret password, String authUser, String authQuery) {
        this(host, port, user, database, parameters, sslMode, sslRootCert, targetSessionAttrs, loadBalanceHosts, auth,
                clientAuthMethod, clientCredential, password, authUser, authQuery, PoolConfig.NONE);
    }

    /** A template whose clients' credentials are not looked up in the backend. */
    public BackendTemplate(String host, String port, String user, String database, Map<String, String> parameters,
                           SslMode sslMode, Path sslRootCert, TargetSessionAttrs targetSessionAttrs,
                           LoadBalanceHosts loadBalanceHosts, AuthMode auth, ClientAuthMethod clientAuthMethod,
                           String clientCredential, Secret password) {
        this(host, port, user, database, parameters, sslMode, sslRootCert, targetSessionAttrs, loadBalanceHosts, auth,
                clientAuthMethod, clientCredential, password, null, null);
    }

    /** A template for a backend that relays authentication. */
    public BackendTemplate(String host, String port, String user, String database, Map<String, String> parameters,
                           SslMode sslMode, Path sslRootCert, TargetSessionAttrs targetSessionAttrs,
                           LoadBalanceHosts loadBalanceHosts) {
        this(host, port, user, database, parameters, sslMode, sslRootCert, targetSessionAttrs, loadBalanceHosts, null,
                null, null, null);
    }

    /** A template for a backend whose hosts may have any role. */
    public BackendTemplate(String host, String port, String user, String database, Map<String, String> parameters,
                           SslMode sslMode, Path sslRootCert) {
        this(host, port, user, database, parameters, sslMode, sslRootCert, null, null, null, null, null, null);
    }

    public static Builder builder() {
        return new Builder();
    }

    /** The placeholder names in {@code text}, in order of appearance. */
    public static Set<String> placeholders(String text) {
        Set<String> names = new LinkedHashSet<>();
        if (text != null) {
            Matcher m = PLACEHOLDER.matcher(text);
            while (m.find()) {
                names.add(m.group(1));
            }
        }
        return names;
    }

    /** Every placeholder name in the template. */
    public Set<String> placeholders() {
        Set<String> names = new LinkedHashSet<>();
        names.addAll(placeholders(host));
        names.addAll(placeholders(port));
        names.addAll(placeholders(user));
        names.addAll(placeholders(database));
        parameters.values().forEach(v -> names.addAll(placeholders(v)));
        return names;
    }

    /**
     * The backend with each placeholder replaced by its value.
     *
     * @throws IllegalArgumentException if a placeholder has no value, or the result is no backend (an empty
     *                                  host, a port that is not a number from 1 to {@link TcpPort#MAX})
     */
    public BackendConfig expand(Map<String, String> values) {
        Map<String, String> filled = new LinkedHashMap<>();
        parameters.forEach((name, value) -> filled.put(name, fill(value, values)));
        BackendConfig backend = new BackendSpec(fillHosts(values), fill(port, values), null, fill(user, values),
                fill(database, values), sslMode.libpqName(), sslRootCert == null ? null : sslRootCert.toString(),
                targetSessionAttrs.libpqName(), loadBalanceHosts.configName(), filled, auth.configName(),
                auth == AuthMode.PROXY ? clientAuthMethod.configName() : null, clientCredential, null, null, null, null,
                null).toBackendConfig();
        // The password and auth_user were read with the config file; no filled-in text may name them. The pool
        // was read with the rule, and checked against its auth there.
        return password == null && authUser == null && authQuery == null && pool.equals(PoolConfig.NONE) ? backend
                : backend.toBuilder().password(password).authUser(authUser).authQuery(authQuery).pool(pool).build();
    }

    /** As a record prints itself, but with the client credential as {@code ***}. */
    @Override
    public String toString() {
        return "BackendTemplate[host=" + host + ", port=" + port + ", user=" + user + ", database=" + database
                + ", parameters=" + parameters + ", sslMode=" + sslMode + ", sslRootCert=" + sslRootCert
                + ", targetSessionAttrs=" + targetSessionAttrs + ", loadBalanceHosts=" + loadBalanceHosts + ", auth="
                + auth + ", clientAuthMethod=" + clientAuthMethod + ", clientCredential=" + (clientCredential == null ? null : "***") + ", password=" + password
                + ", authUser=" + authUser + ", authQuery=" + authQuery + ", pool=" + pool + "]";
    }

    /**
     * The host, or a comma-separated host list, filled in: a value (from a client's user name, say) must not add
     * hosts or ports of its own.
     */
    private String fillHosts(Map<String, String> values) {
        if (host.indexOf('{') < 0) {
            return host;
        }
        // In a list every part is parsed again as HOST[:PORT]: a value must not bring a port or a bracket of its own.
        boolean list = host.indexOf(',') >= 0;
        for (String name : placeholders(host)) {
            String value = values.get(name);
            if (value != null && (value.indexOf(',') >= 0
                    || (list && (value.indexOf(':') >= 0 || value.indexOf('[') >= 0 || value.indexOf(']') >= 0)))) {
                throw new IllegalArgumentException("the value of {" + name + "} cannot be part of a host: \""
                        + value + "\"");
            }
        }
        return fill(host, values);
    }

    private static String fill(String text, Map<String, String> values) {
        if (text == null || text.indexOf('{') < 0) {
            return text;
        }
        return PLACEHOLDER.matcher(text).replaceAll(m -> {
            String value = values.get(m.group(1));
            if (value == null) {
                throw new IllegalArgumentException("no value for {" + m.group(1) + "}");
            }
            return Matcher.quoteReplacement(value);
        });
    }

    /** Builds a {@link BackendTemplate}; host is required, the port defaults to 5432. */
    public static final class Builder {
        private String host;
        private String port;
        private String user;
        private String database;
        private final Map<String, String> parameters = new LinkedHashMap<>();
        private SslMode sslMode;
        private Path sslRootCert;
        private TargetSessionAttrs targetSessionAttrs;
        private LoadBalanceHosts loadBalanceHosts;
        private AuthMode auth;
        private ClientAuthMethod clientAuthMethod;
        private String clientCredential;
        private Secret password;
        private PoolConfig pool;

        /** The host, with placeholders; a comma-separated list gives several hosts. */
        public Builder host(String host) {
            this.host = host;
            return this;
        }

        public Builder port(int port) {
            this.port = Integer.toString(port);
            return this;
        }

        /** A port with placeholders, e.g. {@code "{port}"} or {@code "54{n}"}. */
        public Builder port(String port) {
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

        public Builder targetSessionAttrs(TargetSessionAttrs targetSessionAttrs) {
            this.targetSessionAttrs = targetSessionAttrs;
            return this;
        }

        public Builder loadBalanceHosts(LoadBalanceHosts loadBalanceHosts) {
            this.loadBalanceHosts = loadBalanceHosts;
            return this;
        }

        public Builder auth(AuthMode auth) {
            this.auth = auth;
            return this;
        }

        public Builder clientAuthMethod(ClientAuthMethod clientAuthMethod) {
            this.clientAuthMethod = clientAuthMethod;
            return this;
        }

        /** A SCRAM-SHA-256 verifier or an MD5 hash, without placeholders. */
        public Builder clientCredential(String clientCredential) {
            this.clientCredential = clientCredential;
            return this;
        }

        public Builder password(Secret password) {
            this.password = password;
            return this;
        }

        /** How server connections are shared; pooling needs {@link AuthMode#PROXY}. */
        public Builder pool(PoolConfig pool) {
            this.pool = pool;
            return this;
        }

        public BackendTemplate build() {
            return new BackendTemplate(host, port, user, database, parameters, sslMode, sslRootCert,
                    targetSessionAttrs, loadBalanceHosts, auth, clientAuthMethod, clientCredential, password, null,
                    null, pool);
        }
    }
}
