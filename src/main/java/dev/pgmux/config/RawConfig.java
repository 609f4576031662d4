package dev.pgmux.config;

import com.fasterxml.jackson.annotation.JsonProperty;
import dev.pgmux.routing.BackendSpec;
import java.util.List;
import java.util.Map;

/**
 * The config file's shape, key for key (Jackson maps {@code snake_case} keys onto these components). Everything
 * is optional here and kept as written: null means "not set", durations and modes are still text. {@link Validator}
 * turns it into a {@link ServerConfig}, so that every semantic error can name its key and line. A route, and a
 * pattern rule's backend, is a {@link BackendSpec}: the same keys as an HTTP routing service's answer, also
 * written in the one-line notation of {@code --route}.
 */
record RawConfig(List<String> listen, String adminListen, Integer threads, Tls tls, Limits limits,
                 Timeouts timeouts, Log log, Map<String, BackendSpec> routes, BackendSpec defaultRoute,
                 RouterSection router, RoleCheck roleCheck, Cluster cluster, Boolean hideUnknownUsers,
                 String authFile, String authUser, String authQuery, String authQueryCacheTtl,
                 Boolean allowCleartextWithoutTls, String unixSocketDir, String unixSocketMode,
                 ProxyProtocol proxyProtocol, List<String> adminUsers, List<String> statsUsers,
                 String consoleDatabase, Integer metricsPoolLabels) {

    /** {@code trusted}: the load balancers' addresses or networks ({@code 10.0.0.0/8}). */
    record ProxyProtocol(List<String> trusted) {
    }

    record Cluster(Integer instanceId, Map<Integer, String> peers) {
    }

    record RoleCheck(String user, String password, String passwordEnv, String database) {
    }

    record Tls(String cert, String key, Boolean required, String minVersion, String clientCa) {
    }

    record Limits(Integer maxClientConnections, Integer maxConnectionsPerIp, Integer maxHostConnections) {
    }

    record Timeouts(String clientLogin, String backendConnect, String router, String shutdown) {
    }

    record Log(String level, String format) {
    }

    /** {@code router:}, and each item of a chain: exactly one of the five keys. */
    record RouterSection(List<RouterSection> chain, @JsonProperty("static") StaticSection staticRoutes,
                         PatternSection pattern, HttpSection http, PostgresSection postgres) {
    }

    record StaticSection(Map<String, BackendSpec> routes, BackendSpec defaultRoute) {
    }

    record PatternSection(List<PatternRule> rules) {
    }

    /** {@code backend} may hold {@code {group}} placeholders, the port too. */
    record PatternRule(String name, RuleMatch match, BackendSpec backend) {
    }

    /** Regular expressions; {@code parameters} matches startup parameters by name. */
    record RuleMatch(String user, String database, String applicationName, String sni, String clientAddr,
                     Map<String, String> parameters) {
    }

    record HttpSection(String url, String method, String timeout, String cacheTtl, String negativeTtl,
                       String staleGrace, Integer maxEntries, String bearerToken, String bearerTokenEnv,
                       List<String> send) {
    }

    record PostgresSection(String dsn, String table) {
    }
}
