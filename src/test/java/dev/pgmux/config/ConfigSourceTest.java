package dev.pgmux.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import com.fasterxml.jackson.annotation.JsonProperty;
import dev.pgmux.AuthMode;
import dev.pgmux.BackendConfig;
import dev.pgmux.ClientAuthMethod;
import dev.pgmux.Limits;
import dev.pgmux.ProxyProtocol;
import dev.pgmux.SslMode;
import dev.pgmux.TlsConfig;
import dev.pgmux.routing.BackendSpec;
import dev.pgmux.testing.TestCerts;
import java.io.IOException;
import java.lang.reflect.RecordComponent;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The file, the environment and flags into a {@link ServerConfig}; errors naming key and line. */
class ConfigSourceTest {

    @TempDir
    Path dir;

    /** The example from the issue, less the TLS files. */
    static final String FULL = """
            listen: ["127.0.0.1:5434", "[::1]:5434"]
            admin_listen: "127.0.0.1:9187"
            limits: { max_client_connections: 500, max_connections_per_ip: 20, max_host_connections: 50 }
            timeouts: { client_login: 10s, backend_connect: 500ms, router: 2s, shutdown: 1m }
            log: { level: debug, format: json }
            routes:
              app_user:      { host: 10.0.1.50, port: 5432, user: postgres }
              readonly_user: { host: 10.0.1.51, port: 6432, user: readonly, database: app, sslmode: require,
                               parameters: { application_name: reports, statement_timeout: 5000 } }
              short: "postgres@10.0.1.52:5433/app"
            default_route: null
            """;

    @Test
    void readsEveryKey() throws Exception {
        ServerConfig c = load(FULL);
        assertThat(c.listen()).containsExactly("127.0.0.1:5434", "[::1]:5434");
        assertThat(c.adminListen()).isEqualTo(new HostPort("127.0.0.1", 9187));
        assertThat(c.limits()).isEqualTo(new Limits(500, 20, Duration.ofSeconds(10), Duration.ofMillis(500),
                Duration.ofSeconds(2), Duration.ofMinutes(1)).withMaxHostConnections(50));
        assertThat(c.log()).isEqualTo(new ServerConfig.Log("debug", ServerConfig.LogFormat.JSON));
        assertThat(c.routes()).containsOnlyKeys("app_user", "readonly_user", "short");
        assertThat(c.routes().keySet()).containsExactly("app_user", "readonly_user", "short");
        assertThat(c.routes().get("app_user")).isEqualTo(BackendConfig.of("10.0.1.50", 5432, "postgres"));
        assertThat(c.routes().get("readonly_user")).isEqualTo(BackendConfig.builder().host("10.0.1.51").port(6432)
                .user("readonly").database("app").sslMode(SslMode.REQUIRE)
                .parameter("application_name", "reports").parameter("statement_timeout", "5000").build());
        assertThat(c.routes().get("short")).isEqualTo(BackendConfig.builder().host("10.0.1.52").port(5433)
                .user("postgres").database("app").build());
        assertThat(c.defaultRoute()).isNull();
        assertThat(c.tls()).isNull();
        assertThat(c.threads()).isNull();
    }

    @Test
    void defaultsForWhatIsLeftOut() throws Exception {
        ServerConfig c = load("routes: { alice: 127.0.0.1:5432 }\n");
        assertThat(c.listen()).containsExactly("127.0.0.1:5434");
        assertThat(c.adminListen()).isNull();
        assertThat(c.limits()).isEqualTo(Limits.DEFAULT);
        assertThat(c.log()).isEqualTo(new ServerConfig.Log("info", ServerConfig.LogFormat.TEXT));
        assertThat(c.routes().get("alice")).isEqualTo(BackendConfig.of("127.0.0.1", 5432, null));
    }

    @Test
    void aDefaultRouteAloneIsEnough() throws Exception {
        ServerConfig c = load("default_route: { host: db, port: 5433 }\n");
        assertThat(c.routes()).isEmpty();
        assertThat(c.defaultRoute()).isEqualTo(BackendConfig.of("db", 5433, null));
        assertThat(c.routing()).isEqualTo(new RouterSpec.Static(Map.of(), c.defaultRoute()));
    }

    @Test
    void unknownKeyIsAnErrorNamingKeyAndLine() {
        ConfigException e = loadFails("""
                listen: ["127.0.0.1:5434"]
                routes:
                  app_user:
                    host: 10.0.1.50
                    prot: 5432
                """);
        assertThat(e.errors()).singleElement().satisfies(err -> {
            assertThat(err.origin()).isEqualTo(file() + ":5");
            assertThat(err.key()).isEqualTo("routes.app_user.prot");
            assertThat(err.message()).startsWith("unknown key").contains("port");
        });
    }

    @Test
    void clusterSection() throws Exception {
        ServerConfig c = load("""
                routes: { a: h:1 }
                cluster:
                  instance_id: 2
                  peers: { 1: "10.0.0.11:5434", 2: "10.0.0.12:5434" }
                """);
        assertThat(c.cluster()).isEqualTo(new dev.pgmux.Cluster(2, Map.of(1, "10.0.0.11:5434", 2, "10.0.0.12:5434")));
        ConfigException e = loadFails("""
                routes: { a: h:1 }
                cluster:
                  instance_id: 300
                  peers: { 1: "nohost" }
                """);
        assertThat(e.errors()).extracting(ConfigError::toString).containsExactly(
                file() + ":3: cluster.instance_id: must be between 1 and 255, not 300",
                file() + ":4: cluster.peers.1: address needs host:port, not \"nohost\"");
    }

    @Test
    void unknownTopLevelKey() {
        ConfigException e = loadFails("routes: { a: h:1 }\nlisten_on: x\n");
        assertThat(e.errors()).singleElement().hasToString(file() + ":2: listen_on: unknown key (known keys: "
                + "admin_listen, admin_users, allow_cleartext_without_tls, auth_file, auth_query, auth_query_cache_ttl,"
                + " auth_user, cluster, console_database, default_route,"
                + " hide_unknown_users, limits, listen, log, metrics_pool_labels, proxy_protocol, role_check, router,"
                + " routes, stats_users, threads, timeouts, tls, unix_socket_dir, unix_socket_mode)");
    }

    @Test
    void wrongTypeNamesKeyAndLine() {
        ConfigException e = loadFails("routes: { a: h:1 }\nlimits:\n  max_client_connections: lots\n");
        assertThat(e.errors()).singleElement().hasToString(
                file() + ":3: limits.max_client_connections: expected a whole number, not \"lots\"");
    }

    @Test
    void listsEverySemanticErrorInFileOrder() {
        ConfigException e = loadFails("""
                listen: ["127.0.0.1:5434", "nohost"]
                timeouts: { client_login: 15, shutdown: 0 }
                log: { level: loud }
                routes:
                  a: { port: 70000 }
                  b: { host: db, sslmode: sometimes }
                """);
        assertThat(e.errors()).extracting(ConfigError::toString).containsExactly(
                file() + ":1: listen[1]: address needs host:port, not \"nohost\"",
                file() + ":2: timeouts.client_login: duration \"15\" needs a unit: 15s, 15ms, 15m",
                file() + ":3: log.level: must be one of trace, debug, info, warn, error, not \"loud\"",
                file() + ":5: routes.a.host: missing: every route needs a host (or hosts:)",
                file() + ":5: routes.a.port: must be between 1 and 65535, not 70000",
                file() + ":6: routes.b.sslmode: unknown sslmode \"sometimes\" (disable, prefer, require, verify-ca,"
                        + " verify-full)");
    }

    @Test
    void yamlSyntaxErrorHasALine() {
        ConfigException e = loadFails("routes:\n  a: {host: x\n");
        assertThat(e.errors()).singleElement().satisfies(err -> {
            assertThat(err.origin()).startsWith(file() + ":");
            assertThat(err.message()).startsWith("YAML: ");
        });
    }

    @Test
    void duplicateKeyIsAnError() {
        ConfigException e = loadFails("routes:\n  a: h:1\n  a: h:2\n");
        assertThat(e.errors()).singleElement().hasToString(file() + ":3: YAML: duplicate key 'a'");
    }

    @Test
    void noRoutesIsAnError() {
        ConfigException e = loadFails("listen: [\"127.0.0.1:5434\"]\n");
        assertThat(e.errors()).singleElement().extracting(ConfigError::key).isEqualTo("routes");
    }

    @Test
    void emptyFileIsNoRoutesNotACrash() {
        assertThat(loadFails("").errors()).singleElement().extracting(ConfigError::key).isEqualTo("routes");
        assertThat(loadFails("# nothing\n").errors()).singleElement().extracting(ConfigError::key).isEqualTo("routes");
    }

    @Test
    void aFileThatIsNotAMappingIsAnError() {
        assertThat(loadFails("- a\n- b\n").errors()).singleElement()
                .satisfies(err -> assertThat(err.message()).contains("must be a mapping"));
    }

    @Test
    void missingFileIsAnError() {
        ConfigSource source = new ConfigSource(dir.resolve("nope.yaml"), Map.of(), List.of());
        ConfigException e = catchThrowableOfType(ConfigException.class, source::load);
        assertThat(e.errors()).singleElement().extracting(ConfigError::message).isEqualTo("no such file");
    }

    @Test
    void environmentOverridesTheFile() throws Exception {
        ServerConfig c = load(FULL, Map.of(
                "PGMUX_LISTEN", "0.0.0.0:6432, [::]:6432",
                "PGMUX_ADMIN_LISTEN", "0.0.0.0:9000",
                "PGMUX_MAX_CLIENT_CONNECTIONS", "7",
                "PGMUX_SHUTDOWN_TIMEOUT", "5s",
                "PGMUX_LOG_LEVEL", "WARN",
                "PGMUX_LOG_FORMAT", "text",
                "PGMUX_DEFAULT_ROUTE", "fallback@db:5432",
                "PGMUX_THREADS", "3",
                "PGMUX_TLS_REQUIRED", "", // empty: not set
                "HOME", "/root"), List.of());
        assertThat(c.listen()).containsExactly("0.0.0.0:6432", "[::]:6432");
        assertThat(c.adminListen()).isEqualTo(new HostPort("0.0.0.0", 9000));
        assertThat(c.limits().maxClientConnections()).isEqualTo(7);
        assertThat(c.limits().maxConnectionsPerIp()).isEqualTo(20);
        assertThat(c.limits().maxHostConnections()).as("from the file").isEqualTo(50);
        assertThat(c.limits().shutdownTimeout()).isEqualTo(Duration.ofSeconds(5));
        assertThat(c.log()).isEqualTo(new ServerConfig.Log("warn", ServerConfig.LogFormat.TEXT));
        assertThat(c.defaultRoute()).isEqualTo(BackendConfig.of("db", 5432, "fallback"));
        assertThat(c.threads()).isEqualTo(3);
        assertThat(c.tls()).isNull();
    }

    @Test
    void flagsOverrideTheEnvironmentAndMergeRoutes() throws Exception {
        ServerConfig c = load(FULL, Map.of("PGMUX_MAX_CLIENT_CONNECTIONS", "7", "PGMUX_LISTEN", "0.0.0.0:1"), List.of(
                Setting.of("--max-client-connections", 9, "limits", "max_client_connections"),
                Setting.of("--route", "other@127.0.0.1:7000", "routes", "app_user"),
                Setting.of("--route", "127.0.0.1:7001/db", "routes", "new.user")));
        assertThat(c.limits().maxClientConnections()).isEqualTo(9);
        assertThat(c.listen()).containsExactly("0.0.0.0:1");
        assertThat(c.routes().keySet()).containsExactly("app_user", "readonly_user", "short", "new.user");
        assertThat(c.routes().get("app_user")).isEqualTo(BackendConfig.of("127.0.0.1", 7000, "other"));
        assertThat(c.routes().get("new.user").database()).isEqualTo("db");
    }

    @Test
    void maxHostConnectionsFromTheFileTheEnvironmentAndTheFlag() throws Exception {
        assertThat(load("routes: { a: db }\n").limits().maxHostConnections()).as("unlimited by default").isZero();
        assertThat(load("routes: { a: db }\nlimits: { max_host_connections: 0 }\n").limits().maxHostConnections())
                .isZero();
        assertThat(load(FULL, Map.of("PGMUX_MAX_HOST_CONNECTIONS", "70"), List.of()).limits().maxHostConnections())
                .isEqualTo(70);
        assertThat(load(FULL, Map.of("PGMUX_MAX_HOST_CONNECTIONS", "70"), List.of(Setting.of("--max-host-connections",
                80, "limits", "max_host_connections"))).limits().maxHostConnections()).isEqualTo(80);
        assertThat(loadFails("routes: { a: db }\nlimits:\n  max_host_connections: -1\n").errors())
                .extracting(ConfigError::toString).containsExactly(
                        file() + ":3: limits.max_host_connections: must be 0 (unlimited) or more, not -1");
        ConfigException env = catchThrowableOfType(ConfigException.class, () -> load(FULL,
                Map.of("PGMUX_MAX_HOST_CONNECTIONS", "lots"), List.of()));
        assertThat(env.errors()).singleElement().hasToString(
                "PGMUX_MAX_HOST_CONNECTIONS: limits.max_host_connections: expected a whole number, not \"lots\"");
    }

    @Test
    void errorsInOverridesNameTheVariableOrFlag() {
        ConfigException env = catchThrowableOfType(ConfigException.class, () -> load(FULL,
                Map.of("PGMUX_MAX_CONNECTIONS_PER_IP", "many"), List.of()));
        assertThat(env.errors()).singleElement().hasToString(
                "PGMUX_MAX_CONNECTIONS_PER_IP: limits.max_connections_per_ip: expected a whole number, not \"many\"");

        ConfigException flag = catchThrowableOfType(ConfigException.class, () -> load(FULL, Map.of(), List.of(
                Setting.of("--listen", List.of("127.0.0.1:5434", "nope"), "listen"),
                Setting.of("--shutdown-timeout", "soon", "timeouts", "shutdown"))));
        assertThat(flag.errors()).extracting(ConfigError::toString).containsExactly(
                "--listen: listen[1]: address needs host:port, not \"nope\"",
                "--shutdown-timeout: timeouts.shutdown: bad duration \"soon\" (e.g. 15s, 500ms, 2m, 1m30s)");
    }

    @Test
    void flagsAloneWithoutAFile() throws Exception {
        ServerConfig c = new ConfigSource(null, Map.of(), List.of(
                Setting.of("--route", "alice@127.0.0.1:5432", "routes", "alice"))).load();
        assertThat(c.routes()).containsEntry("alice", BackendConfig.of("127.0.0.1", 5432, "alice"));
        ConfigException none = catchThrowableOfType(ConfigException.class,
                new ConfigSource(null, Map.of(), List.of())::load);
        assertThat(none.errors()).singleElement().satisfies(err -> {
            assertThat(err.origin()).isEqualTo("command line");
            assertThat(err.key()).isEqualTo("routes");
        });
    }

    @Test
    void tlsFilesAreRelativeToTheConfigFile() throws Exception {
        Files.copy(TestCerts.serverCert(), dir.resolve("server.crt"));
        Files.copy(TestCerts.serverKey(), dir.resolve("server.key"));
        Files.copy(TestCerts.caCert(), dir.resolve("ca.pem"));
        ServerConfig c = load("""
                tls: { cert: server.crt, key: server.key, required: true, min_version: TLSv1.3 }
                routes:
                  r: { host: db.example, sslmode: verify-full, sslrootcert: ca.pem }
                """);
        assertThat(c.tls()).isEqualTo(new ServerConfig.Tls(dir.resolve("server.crt"), dir.resolve("server.key"),
                true, "TLSv1.3"));
        TlsConfig tls = c.tlsConfig();
        assertThat(tls.required()).isTrue();
        assertThat(tls.protocols()).containsExactly("TLSv1.3");
        assertThat(c.routes().get("r").sslRootCert()).isEqualTo(dir.resolve("ca.pem"));
        assertThat(c.routes().get("r").sslMode()).isEqualTo(SslMode.VERIFY_FULL);
    }

    @Test
    void tlsProblemsAreConfigErrors() throws Exception {
        Files.writeString(dir.resolve("garbage.crt"), "not a certificate\n");
        ConfigException e = loadFails("""
                routes: { a: h:1 }
                tls:
                  cert: garbage.crt
                  key: missing.key
                """);
        assertThat(e.errors()).singleElement().hasToString(file() + ":4: tls.key: file not found or not readable: "
                + dir.resolve("missing.key"));

        ConfigException unusable = loadFails("routes: { a: h:1 }\ntls: { cert: garbage.crt, key: garbage.crt }\n");
        assertThat(unusable.errors()).singleElement().satisfies(err -> {
            assertThat(err.key()).isEqualTo("tls.cert");
            assertThat(err.message()).startsWith("unusable certificate or key");
        });

        ConfigException half = loadFails("routes: { a: h:1 }\ntls: { required: true }\n");
        assertThat(half.errors()).singleElement().hasToString(file() + ":2: tls.required: needs tls.cert and tls.key");
    }

    @Test
    void badRouteShorthandNamesTheRoute() {
        ConfigException e = loadFails("routes:\n  a: h:1\n  b: \"h:port\"\n");
        assertThat(e.errors()).singleElement().hasToString(file() + ":3: routes.b: bad port in backend h:port");
    }

    @Test
    void listenMayBeASingleAddress() throws Exception {
        assertThat(load("listen: \"*:6432\"\nroutes: { a: h:1 }\n").listen()).containsExactly("*:6432");
    }

    @Test
    void everyEnvironmentVariableSetsItsKey() throws Exception {
        Map<String, String> env = Map.ofEntries(
                Map.entry("PGMUX_LISTEN", "127.0.0.1:1"),
                Map.entry("PGMUX_ADMIN_LISTEN", "127.0.0.1:2"),
                Map.entry("PGMUX_THREADS", "2"),
                Map.entry("PGMUX_TLS_CERT", TestCerts.serverCert().toString()),
                Map.entry("PGMUX_TLS_KEY", TestCerts.serverKey().toString()),
                Map.entry("PGMUX_TLS_REQUIRED", "true"),
                Map.entry("PGMUX_TLS_MIN_VERSION", "TLSv1.3"),
                Map.entry("PGMUX_TLS_CLIENT_CA", TestCerts.caCert().toString()),
                Map.entry("PGMUX_MAX_CLIENT_CONNECTIONS", "3"),
                Map.entry("PGMUX_MAX_CONNECTIONS_PER_IP", "4"),
                Map.entry("PGMUX_MAX_HOST_CONNECTIONS", "9"),
                Map.entry("PGMUX_CLIENT_LOGIN_TIMEOUT", "5s"),
                Map.entry("PGMUX_BACKEND_CONNECT_TIMEOUT", "6s"),
                Map.entry("PGMUX_ROUTER_TIMEOUT", "7s"),
                Map.entry("PGMUX_SHUTDOWN_TIMEOUT", "8s"),
                Map.entry("PGMUX_LOG_LEVEL", "error"),
                Map.entry("PGMUX_LOG_FORMAT", "json"),
                Map.entry("PGMUX_DEFAULT_ROUTE", "h:9"),
                Map.entry("PGMUX_UNIX_SOCKET_DIR", "/run/pgmux"),
                Map.entry("PGMUX_UNIX_SOCKET_MODE", "0770"),
                Map.entry("PGMUX_PROXY_PROTOCOL_TRUSTED", "10.0.0.0/8, 192.168.1.7"),
                Map.entry("PGMUX_METRICS_POOL_LABELS", "7"));
        assertThat(env.keySet()).containsExactlyInAnyOrderElementsOf(ConfigSource.ENVIRONMENT.keySet());
        ServerConfig c = new ConfigSource(null, env, List.of()).load();
        assertThat(c).isEqualTo(new ServerConfig(List.of("127.0.0.1:1"), new HostPort("127.0.0.1", 2), 2,
                new ServerConfig.Tls(TestCerts.serverCert(), TestCerts.serverKey(), true, "TLSv1.3",
                        TestCerts.caCert()),
                new Limits(3, 4, Duration.ofSeconds(5), Duration.ofSeconds(6), Duration.ofSeconds(7),
                        Duration.ofSeconds(8)).withMaxHostConnections(9),
                new ServerConfig.Log("error", ServerConfig.LogFormat.JSON), Map.of(), BackendConfig.of("h", 9, null), null,
                null, null, false, null, false, Path.of("/run/pgmux"), 0770,
                ProxyProtocol.trusting("10.0.0.0/8", "192.168.1.7"), null, 7));
    }

    @Test
    void unixSocketsAndProxyProtocol() throws Exception {
        ServerConfig c = load("""
                listen: ["127.0.0.1:5434", "[::1]:6432"]
                unix_socket_dir: run
                unix_socket_mode: 0660
                proxy_protocol: { trusted: [10.0.0.0/8, "fd00::/8", 192.168.1.7] }
                routes: { a: h:1 }
                """);
        assertThat(c.unixSocketDir()).as("relative to the file's directory").isEqualTo(dir.resolve("run"));
        assertThat(c.unixSocketMode()).as("YAML reads an unquoted 0660 as octal").isEqualTo(0660);
        assertThat(c.proxyProtocol()).isEqualTo(ProxyProtocol.trusting("10.0.0.0/8", "fd00::/8", "192.168.1.7"));
        assertThat(load("unix_socket_mode: \"0700\"\nroutes: { a: h:1 }\n").unixSocketMode()).isEqualTo(0700);

        ServerConfig none = load("routes: { a: h:1 }\n");
        assertThat(none.unixSocketDir()).isNull();
        assertThat(none.unixSocketMode()).isEqualTo(0777);
        assertThat(none.proxyProtocol()).isNull();
    }

    @Test
    void badUnixSocketAndProxyProtocolSettingsNameTheirKeys() {
        ConfigException e = loadFails("""
                routes: { a: h:1 }
                unix_socket_dir: /%s
                unix_socket_mode: 777
                proxy_protocol: { trusted: [10.0.0.0/8, lb.internal, 10.0.0.0/40] }
                """.formatted("d".repeat(100)));
        assertThat(e.errors()).extracting(ConfigError::toString).containsExactly(
                file() + ":2: unix_socket_dir: the socket path /" + "d".repeat(100) + "/.s.PGSQL.5434 is too long (at"
                        + " most 99 bytes)",
                file() + ":3: unix_socket_mode: must be a mode in octal with a leading 0, from 0000 to 0777 (as 0777"
                        + " or 0770), not \"777\"",
                file() + ":4: proxy_protocol.trusted[1]: not an IP address or network (10.0.0.0/8, fd00::/8):"
                        + " \"lb.internal\"",
                file() + ":4: proxy_protocol.trusted[2]: prefix length must be between 0 and 32, not 40");
        assertThat(loadFails("routes: { a: h:1 }\nproxy_protocol: {}\n").errors()).singleElement()
                .hasToString(file() + ":2: proxy_protocol.trusted: missing: the load balancers' addresses or networks"
                        + " (10.0.0.0/8) that send PROXY protocol headers");
    }

    static final String VERIFIER = "SCRAM-SHA-256$4096:cGdtdXgtdGVzdC1zYWx0IQ==$"
            + "rLW6vFo5jkg3NjS9osAxK+n1pWn5Ulxp+xUkvGAODII=:RqdbEpVSpSaE0L8qUkdIucadWchgrYekib/qche6mlE=";

    @Test
    void theAuthFileIsReadWithTheConfig() throws Exception {
        Path users = Files.writeString(dir.resolve("users.txt"), "\"ann\" \"" + VERIFIER + "\"\n");
        ServerConfig c = load("""
                auth_file: users.txt
                routes:
                  ann: { host: db, auth: proxy }
                """);
        assertThat(c.authFile().path()).isEqualTo(users);
        assertThat(c.authFile().lookup("ann")).contains(VERIFIER);
        assertThat(c.routes().get("ann").auth()).isEqualTo(AuthMode.PROXY);
        assertThat(load("routes: { ann: db }").authFile()).isNull();
    }

    @Test
    void consoleUsersAsListsOrPgBouncersCommaSeparatedString() throws Exception {
        Files.writeString(dir.resolve("users.txt"), "\"ops\" \"" + VERIFIER + "\"\n");
        ServerConfig c = load("""
                auth_file: users.txt
                admin_users: "ops, ops2"
                stats_users: [watcher]
                routes: { ann: db }
                """);
        assertThat(c.console().adminUsers()).containsExactlyInAnyOrder("ops", "ops2");
        assertThat(c.console().statsUsers()).containsExactly("watcher");
        assertThat(c.console().database()).isEqualTo("pgmux");
        assertThat(load("auth_file: users.txt\nadmin_users: ops\nconsole_database: admin\nroutes: { ann: db }\n")
                .console().database()).isEqualTo("admin");
        assertThat(load("routes: { ann: db }").console()).isNull();
        assertThat(loadFails("admin_users: ops\nroutes: { ann: db }\n").errors()).extracting(ConfigError::toString)
                .containsExactly(file() + ":1: admin_users: console users log in with their auth_file passwords: give"
                        + " a top-level auth_file with a line for each");
    }

    @Test
    void authFileProblemsAreConfigErrors() throws Exception {
        assertThat(loadFails("routes: { a: db }\nauth_file: nowhere.txt\n").errors()).extracting(ConfigError::toString)
                .containsExactly(file() + ":2: auth_file: file not found or not readable: " + dir.resolve("nowhere.txt"));
        Path users = Files.writeString(dir.resolve("users.txt"), "\"ann\" \"secret-pw\"\nbob secret-pw2\n");
        ConfigException e = loadFails("routes: { a: db }\nauth_file: users.txt\n");
        assertThat(e.errors()).extracting(ConfigError::toString).containsExactly(file() + ":2: auth_file: " + users
                + " line 2: expected a user name in double quotes (a comment starts with ;)");
        assertThat(e.getMessage()).doesNotContain("secret-pw");
    }

    @Test
    void authUserAndAuthQueryAtTheTopAreTheProxyRoutesThatSetNone() throws Exception {
        Files.writeString(dir.resolve("users.txt"), "\"pgbouncer\" \"pw\"\n\"lookup\" \"pw2\"\n");
        ServerConfig c = load("""
                auth_file: users.txt
                auth_user: pgbouncer
                auth_query_cache_ttl: 5s
                routes:
                  ann: { host: db, auth: proxy }
                  bob: "db?auth=proxy&auth_user=lookup&auth_query=SELECT usename, passwd FROM pgbouncer.get_auth($1)"
                  cy: db
                  dee: { host: db, auth: proxy, auth_query: "SELECT u, p FROM f($1)" }
                """);
        assertThat(c.routes().get("ann").authUser()).isEqualTo("pgbouncer");
        assertThat(c.routes().get("ann").authQuery()).isNull();
        assertThat(c.routes().get("ann").authQueryOrDefault()).isEqualTo(BackendConfig.DEFAULT_AUTH_QUERY)
                .isEqualTo("SELECT usename, passwd FROM pg_shadow WHERE usename=$1");
        assertThat(c.routes().get("ann").looksUpCredentials()).isTrue();
        assertThat(c.routes().get("bob").authUser()).isEqualTo("lookup");
        assertThat(c.routes().get("bob").authQuery()).isEqualTo("SELECT usename, passwd FROM pgbouncer.get_auth($1)");
        assertThat(c.routes().get("cy").authUser()).as("a passthrough route looks nothing up").isNull();
        assertThat(c.routes().get("dee").authUser()).isEqualTo("pgbouncer");
        assertThat(c.routes().get("dee").authQuery()).isEqualTo("SELECT u, p FROM f($1)");
        assertThat(c.limits().authQueryCacheTtl()).isEqualTo(Duration.ofSeconds(5));
        assertThat(load("routes: { a: db }\n").limits().authQueryCacheTtl()).isEqualTo(Duration.ofSeconds(60));
        assertThat(load("routes: { a: db }\nauth_query_cache_ttl: 0\n").limits().authQueryCacheTtl())
                .isEqualTo(Duration.ZERO);
    }

    @Test
    void authUserNeedsTheAuthFileAndAuthQueryNeedsAuthUser() {
        ConfigException e = loadFails("""
                routes:
                  ann: { host: db, auth: proxy, client_password: "md5aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", client_auth_method: md5, auth_query: "SELECT u, p FROM f($1)" }
                  bob: "db?auth=proxy&auth_user=pgbouncer"
                  cy: "db?auth_user=pgbouncer"
                """);
        assertThat(e.errors()).extracting(ConfigError::toString).containsExactly(
                file() + ":2: routes.ann.auth_query: is run as auth_user: give auth_user (here or at the top level)",
                file() + ":3: routes.bob.auth_user: its password is read from the auth_file: give a top-level"
                        + " auth_file with a line for \"pgbouncer\"",
                file() + ":4: routes.cy.auth_user: applies only with auth: proxy (with auth: passthrough the backend"
                        + " authenticates the client)");
    }

    @Test
    void aProxyRouteNeedsSomethingToCheckClientsAgainst() {
        String nothing = "proxy: pgmux authenticates clients, but there is nothing to check their passwords against:"
                + " give client_password (`./pgmux passwd USER` makes one) or a top-level auth_file";
        assertThat(loadFails("""
                routes: { ann: "db?auth=proxy" }
                router:
                  pattern:
                    rules:
                      - backend: { host: db, auth: proxy }
                """).errors()).extracting(ConfigError::toString).containsExactly(
                file() + ":1: routes.ann.auth: " + nothing,
                file() + ":5: router.pattern.rules[0].backend.auth: " + nothing);
    }

    @Test
    void aProxyRouteWithoutPasswordsNeedsNoCredential() throws Exception {
        Files.copy(TestCerts.serverCert(), dir.resolve("server.crt"));
        Files.copy(TestCerts.serverKey(), dir.resolve("server.key"));
        Files.copy(TestCerts.caCert(), dir.resolve("clients.crt"));
        ServerConfig c = load("""
                tls: { cert: server.crt, key: server.key, client_ca: clients.crt }
                routes:
                  ann: { host: db, auth: proxy, client_auth_method: trust }
                  bob: "db?auth=proxy&client_auth_method=cert"
                """);
        assertThat(c.routes().get("ann").clientAuthMethod()).isEqualTo(ClientAuthMethod.TRUST);
        assertThat(c.routes().get("bob").clientAuthMethod()).isEqualTo(ClientAuthMethod.CERT);
        assertThat(c.tls().clientCa()).isEqualTo(dir.resolve("clients.crt"));
        assertThat(c.tlsConfig().clientCa()).isEqualTo(dir.resolve("clients.crt"));
        assertThat(c.allowCleartextWithoutTls()).isFalse();
    }

    /** Routes whose clients could never log in: cleartext without TLS, certificates without a CA to verify them. */
    @Test
    void passwordNeedsTlsAndCertAClientCa() throws Exception {
        assertThat(loadFails("""
                auth_file: users.txt
                routes:
                  ann: { host: db, auth: proxy, client_auth_method: password }
                  bob: { host: db, auth: proxy, client_auth_method: cert }
                """).errors()).extracting(ConfigError::toString).contains(
                file() + ":3: routes.ann.client_auth_method: password: clients send their password in cleartext, which"
                        + " pgmux takes over TLS only: configure tls (cert, key), or set allow_cleartext_without_tls:"
                        + " true",
                file() + ":4: routes.bob.client_auth_method: cert: no client has a verified certificate without"
                        + " tls.client_ca, the CA certificates that sign them");
        Files.writeString(dir.resolve("users.txt"), "\"ann\" \"pw\"\n");
        ServerConfig c = load("""
                auth_file: users.txt
                allow_cleartext_without_tls: true
                routes:
                  ann: { host: db, auth: proxy, client_auth_method: password }
                """);
        assertThat(c.allowCleartextWithoutTls()).isTrue();
        assertThat(loadFails("routes: { a: h:1 }\ntls: { client_ca: ca.crt }\n").errors())
                .extracting(ConfigError::toString).containsExactly(file() + ":2: tls.client_ca: needs tls.cert and"
                        + " tls.key");
        Files.copy(TestCerts.serverCert(), dir.resolve("server.crt"));
        Files.copy(TestCerts.serverKey(), dir.resolve("server.key"));
        Files.writeString(dir.resolve("garbage.crt"), "not a certificate\n");
        assertThat(loadFails("routes: { a: h:1 }\ntls: { cert: server.crt, key: server.key, client_ca: garbage.crt }\n")
                .errors()).singleElement().satisfies(err -> {
                    assertThat(err.key()).isEqualTo("tls.client_ca");
                    assertThat(err.message()).startsWith("no usable CA certificate (PEM)");
                });
    }

    /** Neither a plain password nor a backend password nor a verifier is shown by an error or a config. */
    @Test
    void noPasswordIsEverShown() throws Exception {
        ConfigException e = loadFails("""
                routes:
                  ann: { host: db, auth: proxy, client_password: secret-pw-1, password: secret-pw-2 }
                  bob: "db?auth=proxy&client_password=secret-pw-3&password=secret-pw-4"
                  cid: { host: db, auth: proxy, client_password: "SCRAM-SHA-256$1:secret-pw-5" }
                """);
        assertThat(e.errors()).extracting(ConfigError::key).containsExactly("routes.ann.password",
                "routes.ann.client_password", "routes.bob.password", "routes.bob.client_password",
                "routes.cid.client_password");
        assertThat(e.getMessage()).doesNotContain("secret-pw");
        // A notation that does not parse is shown with its secret values hidden.
        ConfigException notation = loadFails("routes: { ann: \"db:x?client_password=secret-pw-6&password=secret-pw-7\" }");
        assertThat(notation.getMessage()).endsWith("routes.ann: bad port in backend"
                + " db:x?client_password=***&password=***");

        Files.writeString(dir.resolve("pw.txt"), "secret-pw-8\n");
        ServerConfig c = load("""
                routes:
                  ann: { host: db, auth: proxy, client_password: "%s", password_file: pw.txt }
                """.formatted(VERIFIER), Map.of(), List.of());
        assertThat(c.routes().get("ann").password().chars()).containsExactly("secret-pw-8".toCharArray());
        assertThat(c.toString()).doesNotContain("secret-pw").doesNotContain("cGdtdXgt")
                .contains("password=Secret[file:" + dir.resolve("pw.txt") + "]");
    }

    @Test
    void theExampleFileIsValidAndDocumentsEverything() throws Exception {
        Path example = Path.of("conf/pgmux.example.yaml");
        ServerConfig c = new ConfigSource(example, Map.of(), List.of()).load();
        assertThat(c.routes()).hasSize(6);
        String text = Files.readString(example);
        assertThat(ConfigSource.ENVIRONMENT.keySet()).allSatisfy(name -> assertThat(text).contains(name));
        for (Class<?> section : List.of(RawConfig.class, RawConfig.Tls.class, RawConfig.Limits.class,
                RawConfig.Timeouts.class, RawConfig.Log.class, BackendSpec.class, RawConfig.RouterSection.class,
                RawConfig.StaticSection.class, RawConfig.PatternSection.class, RawConfig.PatternRule.class,
                RawConfig.RuleMatch.class, RawConfig.HttpSection.class,
                RawConfig.PostgresSection.class, RawConfig.RoleCheck.class, RawConfig.Cluster.class,
                RawConfig.ProxyProtocol.class)) {
            for (RecordComponent component : section.getRecordComponents()) {
                JsonProperty named = component.getAccessor().getAnnotation(JsonProperty.class);
                String key = named != null ? named.value()
                        : component.getName().replaceAll("([A-Z])", "_$1").toLowerCase(Locale.ROOT);
                assertThat(text).as("the example documents " + key).containsPattern("(?m)^[ #]*" + key + "\\b");
            }
        }
    }

    private Path file() {
        return dir.resolve("pgmux.yaml");
    }

    private ServerConfig load(String yaml) throws Exception {
        return load(yaml, Map.of(), List.of());
    }

    private ServerConfig load(String yaml, Map<String, String> env, List<Setting> flags) throws IOException, ConfigException {
        Files.writeString(file(), yaml);
        return new ConfigSource(file(), env, flags).load();
    }

    private ConfigException loadFails(String yaml) {
        return catchThrowableOfType(ConfigException.class, () -> load(yaml));
    }
}
