package dev.pgmux;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.regex.Pattern;

/**
 * Where a routed connection goes and how its startup message is rewritten.
 *
 * @param hosts              the backend's hosts, at least one; a session tries them in the order
 *                           {@code loadBalanceHosts} gives until one accepts the connection and suits
 *                           {@code targetSessionAttrs}. A host is tried only while the client has not yet taken part
 *                           in the server's authentication (SCRAM cannot be replayed to another server), so a server
 *                           that refuses before asking for a password (down, starting up, too many clients) is
 *                           passed over; see {@link TargetSessionAttrs} for the roles
 * @param user               the user name sent to the backend, or null to keep the client's
 * @param database           the database sent to the backend, or null to keep the client's
 * @param parameters         extra startup parameters for the backend (they override the client's)
 * @param sslMode            TLS toward the backend; default {@link SslMode#DISABLE}. With TLS on both hops, SCRAM
 *                           clients must turn channel binding off ({@code channel_binding=disable}): PostgreSQL treats
 *                           a TLS client that does not bind as a downgrade attack, and binding to pgmux's certificate
 *                           cannot match.
 * @param sslRootCert        CA certificates (PEM) for {@code verify-ca}/{@code verify-full}; null means the JDK's
 *                           trust store
 * @param targetSessionAttrs which hosts are acceptable; default {@link TargetSessionAttrs#ANY}
 * @param loadBalanceHosts   the order in which hosts are tried; default {@link LoadBalanceHosts#DISABLE}
 * @param auth               who authenticates the client; default {@link AuthMode#PASSTHROUGH} (the backend)
 * @param clientAuthMethod   with {@link AuthMode#PROXY}: how pgmux authenticates the client; default
 *                           {@link ClientAuthMethod#SCRAM_SHA_256}. An MD5 hash as {@code clientCredential} cannot
 *                           answer SCRAM, so it needs another method ({@link ClientAuthMethod#MD5} as a rule)
 * @param clientCredential   with {@link AuthMode#PROXY}: what clients of this route authenticate against, a SCRAM
 *                           verifier {@code SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>} or an MD5
 *                           hash {@code md5} + 32 hex digits, as PostgreSQL stores them in
 *                           {@code pg_authid.rolpassword}; never a plain password. Null: none on the route (the
 *                           auth file's, if any)
 * @param password           with {@link AuthMode#PROXY}: the password pgmux logs in to the backend with, or null for
 *                           none
 * @param authUser           with {@link AuthMode#PROXY} and no {@code clientCredential}: PgBouncer's {@code auth_user},
 *                           the user (its password in the auth file) pgmux runs {@code authQuery} as on the backend to
 *                           look up a client's credential; null for none
 * @param authQuery          PgBouncer's {@code auth_query}, run with the client's user name as {@code $1}, answering
 *                           one row (user name, SCRAM verifier or MD5 hash); null for {@link #DEFAULT_AUTH_QUERY}
 * @param pool               how server connections are shared; default {@link PoolConfig#NONE} (each client has its
 *                           own). Pooling needs {@link AuthMode#PROXY}: pgmux logs in to pooled servers itself
 */
public record BackendConfig(List<Endpoint> hosts, String user, String database, Map<String, String> parameters,
                            SslMode sslMode, Path sslRootCert, TargetSessionAttrs targetSessionAttrs,
                            LoadBalanceHosts loadBalanceHosts, AuthMode auth, ClientAuthMethod clientAuthMethod,
                            String clientCredential, Secret password, String authUser, String authQuery,
                            PoolConfig pool) {

    /** PgBouncer's default {@code auth_query}. */
    public static final String DEFAULT_AUTH_QUERY = "SELECT usename, passwd FROM pg_shadow WHERE usename=$1";

    /**
     * The form of a SCRAM-SHA-256 verifier as PostgreSQL stores it (RFC 5803); only the form: the values are read
     * where they are used.
     */
    private static final Pattern SCRAM_VERIFIER = Pattern.compile(
            "SCRAM-SHA-256\\$[1-9][0-9]{0,9}:[A-Za-z0-9+/]+={0,2}\\$[A-Za-z0-9+/]+={0,2}:[A-Za-z0-9+/]+={0,2}");
    /** PostgreSQL's test for an MD5 hash ({@code get_password_type}): lower-case hex digits only. */
    /**
     * The fewest SCRAM iterations a {@code client_password} may have: PostgreSQL's default and RFC 7677's minimum. A
     * weaker verifier makes a stolen configuration easier to turn into passwords.
     */
    public static final int MIN_VERIFIER_ITERATIONS = 4096;
    private static final Pattern MD5_HASH = Pattern.compile("md5[0-9a-f]{32}");

    /** The refusal of an MD5 hash as the credential of a SCRAM route. */
    public static final String MD5_NEEDS_MD5_METHOD = "an MD5 hash cannot answer SCRAM-SHA-256, the route's client"
            + " authentication method: set client_auth_method md5 (MD5 for this hash, as PostgreSQL's md5 method),"
            + " or give a SCRAM verifier";

    /** One host of a backend. */
    public record Endpoint(String host, int port) {
        public Endpoint {
            Objects.requireNonNull(host, "host");
            if (host.isBlank()) {
                throw new IllegalArgumentException("backend host is empty");
            }
            if (!TcpPort.isValid(port)) {
                throw new IllegalArgumentException("backend port out of range: " + port);
            }
        }

        /**
         * Parses {@code host}, {@code host:port}, {@code [v6]} or {@code [v6]:port}.
         *
         * @param defaultPort the port when none is written
         */
        public static Endpoint parse(String text, int defaultPort) {
            return parse(text, defaultPort, "\"" + text.strip() + "\"");
        }

        /**
         * As {@link #parse(String, int)}; {@code where} names the text in error messages ("bad port in WHERE").
         */
        public static Endpoint parse(String text, int defaultPort, String where) {
            String t = text.strip();
            String host;
            String port = null;
            if (t.startsWith("[")) {
                int close = t.indexOf(']');
                if (close < 0) {
                    throw new IllegalArgumentException("unclosed [ in " + where);
                }
                host = t.substring(1, close);
                String after = t.substring(close + 1);
                if (after.startsWith(":")) {
                    port = after.substring(1);
                } else if (!after.isEmpty()) {
                    throw new IllegalArgumentException("expected :PORT after ] in " + where);
                }
            } else {
                int colon = t.indexOf(':');
                if (colon >= 0 && t.indexOf(':', colon + 1) >= 0) {
                    throw new IllegalArgumentException("an IPv6 address needs brackets, [::1]:5432, in " + where);
                }
                host = colon < 0 ? t : t.substring(0, colon);
                port = colon < 0 ? null : t.substring(colon + 1);
            }
            if (host.isEmpty()) {
                throw new IllegalArgumentException("no host in " + where);
            }
            if (port == null) {
                return new Endpoint(host, defaultPort);
            }
            try {
                return new Endpoint(host, Integer.parseInt(port));
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("bad port in " + where);
            }
        }

        @Override
        public String toString() {
            return (host.indexOf(':') >= 0 ? "[" + host + "]" : host) + ":" + port;
        }
    }

    public BackendConfig {
        Objects.requireNonNull(hosts, "hosts");
        if (hosts.isEmpty()) {
            throw new IllegalArgumentException("a backend needs at least one host");
        }
        hosts = List.copyOf(hosts);
        parameters = parameters == null ? Map.of() : Map.copyOf(parameters);
        sslMode = sslMode == null ? SslMode.DISABLE : sslMode;
        targetSessionAttrs = targetSessionAttrs == null ? TargetSessionAttrs.ANY : targetSessionAttrs;
        loadBalanceHosts = loadBalanceHosts == null ? LoadBalanceHosts.DISABLE : loadBalanceHosts;
        auth = auth == null ? AuthMode.PASSTHROUGH : auth;
        clientAuthMethod = clientAuthMethod == null ? ClientAuthMethod.SCRAM_SHA_256 : clientAuthMethod;
        if (clientCredential != null) {
            checkClientCredential(clientCredential);
        }
        if (auth == AuthMode.PASSTHROUGH && (clientCredential != null || password != null)) {
            throw new IllegalArgumentException("a client credential or backend password needs auth proxy: with"
                    + " auth passthrough the backend authenticates the client");
        }
        if (auth == AuthMode.PASSTHROUGH && clientAuthMethod != ClientAuthMethod.SCRAM_SHA_256) {
            throw new IllegalArgumentException("a client authentication method needs auth proxy: with auth"
                    + " passthrough the backend authenticates the client");
        }
        if (clientAuthMethod == ClientAuthMethod.SCRAM_SHA_256 && clientCredential != null
                && MD5_HASH.matcher(clientCredential).matches()) {
            throw new IllegalArgumentException(MD5_NEEDS_MD5_METHOD);
        }
        if (auth == AuthMode.PASSTHROUGH && (authUser != null || authQuery != null)) {
            throw new IllegalArgumentException("auth_user and auth_query need auth proxy: with auth passthrough the"
                    + " backend authenticates the client");
        }
        if (authQuery != null && !java.util.regex.Pattern.compile("\\$1(?![0-9])").matcher(authQuery).find()) {
            throw new IllegalArgumentException("auth_query must take the user name as $1 (PgBouncer's default: "
                    + DEFAULT_AUTH_QUERY + ")");
        }
        pool = pool == null ? PoolConfig.NONE : pool;
        if (pool.pooled() && auth != AuthMode.PROXY) {
            throw new IllegalArgumentException("pool " + pool.mode().configName() + " needs auth proxy: pgmux logs in"
                    + " to pooled servers itself, so it must authenticate the clients");
        }
    }

    /** A backend without pooling. */
    public BackendConfig(List<Endpoint> hosts, String user, String database, Map<String, String> parameters,
                         SslMode sslMode, Path sslRootCert, TargetSessionAttrs targetSessionAttrs,
                         LoadBalanceHosts loadBalanceHosts, AuthMode auth, ClientAuthMethod clientAuthMethod,
                         String clientCredential, Secret password, String authUser, String authQuery) {
        this(hosts, user, database, parameters, sslMode, sslRootCert, targetSessionAttrs, loadBalanceHosts, auth,
                clientAuthMethod, clientCredential, password, authUser, authQuery, PoolConfig.NONE);
    }

    /** A backend whose clients' credentials are not looked up in the backend. */
    public BackendConfig(List<Endpoint> hosts, String user, String database, Map<String, String> parameters,
                         SslMode sslMode, Path sslRootCert, TargetSessionAttrs targetSessionAttrs,
                         LoadBalanceHosts loadBalanceHosts, AuthMode auth, ClientAuthMethod clientAuthMethod,
                         String clientCredential, Secret password) {
        this(hosts, user, database, parameters, sslMode, sslRootCert, targetSessionAttrs, loadBalanceHosts, auth,
                clientAuthMethod, clientCredential, password, null, null);
    }

    /**
     * Whether a client's credential may be looked up by running the auth query on the backend: {@code auth_user}
     * is set and the route gives no {@code client_password} of its own (a client the auth file lists is checked
     * against its line, as PgBouncer does).
     */
    public boolean looksUpCredentials() {
        return auth == AuthMode.PROXY && authUser != null && clientCredential == null;
    }

    /** The auth query to run: {@link #authQuery()}, or PgBouncer's default. */
    public String authQueryOrDefault() {
        return authQuery != null ? authQuery : DEFAULT_AUTH_QUERY;
    }


    /** A backend that relays authentication, as before pgmux could authenticate clients itself. */
    public BackendConfig(List<Endpoint> hosts, String user, String database, Map<String, String> parameters,
                         SslMode sslMode, Path sslRootCert, TargetSessionAttrs targetSessionAttrs,
                         LoadBalanceHosts loadBalanceHosts) {
        this(hosts, user, database, parameters, sslMode, sslRootCert, targetSessionAttrs, loadBalanceHosts, null,
                null, null, null);
    }

    /**
     * Refuses what is not a SCRAM-SHA-256 verifier or an MD5 hash, without repeating it: it may be a password.
     */
    private static void checkClientCredential(String credential) {
        if (SCRAM_VERIFIER.matcher(credential).matches()) {
            try {
                // the check every login makes (iteration count, key lengths), here once, at configuration time
                dev.pgmux.auth.ScramVerifier v = dev.pgmux.auth.ScramVerifier.parse(credential);
                if (v.iterations() < MIN_VERIFIER_ITERATIONS) {
                    throw new IllegalArgumentException(v.iterations() + " iterations, fewer than "
                            + MIN_VERIFIER_ITERATIONS + " (PostgreSQL's default, RFC 7677's minimum): make it again with"
                            + " `./pgmux passwd USER`");
                }
                return;
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("unusable SCRAM-SHA-256 verifier: " + e.getMessage());
            }
        } else if (MD5_HASH.matcher(credential).matches()) {
            return;
        }
        if (credential.startsWith("SCRAM-SHA-256$")) {
            throw new IllegalArgumentException("malformed SCRAM-SHA-256 verifier: expected"
                    + " SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey> (base64), as `./pgmux passwd USER`"
                    + " makes it and pg_authid.rolpassword holds it");
        }
        throw new IllegalArgumentException("plain passwords are refused in the configuration; use"
                + " `./pgmux passwd USER` to make a verifier");
    }

    /** A backend on one host, any role, as in the first releases. */
    public BackendConfig(String host, int port, String user, String database, Map<String, String> parameters,
                         SslMode sslMode, Path sslRootCert) {
        this(List.of(new Endpoint(host, port)), user, database, parameters, sslMode, sslRootCert, null, null);
    }

    /** A backend reached as {@code user} (null keeps the client's user name), same database name. */
    public static BackendConfig of(String host, int port, String user) {
        return new BackendConfig(host, port, user, null, Map.of(), SslMode.DISABLE, null);
    }

    public static Builder builder() {
        return new Builder();
    }

    /** The first host. */
    public String host() {
        return hosts.getFirst().host();
    }

    /** The first host's port. */
    public int port() {
        return hosts.getFirst().port();
    }

    public Builder toBuilder() {
        Builder b = new Builder().user(user).database(database).sslMode(sslMode).sslRootCert(sslRootCert)
                .targetSessionAttrs(targetSessionAttrs).loadBalanceHosts(loadBalanceHosts).auth(auth)
                .clientAuthMethod(clientAuthMethod).clientCredential(clientCredential).password(password).authUser(authUser).authQuery(authQuery).pool(pool);
        b.hosts.addAll(hosts);
        b.parameters.putAll(parameters);
        return b;
    }

    /** The backend's hosts as {@code host:port[,host:port...]}, for logs (never shown to unauthenticated clients). */
    public String address() {
        if (hosts.size() == 1) {
            return hosts.getFirst().toString();
        }
        StringBuilder sb = new StringBuilder();
        for (Endpoint e : hosts) {
            sb.append(sb.isEmpty() ? "" : ",").append(e);
        }
        return sb.toString();
    }

    /** As a record prints itself, but with no credential: the client credential as {@code ***}. */
    @Override
    public String toString() {
        return "BackendConfig[hosts=" + hosts + ", user=" + user + ", database=" + database + ", parameters="
                + parameters + ", sslMode=" + sslMode + ", sslRootCert=" + sslRootCert + ", targetSessionAttrs="
                + targetSessionAttrs + ", loadBalanceHosts=" + loadBalanceHosts + ", auth=" + auth
                + ", clientAuthMethod=" + clientAuthMethod + ", clientCredential="
                + (clientCredential == null ? null : "***") + ", password=" + password + ", authUser=" + authUser
                + ", authQuery=" + authQuery + ", pool=" + pool + "]";
    }

    /**
     * Builds a {@link BackendConfig}. Give the host with {@link #host}/{@link #port}, or several with
     * {@link #addHost} or {@link #hosts}.
     */
    public static final class Builder {
        private String host;
        private int port = 5432;
        private final List<Endpoint> hosts = new ArrayList<>();
        private String user;
        private String database;
        private final Map<String, String> parameters = new LinkedHashMap<>();
        private SslMode sslMode = SslMode.DISABLE;
        private Path sslRootCert;
        private TargetSessionAttrs targetSessionAttrs = TargetSessionAttrs.ANY;
        private LoadBalanceHosts loadBalanceHosts = LoadBalanceHosts.DISABLE;
        private AuthMode auth = AuthMode.PASSTHROUGH;
        private ClientAuthMethod clientAuthMethod = ClientAuthMethod.SCRAM_SHA_256;
        private String clientCredential;
        private Secret password;
        private String authUser;
        private String authQuery;
        private PoolConfig pool = PoolConfig.NONE;

        /**
         * The host (with {@link #port}); with {@link #addHost} too, it comes first. As in libpq, a comma-separated
         * list {@code "pg1,pg2:5433,[::1]"} gives several hosts, those without a port of their own on {@link #port}.
         */
        public Builder host(String host) {
            this.host = host;
            return this;
        }

        public Builder port(int port) {
            this.port = port;
            return this;
        }

        /** Adds a host to try. */
        public Builder addHost(String host, int port) {
            hosts.add(new Endpoint(host, port));
            return this;
        }

        /** Replaces the hosts added so far (and the one of {@link #host}). */
        public Builder hosts(List<Endpoint> hosts) {
            this.host = null;
            this.hosts.clear();
            this.hosts.addAll(hosts);
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

        /** How pgmux authenticates the clients of an {@link AuthMode#PROXY} route. */
        public Builder clientAuthMethod(ClientAuthMethod clientAuthMethod) {
            this.clientAuthMethod = clientAuthMethod;
            return this;
        }

        /** A SCRAM-SHA-256 verifier or an MD5 hash for clients of an {@link AuthMode#PROXY} route. */
        public Builder clientCredential(String clientCredential) {
            this.clientCredential = clientCredential;
            return this;
        }

        /** The password for the backend, for an {@link AuthMode#PROXY} route. */
        public Builder password(Secret password) {
            this.password = password;
            return this;
        }

        /** PgBouncer's {@code auth_user}, for an {@link AuthMode#PROXY} route. */
        public Builder authUser(String authUser) {
            this.authUser = authUser;
            return this;
        }

        /** PgBouncer's {@code auth_query}; null for the default. */
        public Builder authQuery(String authQuery) {
            this.authQuery = authQuery;
            return this;
        }

        /** How server connections are shared; {@link PoolConfig#NONE} by default. */
        public Builder pool(PoolConfig pool) {
            this.pool = pool;
            return this;
        }

        public BackendConfig build() {
            List<Endpoint> all = new ArrayList<>();
            if (host != null || hosts.isEmpty()) {
                Objects.requireNonNull(host, "host");
                if (host.indexOf(',') >= 0) {
                    for (String h : host.split(",", -1)) {
                        all.add(Endpoint.parse(h, port));
                    }
                } else {
                    all.add(new Endpoint(host, port));
                }
            }
            all.addAll(hosts);
            return new BackendConfig(all, user, database, parameters, sslMode, sslRootCert, targetSessionAttrs,
                    loadBalanceHosts, auth, clientAuthMethod, clientCredential, password, authUser, authQuery, pool);
        }
    }
}
