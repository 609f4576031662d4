package dev.pgmux.routing;

import com.fasterxml.jackson.annotation.JsonCreator;
import dev.pgmux.AuthMode;
import dev.pgmux.BackendConfig;
import dev.pgmux.BackendConfig.Endpoint;
import dev.pgmux.ClientAuthMethod;
import dev.pgmux.LoadBalanceHosts;
import dev.pgmux.PoolConfig;
import dev.pgmux.PoolMode;
import dev.pgmux.Secret;
import dev.pgmux.SessionStatePolicy;
import dev.pgmux.SslMode;
import dev.pgmux.TargetSessionAttrs;
import dev.pgmux.TcpPort;
import dev.pgmux.config.Durations;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;
import java.util.stream.Collectors;

/**
 * A backend as text, the way every source writes one: a route of the config file (a mapping, or the one-line
 * notation of {@code --route}), a pattern rule's backend (with {@code {placeholders}}), an HTTP routing service's
 * answer, a row of the routing table. The components are the keys of a route in the config file (Jackson reads
 * them in {@code snake_case}). {@link #parse} is the one place where such text becomes a {@link BackendConfig},
 * so that the same text is the same backend wherever it comes from.
 *
 * <p><b>Blank values.</b> A key that is absent, null or blank (empty, or only white space) is not set, and means
 * what leaving it out means: {@code user} and {@code database} keep the client's, {@code port} is 5432,
 * {@code sslmode} disable, {@code sslrootcert} the JDK's trust store, {@code target_session_attrs} any,
 * {@code load_balance_hosts} disable, {@code auth} passthrough, {@code client_auth_method} scram-sha-256,
 * {@code client_password}, {@code password_env} and
 * {@code password_file} none, {@code pool} none and the other pool keys PgBouncer's defaults ({@link PoolConfig});
 * an empty {@code hosts} list is not set either. Why not an error: libpq
 * reads its connection parameters the same way (an empty value is the default), a pattern group that took no part
 * fills in nothing, and JSON encoders write {@code ""} for a string never set, so refusing one source's blank
 * would fail another source's routes. What a refusal would catch, a templated file whose variable came out
 * empty, gives a client nothing it could not ask for by name: the backend still authenticates the user and checks
 * its right to the database. The host alone must be given: there is no backend without one. A startup
 * parameter's value is sent as written, blank too (an empty {@code search_path} means something); a null one is
 * not sent. So is {@code server_reset_query}: an empty one means "run nothing", as in PgBouncer, and only an
 * absent or null one is PgBouncer's default {@code DISCARD ALL}.
 *
 * <p><b>Passwords.</b> No source takes a plain password: {@code password} is refused (a backend password is named
 * by {@code password_env} or {@code password_file}, a client's is a verifier in {@code client_password}). Only the
 * config file may name a backend password: an HTTP answer or a table row that could would choose which of pgmux's
 * environment variables or files is sent to a host it also chooses. No message repeats {@code client_password}
 * or {@code password}: either may be a password written where it should not be. For the same reason as a backend
 * password, {@code auth_user} and {@code auth_query} are the config file's only: pgmux logs in as
 * {@code auth_user} with its auth-file password to the route's host, which an HTTP answer or a table row chooses.
 *
 * <p><b>Pooling.</b> {@code pool} and the keys that tune it, named as PgBouncer names them, are every source's:
 * they are only how the route's server connections are shared. Pooling needs {@code auth: proxy}. The other pool
 * keys apply only with {@code pool: session} or {@code transaction} ({@code on_session_state} only with
 * {@code transaction}), and are refused beside {@code pool: none}, so that a forgotten {@code pool} is not a
 * route silently without pooling. Durations are written as everywhere in the config ({@code 600s}, {@code 10m}).
 *
 * @param host               a host, or a comma-separated list {@code pg1,pg2:5433} whose entries may carry a port
 * @param port               the port of {@code host} (and of list entries without one); a number, as text
 * @param hosts              several hosts as {@code HOST[:PORT]} entries, instead of {@code host}
 * @param user               the user name sent to the backend
 * @param database           the database name sent to the backend
 * @param sslmode            {@link SslMode} in libpq's spelling
 * @param sslrootcert        a PEM file of CA certificates
 * @param targetSessionAttrs {@link TargetSessionAttrs} in libpq's spelling
 * @param loadBalanceHosts   {@link LoadBalanceHosts}
 * @param parameters         extra startup parameters for the backend
 * @param auth               {@link AuthMode}: {@code passthrough} or {@code proxy}
 * @param clientAuthMethod   with {@code auth: proxy}, how pgmux authenticates the clients: a {@link ClientAuthMethod}
 *                           by its pg_hba.conf name
 * @param clientPassword     with {@code auth: proxy}, what the route's clients authenticate against: a SCRAM-SHA-256
 *                           verifier or an MD5 hash ({@link BackendConfig#clientCredential()})
 * @param password           refused: a plain password; read only to say so
 * @param passwordEnv        with {@code auth: proxy}, the environment variable holding the backend's password
 * @param passwordFile       with {@code auth: proxy}, the file holding the backend's password
 * @param authUser           with {@code auth: proxy}, PgBouncer's {@code auth_user}: the user (its password in the
 *                           auth file) that looks clients' credentials up in the backend; the config file only
 * @param authQuery          with {@code auth: proxy}, PgBouncer's {@code auth_query}; the config file only
 * @param pool               {@link PoolMode}: {@code none}, {@code session} or {@code transaction}
 * @param poolSize           PgBouncer's {@code pool_size}: the most server connections of a pool, a whole number
 * @param minPoolSize        PgBouncer's {@code min_pool_size}: server connections kept open even when unused
 * @param maxClients         the most clients of the route at once, 0 for no limit
 * @param serverIdleTimeout  PgBouncer's {@code server_idle_timeout}, a duration
 * @param serverLifetime     PgBouncer's {@code server_lifetime}, a duration
 * @param queryWaitTimeout   PgBouncer's {@code query_wait_timeout}, a duration longer than 0
 * @param serverCheckDelay   PgBouncer's {@code server_check_delay}, a duration
 * @param onSessionState     {@link SessionStatePolicy}: {@code pin}, {@code error} or {@code ignore}
 * @param serverResetQuery   PgBouncer's {@code server_reset_query}; empty: run nothing
 */
public record BackendSpec(String host, String port, List<String> hosts, String user, String database, String sslmode,
                          String sslrootcert, String targetSessionAttrs, String loadBalanceHosts,
                          Map<String, String> parameters, String auth, String clientAuthMethod, String clientPassword,
                          String password, String passwordEnv, String passwordFile, String authUser,
                          String authQuery, String pool, String poolSize, String minPoolSize, String maxClients,
                          String serverIdleTimeout, String serverLifetime, String queryWaitTimeout,
                          String serverCheckDelay, String onSessionState, String serverResetQuery) {

    /** libpq's default port, for a backend whose port is not set. */
    public static final int DEFAULT_PORT = 5432;

    /** The refusal of a plain {@code password}, wherever it is written. */
    public static final String PLAIN_PASSWORD_REFUSED = "plain passwords are refused in the configuration: give the"
            + " backend's password by password_env (an environment variable) or password_file (a file), and clients'"
            + " by client_password, a verifier made with `./pgmux passwd USER`";

    /** The refusal of PgBouncer's {@code auth_user} and {@code auth_query} where a route's host is not pgmux's own. */
    public static final String AUTH_QUERY_CONFIG_ONLY = "auth_user and auth_query are set in pgmux's config file"
            + " only, not by a routing service or table: pgmux sends auth_user's password to the route's host";

    /** The keys that tune a pool, beside {@code pool} itself, as the config file names them. */
    static final List<String> POOL_KEYS = List.of("pool_size", "min_pool_size", "max_clients", "server_idle_timeout",
            "server_lifetime", "query_wait_timeout", "server_check_delay", "on_session_state", "server_reset_query");

    /** Option names of the notation whose values are never shown in a message. */
    private static final Set<String> HIDDEN_OPTIONS = Set.of("password", "client_password");

    public BackendSpec {
        // Copies that keep nulls: a null item is a problem to report by its index, not a crash here.
        hosts = hosts == null ? null : Collections.unmodifiableList(new ArrayList<>(hosts));
        parameters = parameters == null ? Map.of() : Collections.unmodifiableMap(new LinkedHashMap<>(parameters));
    }

    /** A spec without the authentication keys (a route that relays authentication). */
    public BackendSpec(String host, String port, List<String> hosts, String user, String database, String sslmode,
                       String sslrootcert, String targetSessionAttrs, String loadBalanceHosts,
                       Map<String, String> parameters) {
        this(host, port, hosts, user, database, sslmode, sslrootcert, targetSessionAttrs, loadBalanceHosts, parameters,
                null, null, null, null, null, null, null, null);
    }

    /** A spec without the pool keys (a route without pooling). */
    public BackendSpec(String host, String port, List<String> hosts, String user, String database, String sslmode,
                       String sslrootcert, String targetSessionAttrs, String loadBalanceHosts,
                       Map<String, String> parameters, String auth, String clientAuthMethod, String clientPassword,
                       String password, String passwordEnv, String passwordFile, String authUser, String authQuery) {
        this(host, port, hosts, user, database, sslmode, sslrootcert, targetSessionAttrs, loadBalanceHosts, parameters,
                auth, clientAuthMethod, clientPassword, password, passwordEnv, passwordFile, authUser, authQuery, null,
                null, null, null, null, null, null, null, null, null);
    }

    /** What is wrong with one key of a spec; {@code index} is the item of {@code hosts}, or -1. */
    public record Problem(String key, int index, String message) {
        @Override
        public String toString() {
            return key + (index >= 0 ? "[" + index + "]" : "") + ": " + message;
        }
    }

    /** A value read from a spec, or the problems that kept it from being one (then {@code value} is null). */
    public record Parsed<T>(T value, List<Problem> problems) {
        public Parsed {
            problems = List.copyOf(problems);
        }

        /** @throws IllegalArgumentException naming every problem ({@code port: must be between ...}) */
        public T orElseThrow() {
            if (!problems.isEmpty()) {
                throw new IllegalArgumentException(problems.stream().map(Problem::toString)
                        .collect(Collectors.joining("; ")));
            }
            return value;
        }
    }

    /**
     * Reads the one-line notation {@code [USER@]HOST[:PORT][,HOST[:PORT]...][/DATABASE][?NAME=VALUE&...]} of the
     * {@code --route} and {@code --default-route} flags, which a route of the config file may be too. The options
     * {@code sslmode}, {@code sslrootcert}, {@code target_session_attrs}, {@code load_balance_hosts}, {@code auth},
     * {@code client_auth_method}, {@code client_password}, {@code password_env}, {@code password_file},
     * {@code auth_user} and {@code auth_query} (and the refused {@code password}), {@code pool} and the pool keys
     * ({@code pool_size}, {@code min_pool_size}, {@code max_clients}, {@code server_idle_timeout},
     * {@code server_lifetime}, {@code query_wait_timeout}, {@code server_check_delay}, {@code on_session_state},
     * {@code server_reset_query}) set those keys; any other {@code NAME=VALUE} is a startup parameter. None of
     * the pool keys is a PostgreSQL setting, so none could have been a startup parameter a backend accepts.
     * Values are taken as written, without percent-decoding: a SCRAM verifier's {@code $ : + / =} need no escaping.
     * An empty user ({@code @db}) or database ({@code db/}) is not set, as everywhere.
     *
     * @throws IllegalArgumentException if the text is not in the notation (the message quotes it); the values are
     *                                  checked by {@link #parse}
     */
    @JsonCreator(mode = JsonCreator.Mode.DELEGATING)
    public static BackendSpec fromNotation(String text) {
        String rest = text.strip();
        String shown = shown(rest);
        Map<String, String> options = new LinkedHashMap<>();
        Map<String, String> parameters = new LinkedHashMap<>();
        int q = rest.indexOf('?');
        if (q >= 0) {
            for (String option : rest.substring(q + 1).split("&")) {
                int eq = option.indexOf('=');
                if (eq <= 0) {
                    throw new IllegalArgumentException("bad option \"" + option + "\" in backend " + shown);
                }
                String name = option.substring(0, eq);
                String value = option.substring(eq + 1);
                switch (name) {
                    case "sslmode", "sslrootcert", "target_session_attrs", "load_balance_hosts", "auth",
                         "client_auth_method", "client_password", "password", "password_env", "password_file",
                         "auth_user", "auth_query", "pool", "pool_size", "min_pool_size", "max_clients",
                         "server_idle_timeout", "server_lifetime", "query_wait_timeout", "server_check_delay",
                         "on_session_state", "server_reset_query" ->
                            options.put(name, value);
                    default -> parameters.put(name, value);
                }
            }
            rest = rest.substring(0, q);
        }
        String user = null;
        int at = rest.lastIndexOf('@');
        if (at >= 0) {
            user = rest.substring(0, at);
            rest = rest.substring(at + 1);
        }
        String database = null;
        int slash = rest.indexOf('/', rest.startsWith("[") ? rest.indexOf(']') : 0);
        if (slash >= 0) {
            database = rest.substring(slash + 1);
            rest = rest.substring(0, slash);
        }
        List<Endpoint> entries = new ArrayList<>();
        for (String entry : rest.split(",", -1)) {
            entries.add(Endpoint.parse(entry, DEFAULT_PORT, "backend " + shown));
        }
        // As host and port when there is one host; several go into host as a list, which parse() reads alike.
        String host = entries.size() == 1 ? entries.getFirst().host()
                : entries.stream().map(Endpoint::toString).collect(Collectors.joining(","));
        String port = entries.size() == 1 ? Integer.toString(entries.getFirst().port()) : null;
        return new BackendSpec(host, port, null, user, database, options.get("sslmode"), options.get("sslrootcert"),
                options.get("target_session_attrs"), options.get("load_balance_hosts"), parameters, options.get("auth"),
                options.get("client_auth_method"), options.get("client_password"), options.get("password"), options.get("password_env"),
                options.get("password_file"), options.get("auth_user"), options.get("auth_query"), options.get("pool"),
                options.get("pool_size"), options.get("min_pool_size"), options.get("max_clients"),
                options.get("server_idle_timeout"), options.get("server_lifetime"), options.get("query_wait_timeout"),
                options.get("server_check_delay"), options.get("on_session_state"), options.get("server_reset_query"));
    }

    /** The notation as messages show it: the values of {@link #HIDDEN_OPTIONS} as {@code ***}. */
    private static String shown(String text) {
        int q = text.indexOf('?');
        if (q < 0) {
            return text;
        }
        List<String> options = new ArrayList<>();
        for (String option : text.substring(q + 1).split("&", -1)) {
            int eq = option.indexOf('=');
            options.add(eq > 0 && HIDDEN_OPTIONS.contains(option.substring(0, eq))
                    ? option.substring(0, eq) + "=***" : option);
        }
        return text.substring(0, q + 1) + String.join("&", options);
    }

    /**
     * The backend of a source that may not name a backend password (an HTTP answer, a table row), with every
     * problem of every key: {@code password_env} and {@code password_file} are refused.
     *
     * @param files how {@code sslrootcert} names a file: a config file's names are relative to its directory and
     *              must be readable; an {@link IllegalArgumentException} from it is a problem of that key
     */
    public Parsed<BackendConfig> parse(Function<String, Path> files) {
        return parse(files, null);
    }

    /**
     * The backend, with every problem of every key.
     *
     * @param files       how {@code sslrootcert} and {@code password_file} name a file: a config file's names are
     *                    relative to its directory and must be readable; an {@link IllegalArgumentException} from
     *                    it is a problem of that key
     * @param environment the environment {@code password_env} names a variable of; null where a backend password
     *                    may not be named (see the class comment)
     */
    public Parsed<BackendConfig> parse(Function<String, Path> files, Map<String, String> environment) {
        Reader r = new Reader(false, files);
        r.hostGiven();
        int port = r.port();
        List<Endpoint> endpoints = r.endpoints(port);
        SslMode ssl = r.read("sslmode", sslmode, SslMode.DISABLE, SslMode::parse);
        Path rootCert = r.read("sslrootcert", sslrootcert, null, files);
        TargetSessionAttrs attrs = r.read("target_session_attrs", targetSessionAttrs, TargetSessionAttrs.ANY,
                TargetSessionAttrs::parse);
        LoadBalanceHosts balance = r.read("load_balance_hosts", loadBalanceHosts, LoadBalanceHosts.DISABLE,
                LoadBalanceHosts::parse);
        Map<String, String> params = r.parameters();
        Auth a = r.auth(environment);
        PoolConfig pooling = r.pool(r.authModeKnown ? a.mode : null);
        if (!r.problems.isEmpty()) {
            return new Parsed<>(null, r.problems);
        }
        return new Parsed<>(new BackendConfig(endpoints, notSet(user), notSet(database), params, ssl, rootCert, attrs,
                balance, a.mode, a.method, a.clientCredential, a.password, a.authUser, a.authQuery, pooling),
                List.of());
    }

    /**
     * The backend of a source that may not name a backend password (an HTTP answer, a table row, a pattern rule's
     * backend once filled in), its {@code sslrootcert} taken as it is.
     *
     * @throws IllegalArgumentException naming every problem
     */
    public BackendConfig toBackendConfig() {
        return parse(BackendSpec::path).orElseThrow();
    }

    /**
     * A pattern rule's backend: {@code {name}} placeholders may stand in the host, port, user, database and
     * parameter values, which are checked once filled in ({@link BackendTemplate#expand}); the rest is checked
     * here. Several hosts go in {@code host} as a list: {@code hosts} is not taken, because a placeholder's value
     * must not be read as a {@code HOST:PORT} of its own. The authentication keys take fixed text: a client's
     * words must not choose how it is authenticated, nor which password pgmux sends.
     *
     * @param environment as for {@link #parse(Function, Map)}
     */
    public Parsed<BackendTemplate> parseTemplate(Function<String, Path> files, Map<String, String> environment) {
        Reader r = new Reader(true, files);
        if (hasHosts()) {
            r.problem("hosts", -1, "a rule's backend takes host:, a comma-separated list for several hosts");
        } else {
            r.hostGiven();
            r.endpoints(r.port());
        }
        SslMode ssl = r.read("sslmode", sslmode, SslMode.DISABLE, SslMode::parse);
        Path rootCert = r.read("sslrootcert", sslrootcert, null, files);
        TargetSessionAttrs attrs = r.read("target_session_attrs", targetSessionAttrs, TargetSessionAttrs.ANY,
                TargetSessionAttrs::parse);
        LoadBalanceHosts balance = r.read("load_balance_hosts", loadBalanceHosts, LoadBalanceHosts.DISABLE,
                LoadBalanceHosts::parse);
        Map<String, String> params = r.parameters();
        boolean fixed = r.fixed("auth", auth) & r.fixed("client_auth_method", clientAuthMethod)
                & r.fixed("client_password", clientPassword) & r.fixed("password_env", passwordEnv)
                & r.fixed("password_file", passwordFile) & r.fixed("auth_user", authUser)
                & r.fixed("auth_query", authQuery);
        Auth a = fixed ? r.auth(environment) : Auth.NONE;
        boolean poolFixed = r.fixed("pool", pool);
        for (String key : POOL_KEYS) {
            poolFixed &= r.fixed(key, poolText(key));
        }
        // Not compared with an auth that has placeholders or is unknown: that is a problem already.
        PoolConfig pooling = poolFixed ? r.pool(fixed && r.authModeKnown ? a.mode : null) : PoolConfig.NONE;
        if (!r.problems.isEmpty()) {
            return new Parsed<>(null, r.problems);
        }
        return new Parsed<>(new BackendTemplate(host.strip(), notSet(port), notSet(user), notSet(database), params,
                ssl, rootCert, attrs, balance, a.mode, a.method, a.clientCredential, a.password, a.authUser,
                a.authQuery, pooling), List.of());
    }

    /** The template of a source that may not name a backend password. */
    public Parsed<BackendTemplate> parseTemplate(Function<String, Path> files) {
        return parseTemplate(files, null);
    }

    /** Whether {@code hosts} is set: an empty list is not, as a blank text is not. */
    private boolean hasHosts() {
        return hosts != null && !hosts.isEmpty();
    }

    /** The text of one of {@link #POOL_KEYS}. */
    private String poolText(String key) {
        return switch (key) {
            case "pool_size" -> poolSize;
            case "min_pool_size" -> minPoolSize;
            case "max_clients" -> maxClients;
            case "server_idle_timeout" -> serverIdleTimeout;
            case "server_lifetime" -> serverLifetime;
            case "query_wait_timeout" -> queryWaitTimeout;
            case "server_check_delay" -> serverCheckDelay;
            case "on_session_state" -> onSessionState;
            case "server_reset_query" -> serverResetQuery;
            default -> throw new IllegalArgumentException(key);
        };
    }

    /** {@code text}, or null when it is blank: the one rule for values that are not set. */
    static String notSet(String text) {
        return text == null || text.isBlank() ? null : text;
    }

    private static Path path(String name) {
        return Path.of(name.strip());
    }

    /** The authentication keys as read. */
    private record Auth(AuthMode mode, ClientAuthMethod method, String clientCredential, Secret password,
                        String authUser, String authQuery) {
        static final Auth NONE = new Auth(AuthMode.PASSTHROUGH, null, null, null, null, null);
    }

    /** One reading of this spec: the problems found so far. */
    private final class Reader {
        private final boolean template;
        private final Function<String, Path> files;
        private final List<Problem> problems = new ArrayList<>();
        /** Whether {@link #auth} read a known {@code auth} (or none): what else depends on it can be checked. */
        private boolean authModeKnown;

        Reader(boolean template, Function<String, Path> files) {
            this.template = template;
            this.files = files;
        }

        void problem(String key, int index, String message) {
            problems.add(new Problem(key, index, message));
        }

        /** Whether {@code text} is to be checked now: not a template's text with placeholders in it. */
        boolean literal(String text) {
            return !template || BackendTemplate.placeholders(text).isEmpty();
        }

        <T> T read(String key, String text, T notSet, Function<String, T> parse) {
            if (notSet(text) == null) {
                return notSet;
            }
            try {
                return parse.apply(text);
            } catch (IllegalArgumentException e) {
                problem(key, -1, e.getMessage());
                return notSet;
            }
        }

        void hostGiven() {
            boolean hasHost = notSet(host) != null;
            if (hasHosts() && hasHost) {
                problem("hosts", -1, "give host: or hosts:, not both");
            } else if (!hasHosts() && !hasHost) {
                problem("host", -1, "missing: every route needs a host (or hosts:)");
            }
        }

        /** The port, 5432 when not set (or wrong: the problem is reported once, not again for every host). */
        int port() {
            if (notSet(port) == null || !literal(port)) {
                return DEFAULT_PORT;
            }
            try {
                return TcpPort.parse(port);
            } catch (IllegalArgumentException e) {
                boolean number = port.strip().matches("-?[0-9]+");
                problem("port", -1, template && !number
                        ? "must be a number or {placeholders}, not \"" + port + "\"" : e.getMessage());
                return DEFAULT_PORT;
            }
        }

        /** The hosts, those of a list with their own port or else {@code port}; empty after a problem. */
        List<Endpoint> endpoints(int port) {
            List<Endpoint> endpoints = new ArrayList<>();
            if (hasHosts()) {
                for (int i = 0; i < hosts.size(); i++) {
                    String h = hosts.get(i);
                    if (notSet(h) == null) {
                        problem("hosts", i, "empty host");
                        continue;
                    }
                    try {
                        endpoints.add(Endpoint.parse(h, port));
                    } catch (IllegalArgumentException e) {
                        problem("hosts", i, e.getMessage());
                    }
                }
            } else if (notSet(host) != null && literal(host)) {
                try {
                    // BackendConfig.Builder's reading of a host: a comma-separated list, or one host as it is.
                    endpoints.addAll(BackendConfig.builder().host(host.strip()).port(port).build().hosts());
                } catch (IllegalArgumentException e) {
                    problem("host", -1, e.getMessage());
                }
            }
            return endpoints;
        }

        /** Whether {@code text} is fixed: a template's with placeholders is a problem of {@code key}. */
        boolean fixed(String key, String text) {
            if (template && !BackendTemplate.placeholders(text).isEmpty()) {
                problem(key, -1, "takes fixed text in a rule, not {placeholders}");
                return false;
            }
            return true;
        }

        /**
         * {@code auth}, {@code client_auth_method}, {@code client_password} and the backend password. Nothing here
         * quotes {@code client_password} or {@code password}.
         *
         * @param environment null where a backend password may not be named
         */
        Auth auth(Map<String, String> environment) {
            int before = problems.size();
            AuthMode mode = read("auth", auth, AuthMode.PASSTHROUGH, AuthMode::parse);
            boolean modeKnown = problems.size() == before;
            authModeKnown = modeKnown;
            int beforeMethod = problems.size();
            ClientAuthMethod method = read("client_auth_method", clientAuthMethod, ClientAuthMethod.SCRAM_SHA_256,
                    ClientAuthMethod::parse);
            boolean methodKnown = problems.size() == beforeMethod;
            if (notSet(password) != null) {
                problem("password", -1, PLAIN_PASSWORD_REFUSED);
            }
            String lookupUser = notSet(authUser) == null ? null : authUser.strip();
            String lookupQuery = notSet(authQuery) == null ? null : authQuery.strip();
            if (environment == null) {
                if (lookupUser != null) {
                    problem("auth_user", -1, AUTH_QUERY_CONFIG_ONLY);
                }
                if (lookupQuery != null) {
                    problem("auth_query", -1, AUTH_QUERY_CONFIG_ONLY);
                }
                lookupUser = null;
                lookupQuery = null;
            }
            String credential = null;
            if (notSet(clientPassword) != null) {
                credential = clientPassword.strip();
                try {
                    // BackendConfig's check of a client credential (and of its method), which never quotes it. An
                    // unknown method is a problem already: MD5's takes every credential.
                    BackendConfig.builder().host("localhost").auth(AuthMode.PROXY)
                            .clientAuthMethod(methodKnown ? method : ClientAuthMethod.MD5).clientCredential(credential)
                            .build();
                } catch (IllegalArgumentException e) {
                    problem("client_password", -1, e.getMessage());
                    credential = null;
                }
            }
            Secret secret = backendPassword(environment);
            if (modeKnown && mode != AuthMode.PROXY) {
                for (String key : List.of("client_auth_method", "client_password", "password_env", "password_file",
                        "auth_user", "auth_query")) {
                    String text = switch (key) {
                        case "client_auth_method" -> clientAuthMethod;
                        case "client_password" -> clientPassword;
                        case "password_env" -> passwordEnv;
                        case "password_file" -> passwordFile;
                        case "auth_user" -> lookupUser;
                        default -> lookupQuery;
                    };
                    if (notSet(text) != null) {
                        problem(key, -1, "applies only with auth: proxy (with auth: passthrough the backend"
                                + " authenticates the client)");
                    }
                }
            }
            return new Auth(mode, method, credential, secret, lookupUser, lookupQuery);
        }

        /**
         * {@code pool} and the keys that tune it. Each is checked on its own, with a message that does not repeat
         * its name (the problem names it); what {@link PoolConfig} checks across keys is checked here first.
         *
         * @param authMode the route's auth as read, or null when it is not known (it has placeholders)
         */
        PoolConfig pool(AuthMode authMode) {
            int before = problems.size();
            PoolMode mode = read("pool", pool, PoolMode.NONE, PoolMode::parse);
            boolean modeKnown = problems.size() == before;
            PoolConfig defaults = PoolConfig.builder().build();
            int beforeSizes = problems.size();
            int size = count("pool_size", poolSize, defaults.size(), 1, "must be at least 1");
            int minIdle = count("min_pool_size", minPoolSize, defaults.minIdle(), 0, "must be 0 or more");
            if (minIdle > size && problems.size() == beforeSizes) {
                problem("min_pool_size", -1, "must be between 0 and pool_size (" + size + "), not " + minIdle);
            }
            int clients = count("max_clients", maxClients, defaults.maxClients(), 0, "must be 0 (no limit) or more");
            Duration idle = read("server_idle_timeout", serverIdleTimeout, defaults.idleTimeout(), Durations::parse);
            Duration lifetime = read("server_lifetime", serverLifetime, defaults.serverLifetime(), Durations::parse);
            int beforeWait = problems.size();
            Duration wait = read("query_wait_timeout", queryWaitTimeout, defaults.waitTimeout(), Durations::parse);
            if (wait.isZero() && problems.size() == beforeWait) {
                problem("query_wait_timeout", -1, "must be longer than 0: a client must not wait for a server"
                        + " connection forever");
            }
            Duration check = read("server_check_delay", serverCheckDelay, defaults.checkAfterIdle(), Durations::parse);
            SessionStatePolicy onState = read("on_session_state", onSessionState, defaults.onSessionState(),
                    SessionStatePolicy::parse);
            // Not notSet(): an empty reset query means "run nothing" (PgBouncer's meaning), not the default.
            String reset = serverResetQuery == null ? defaults.resetQuery() : serverResetQuery.strip();
            if (modeKnown && mode == PoolMode.NONE) {
                for (String key : POOL_KEYS) {
                    if (notSet(poolText(key)) != null) {
                        problem(key, -1, "applies only with pool: session or transaction (without pooling each"
                                + " client has a server connection of its own)");
                    }
                }
            } else if (modeKnown && mode == PoolMode.SESSION && notSet(onSessionState) != null) {
                problem("on_session_state", -1, "applies only with pool: transaction (with pool: session a client"
                        + " keeps its server connection until it leaves)");
            }
            if (modeKnown && authMode != null && mode != PoolMode.NONE) {
                try {
                    // BackendConfig's check of pooling against auth, with its message.
                    BackendConfig.builder().host("localhost").auth(authMode)
                            .pool(PoolConfig.builder().mode(mode).build()).build();
                } catch (IllegalArgumentException e) {
                    problem("pool", -1, e.getMessage());
                }
            }
            if (problems.size() > before || mode == PoolMode.NONE) {
                // One value for "no pooling", so that routes that differ only in an empty reset query are equal.
                return PoolConfig.NONE;
            }
            return new PoolConfig(mode, size, minIdle, idle, lifetime, wait, clients, onState, reset, check);
        }

        /**
         * A whole number of at least {@code min}; {@code notSet} when it is not set, or after a problem ({@code below}
         * says what a smaller one must be).
         */
        private int count(String key, String text, int notSet, int min, String below) {
            if (notSet(text) == null) {
                return notSet;
            }
            int n;
            try {
                n = Integer.parseInt(text.strip());
            } catch (NumberFormatException e) {
                problem(key, -1, "must be a whole number, not \"" + text + "\"");
                return notSet;
            }
            if (n < min) {
                problem(key, -1, below + ", not " + n);
                return notSet;
            }
            return n;
        }

        /** The password of {@code password_env} or {@code password_file}, or null. */
        private Secret backendPassword(Map<String, String> environment) {
            boolean env = notSet(passwordEnv) != null;
            boolean file = notSet(passwordFile) != null;
            if (env && file) {
                problem("password_file", -1, "give password_env or password_file, not both");
                return null;
            }
            if (!env && !file) {
                return null;
            }
            String key = env ? "password_env" : "password_file";
            if (environment == null) {
                problem(key, -1, "a backend password is named in pgmux's config file only, not by a routing"
                        + " service or table");
                return null;
            }
            try {
                return env ? Secret.fromEnv(passwordEnv, environment) : Secret.fromFile(files.apply(passwordFile));
            } catch (IllegalArgumentException e) {
                problem(key, -1, e.getMessage());
                return null;
            }
        }

        /** The parameters to send: null values are not set; a name is needed (an empty one ends the list). */
        Map<String, String> parameters() {
            Map<String, String> out = new LinkedHashMap<>();
            parameters.forEach((name, value) -> {
                if (name == null || name.isBlank()) {
                    // In the StartupMessage an empty name ends the parameter list: the rest would be garbage.
                    problem("parameters", -1, "a startup parameter needs a name, not \"" + name + "\"");
                } else if (value != null) {
                    out.put(name, value);
                }
            });
            return out;
        }
    }
}
