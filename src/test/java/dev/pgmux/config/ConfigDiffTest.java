package dev.pgmux.config;

import static org.assertj.core.api.Assertions.assertThat;

import dev.pgmux.AuthMode;
import dev.pgmux.BackendConfig;
import dev.pgmux.Limits;
import dev.pgmux.Secret;
import dev.pgmux.auth.AuthFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ConfigDiffTest {
    static final BackendConfig A = BackendConfig.of("a", 5432, null);
    static final BackendConfig B = BackendConfig.of("b", 5432, null);
    static final ServerConfig.Log LOG = new ServerConfig.Log("info", ServerConfig.LogFormat.TEXT);

    @Test
    void sameConfigChangesNothing() {
        ServerConfig c = config(List.of("127.0.0.1:5434"), Limits.DEFAULT, LOG, Map.of("alice", A));
        ConfigDiff d = ConfigDiff.between(c, c);
        assertThat(d.routingChanged()).isFalse();
        assertThat(d.needRestart()).isEmpty();
        assertThat(d.summary()).isEqualTo(
                "routes +0 -0 ~0, default_route unchanged, limits unchanged, tls unchanged, log unchanged, router unchanged");
    }

    @Test
    void countsAddedRemovedAndChangedRoutes() {
        ServerConfig old = config(List.of("127.0.0.1:5434"), Limits.DEFAULT, LOG, ordered("alice", A, "bob", A, "carol", A));
        ServerConfig now = config(List.of("127.0.0.1:5434"), Limits.DEFAULT, LOG, ordered("alice", A, "bob", B, "dave", B));
        ConfigDiff d = ConfigDiff.between(old, now);
        assertThat(d.routesAdded()).containsExactly("dave");
        assertThat(d.routesRemoved()).containsExactly("carol");
        assertThat(d.routesChanged()).containsExactly("bob");
        assertThat(d.routingChanged()).isTrue();
        assertThat(d.summary()).startsWith("routes +1 -1 ~1, default_route unchanged");
    }

    @Test
    void limitsLogAndStartOnlySettings() {
        ServerConfig old = config(List.of("127.0.0.1:5434"), Limits.DEFAULT, LOG, Map.of("alice", A));
        ServerConfig now = config(List.of("127.0.0.1:6000"),
                Limits.DEFAULT.withShutdownTimeout(Duration.ofSeconds(1)),
                new ServerConfig.Log("debug", ServerConfig.LogFormat.TEXT), Map.of("alice", A));
        ConfigDiff d = ConfigDiff.between(old, now);
        assertThat(d.limitsChanged()).isTrue();
        assertThat(d.logChanged()).isTrue();
        assertThat(d.routingChanged()).isFalse();
        assertThat(d.needRestart()).containsExactly("listen");
        assertThat(d.summary()).isEqualTo(
                "routes +0 -0 ~0, default_route unchanged, limits changed, tls unchanged, log changed, router unchanged");

        // What the process runs with after the reload keeps its listen addresses: the next diff warns again.
        ServerConfig running = now.withStartOnlySettingsOf(old);
        assertThat(running.listen()).isEqualTo(old.listen());
        assertThat(running.limits()).isEqualTo(now.limits());
        assertThat(ConfigDiff.between(running, now).needRestart()).containsExactly("listen");
    }

    @Test
    void roleCheckClusterAndHiddenUsers() {
        ServerConfig old = config(List.of("127.0.0.1:5434"), Limits.DEFAULT, LOG, Map.of("alice", A));
        ServerConfig now = new ServerConfig(old.listen(), null, null, null, old.limits(), LOG, old.routes(), null, null,
                new dev.pgmux.RoleCheck("monitor", "pw", null), new dev.pgmux.Cluster(2, Map.of(1, "h:1")), true);
        ConfigDiff d = ConfigDiff.between(old, now);
        // the peers of a new instance id wait for the restart too
        assertThat(d.otherChanged()).containsExactly("role_check", "hide_unknown_users");
        assertThat(d.needRestart()).containsExactly("cluster.instance_id");
        assertThat(d.summary()).endsWith(", changed: role_check hide_unknown_users");
        // the process keeps the instance id it started with (none): the next diff asks for a restart again
        ServerConfig running = now.withStartOnlySettingsOf(old);
        assertThat(running.cluster()).isNull();
        assertThat(running.hideUnknownUsers()).isTrue();
        assertThat(ConfigDiff.between(running, now).needRestart()).containsExactly("cluster.instance_id");
    }

    @Test
    void anAuthFileWhoseUsersOrPasswordsChanged(@TempDir Path dir) throws Exception {
        Path users = Files.writeString(dir.resolve("users.txt"), "\"ann\" \"pw1\"\n");
        ServerConfig without = config(List.of("127.0.0.1:5434"), Limits.DEFAULT, LOG, Map.of("alice", A));
        ServerConfig first = withAuthFile(without, AuthFile.read(users));
        ServerConfig same = withAuthFile(without, AuthFile.read(users));
        Files.writeString(users, "\"ann\" \"pw2\"\n");
        ServerConfig changed = withAuthFile(without, AuthFile.read(users));

        assertThat(ConfigDiff.between(first, same).otherChanged()).isEmpty();
        assertThat(ConfigDiff.between(first, changed).otherChanged()).containsExactly("auth_file");
        assertThat(ConfigDiff.between(without, first).summary()).endsWith(", changed: auth_file");
        assertThat(ConfigDiff.between(first, without).otherChanged()).containsExactly("auth_file");
        assertThat(ConfigDiff.between(first, changed).routingChanged()).isFalse();
        assertThat(changed.withStartOnlySettingsOf(first).authFile()).as("applies on reload")
                .isEqualTo(changed.authFile());
    }

    @Test
    void cleartextWithoutTls() {
        ServerConfig old = config(List.of("127.0.0.1:5434"), Limits.DEFAULT, LOG, Map.of("alice", A));
        ServerConfig now = new ServerConfig(old.listen(), null, null, null, old.limits(), LOG, old.routes(), null, null,
                null, null, false, null, true);
        assertThat(ConfigDiff.between(old, now).otherChanged()).containsExactly("allow_cleartext_without_tls");
        assertThat(now.withStartOnlySettingsOf(old).allowCleartextWithoutTls()).as("applies on reload").isTrue();
    }

    @Test
    void unixSocketsNeedARestartTheProxyProtocolListDoesNot() {
        ServerConfig old = config(List.of("127.0.0.1:5434"), Limits.DEFAULT, LOG, Map.of("alice", A));
        ServerConfig now = new ServerConfig(old.listen(), null, null, null, old.limits(), LOG, old.routes(), null, null,
                null, null, false, null, false, Path.of("/run/pgmux"), 0700,
                dev.pgmux.ProxyProtocol.trusting("10.0.0.0/8"));
        ConfigDiff d = ConfigDiff.between(old, now);
        assertThat(d.needRestart()).containsExactly("unix_socket_dir", "unix_socket_mode");
        assertThat(d.otherChanged()).containsExactly("proxy_protocol");
        ServerConfig running = now.withStartOnlySettingsOf(old);
        assertThat(running.unixSocketDir()).isNull();
        assertThat(running.unixSocketMode()).isEqualTo(0777);
        assertThat(running.proxyProtocol()).as("applies on reload").isEqualTo(now.proxyProtocol());
    }

    /** A route whose backend password changed (its file's content) is a changed route. */
    @Test
    void aRouteWhosePasswordChanged(@TempDir Path dir) throws Exception {
        Path pw = Files.writeString(dir.resolve("pw"), "one");
        BackendConfig before = BackendConfig.builder().host("a").auth(AuthMode.PROXY).password(Secret.fromFile(pw))
                .build();
        Files.writeString(pw, "two");
        BackendConfig after = before.toBuilder().password(Secret.fromFile(pw)).build();
        ConfigDiff d = ConfigDiff.between(config(List.of("127.0.0.1:5434"), Limits.DEFAULT, LOG, Map.of("ann", before)),
                config(List.of("127.0.0.1:5434"), Limits.DEFAULT, LOG, Map.of("ann", after)));
        assertThat(d.routesChanged()).containsExactly("ann");
    }

    /**
     * A route's pool keys are route keys: a changed one is a changed route (or default route, or router), which a
     * reload applies to new connections; max_host_connections is a limit.
     */
    @Test
    void poolKeysAreRouteKeysAndMaxHostConnectionsALimit(@TempDir Path dir) throws Exception {
        Files.writeString(dir.resolve("users.txt"), "\"ann\" \"pw\"\n");
        String before = """
                auth_file: users.txt
                limits: { max_host_connections: 100 }
                routes:
                  ann: { host: a, auth: proxy, pool: transaction, pool_size: 8 }
                  bob: { host: b, auth: proxy, pool: session }
                default_route: "c?auth=proxy&pool=session&server_idle_timeout=1m"
                """;
        String after = """
                auth_file: users.txt
                limits: { max_host_connections: 50 }
                routes:
                  ann: { host: a, auth: proxy, pool: transaction, pool_size: 16 }
                  bob: { host: b, auth: proxy, pool: session, server_reset_query: "" }
                default_route: "c?auth=proxy&pool=session&server_idle_timeout=2m"
                """;
        ServerConfig old = load(dir, before);
        ConfigDiff same = ConfigDiff.between(old, load(dir, before));
        assertThat(same.routingChanged()).isFalse();
        assertThat(same.limitsChanged()).isFalse();

        ConfigDiff d = ConfigDiff.between(old, load(dir, after));
        assertThat(d.routesChanged()).containsExactly("ann", "bob");
        assertThat(d.defaultRouteChanged()).isTrue();
        assertThat(d.limitsChanged()).isTrue();
        assertThat(d.summary()).isEqualTo("routes +0 -0 ~2, default_route changed, limits changed, tls unchanged,"
                + " log unchanged, router unchanged");

        String rule = """
                auth_file: users.txt
                router:
                  pattern:
                    rules:
                      - match: { user: "(?<u>[a-z]+)" }
                        backend: { host: "{u}.db", auth: proxy, pool: transaction, pool_size: 8 }
                """;
        ConfigDiff router = ConfigDiff.between(load(dir, rule), load(dir, rule.replace("pool_size: 8", "pool_size: 9")));
        assertThat(router.routerChanged()).isTrue();
        assertThat(router.limitsChanged()).isFalse();
    }

    private static ServerConfig load(Path dir, String yaml) throws Exception {
        Path file = Files.writeString(dir.resolve("pgmux.yaml"), yaml);
        return new ConfigSource(file, Map.of(), List.of()).load();
    }

    private static ServerConfig withAuthFile(ServerConfig c, AuthFile authFile) {
        return new ServerConfig(c.listen(), c.adminListen(), c.threads(), c.tls(), c.limits(), c.log(), c.routes(),
                c.defaultRoute(), c.router(), c.roleCheck(), c.cluster(), c.hideUnknownUsers(), authFile);
    }

    @Test
    void defaultRouteAppearing() {
        ServerConfig old = config(List.of("127.0.0.1:5434"), Limits.DEFAULT, LOG, Map.of("alice", A));
        ServerConfig now = new ServerConfig(old.listen(), null, null, null, old.limits(), LOG, old.routes(), B, null);
        ConfigDiff d = ConfigDiff.between(old, now);
        assertThat(d.defaultRouteChanged()).isTrue();
        assertThat(d.routingChanged()).isTrue();
    }

    private static Map<String, BackendConfig> ordered(Object... kv) {
        Map<String, BackendConfig> m = new LinkedHashMap<>();
        for (int i = 0; i < kv.length; i += 2) {
            m.put((String) kv[i], (BackendConfig) kv[i + 1]);
        }
        return m;
    }

    private static ServerConfig config(List<String> listen, Limits limits, ServerConfig.Log log,
                                       Map<String, BackendConfig> routes) {
        return new ServerConfig(listen, null, null, null, limits, log, routes, null, null);
    }
}
