package dev.pgmux.config;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonProperty;
import dev.pgmux.BackendConfig;
import java.util.List;
import java.util.Map;

/**
 * The config file's shape, key for key (Jackson maps {@code snake_case} keys onto these components). Everything
 * is optional here and kept as written: null means "not set", durations and modes are still text. {@link Validator}
 * turns it into a {@link ServerConfig}, so that every semantic error can name its key and line.
 */
record RawConfig(List<String> listen, String adminListen, Integer threads, Tls tls, Limits limits,
                 Timeouts timeouts, Log log, Map<String, Route> routes, Route defaultRoute, RouterSection router,
                 RoleCheck roleCheck, Cluster cluster, Boolean hideUnknownUsers) {

    record Cluster(Integer instanceId, Map<Integer, String> peers) {
    }

    record RoleCheck(String user, String password, String passwordEnv, String database) {
    }

    record Tls(String cert, String key, Boolean required, String minVersion) {
    }

    record Limits(Integer maxClientConnections, Integer maxConnectionsPerIp) {
    }

    record Timeouts(String clientLogin, String backendConnect, String router, String shutdown) {
    }

    record Log(String level, String format) {
    }

    record Route(String host, Integer port, List<String> hosts, String user, String database, String sslmode,
                 String sslrootcert, String targetSessionAttrs, String loadBalanceHosts,
                 Map<String, String> parameters) {

        /** A route written in the flags' one-line notation, e.g. {@code app_user: postgres@10.0.1.50:5432/app}. */
        @JsonCreator(mode = JsonCreator.Mode.DELEGATING)
        static Route fromSpec(String spec) {
            BackendConfig b = BackendSpec.parseBackend(spec);
            List<String> hosts = b.hosts().size() == 1 ? null : b.hosts().stream().map(Object::toString).toList();
            return new Route(hosts == null ? b.host() : null, hosts == null ? b.port() : null, hosts, b.user(),
                    b.database(), b.sslMode().libpqName(), b.sslRootCert() == null ? null : b.sslRootCert().toString(),
                    b.targetSessionAttrs().libpqName(), b.loadBalanceHosts().configName(), b.parameters());
        }
    }

    /** {@code router:}, and each item of a chain: exactly one of the five keys. */
    record RouterSection(List<RouterSection> chain, @JsonProperty("static") StaticSection staticRoutes,
                         PatternSection pattern, HttpSection http, PostgresSection postgres) {
    }

    record StaticSection(Map<String, Route> routes, Route defaultRoute) {
    }

    record PatternSection(List<PatternRule> rules) {
    }

    record PatternRule(String name, RuleMatch match, RuleBackend backend) {
    }

    /** Regular expressions; {@code parameters} matches startup parameters by name. */
    record RuleMatch(String user, String database, String applicationName, String sni, String clientAddr,
                     Map<String, String> parameters) {
    }

    /** A route whose texts may hold {@code {group}} placeholders, the port too. */
    record RuleBackend(String host, String port, String user, String database, String sslmode, String sslrootcert,
                       String targetSessionAttrs, String loadBalanceHosts, Map<String, String> parameters) {
    }

    record HttpSection(String url, String method, String timeout, String cacheTtl, String negativeTtl,
                       String staleGrace, Integer maxEntries, String bearerToken, String bearerTokenEnv,
                       List<String> send) {
    }

    record PostgresSection(String dsn, String table) {
    }
}
