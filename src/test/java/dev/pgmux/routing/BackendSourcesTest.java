package dev.pgmux.routing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;

import dev.pgmux.AuthMode;
import dev.pgmux.BackendConfig;
import dev.pgmux.ClientAuthMethod;
import dev.pgmux.LoadBalanceHosts;
import dev.pgmux.PoolConfig;
import dev.pgmux.PoolMode;
import dev.pgmux.RouteRequest;
import dev.pgmux.Secret;
import dev.pgmux.SessionStatePolicy;
import dev.pgmux.SslMode;
import dev.pgmux.TargetSessionAttrs;
import dev.pgmux.config.ConfigException;
import dev.pgmux.config.ConfigSource;
import dev.pgmux.config.ServerConfig;
import dev.pgmux.config.Setting;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * One backend written in each source's words: a route of the config file, the {@code --route} notation, a pattern
 * rule's backend, an HTTP routing service's answer and a row of the routing table. Each must come out as the same
 * {@link BackendConfig}, blank values included.
 */
class BackendSourcesTest {
    /** The SCRAM-SHA-256 verifier of "secret", as PostgreSQL would store it. */
    static final String VERIFIER = "SCRAM-SHA-256$4096:cGdtdXgtdGVzdC1zYWx0IQ==$"
            + "rLW6vFo5jkg3NjS9osAxK+n1pWn5Ulxp+xUkvGAODII=:RqdbEpVSpSaE0L8qUkdIucadWchgrYekib/qche6mlE=";
    /** md5("secret" + "alice"), as PostgreSQL would store it. */
    static final String MD5 = "md5" + "4a0a68b43b6cd5cf266fa02f196e2371";
    static final String BACKEND_PASSWORD = "backend-pw-never-shown";
    /** The environment the config is read with. */
    static final Map<String, String> ENV = Map.of("SHOP_PW", BACKEND_PASSWORD);
    static final String PLAIN = "hunter2-never-shown";

    @TempDir
    Path dir;

    @Test
    void oneBackendFromEverySource() throws Exception {
        BackendConfig expected = BackendConfig.builder().host("db.internal").port(6432).user("app").database("sales")
                .sslMode(SslMode.REQUIRE).targetSessionAttrs(TargetSessionAttrs.READ_WRITE)
                .loadBalanceHosts(LoadBalanceHosts.ROUND_ROBIN).parameter("search_path", "t1")
                .parameter("statement_timeout", "5000").build();
        assertThat(List.of(
                yaml("{ host: db.internal, port: 6432, user: app, database: sales, sslmode: require,"
                        + " target_session_attrs: read-write, load_balance_hosts: round-robin,"
                        + " parameters: { search_path: t1, statement_timeout: 5000 } }"),
                yaml("\"app@db.internal:6432/sales?sslmode=require&target_session_attrs=read-write"
                        + "&load_balance_hosts=round-robin&search_path=t1&statement_timeout=5000\""),
                flag("app@db.internal:6432/sales?sslmode=require&target_session_attrs=read-write"
                        + "&load_balance_hosts=round-robin&search_path=t1&statement_timeout=5000"),
                pattern("(?<db>[a-z]+)_user", "{ host: db.internal, port: \"6432\", user: app, database: \"{db}\","
                        + " sslmode: require, target_session_attrs: read-write, load_balance_hosts: round-robin,"
                        + " parameters: { search_path: t1, statement_timeout: 5000 } }", "sales_user"),
                http("""
                        {"host": "db.internal", "port": 6432, "user": "app", "database": "sales", "sslmode": "require",
                         "target_session_attrs": "read-write", "load_balance_hosts": "round-robin",
                         "parameters": {"search_path": "t1", "statement_timeout": 5000}}"""),
                TableRows.backend("db.internal", 6432, "app", "sales", "require",
                        "{\"search_path\": \"t1\", \"statement_timeout\": 5000}", "read-write", "round-robin")))
                .containsOnly(expected);
    }

    @Test
    void severalHostsFromEverySource() throws Exception {
        BackendConfig expected = BackendConfig.builder().addHost("pg-a", 6432).addHost("pg-b", 5433).build();
        assertThat(List.of(
                yaml("{ hosts: [pg-a, \"pg-b:5433\"], port: 6432 }"),
                yaml("{ host: \"pg-a,pg-b:5433\", port: 6432 }"),
                flag("pg-a:6432,pg-b:5433"),
                pattern("(?<t>pg)", "{ host: \"{t}-a,{t}-b:5433\", port: 6432 }", "pg"),
                http("{\"hosts\": [\"pg-a\", \"pg-b:5433\"], \"port\": 6432}"),
                http("{\"host\": \"pg-a,pg-b:5433\", \"port\": 6432}"),
                TableRows.backend("pg-a,pg-b:5433", 6432, null, null, null, null)))
                .containsOnly(expected);
    }

    /** The one rule: a blank user or database is not set, so the client's is kept, in every source. */
    @Test
    void aBlankUserOrDatabaseKeepsTheClientsInEverySource() throws Exception {
        BackendConfig expected = BackendConfig.of("db", 5432, null);
        assertThat(expected.user()).isNull();
        assertThat(expected.database()).isNull();
        assertThat(List.of(
                yaml("{ host: db, user: \"\", database: \" \", sslmode: \"\", port: \"\" }"),
                yaml("\"@db/\""),
                flag("@db/"),
                flag("@db:5432/?sslmode="),
                pattern("(?<u>[a-z]*)", "{ host: db, user: \"{u}\", database: \"{u}\" }", ""),
                http("{\"host\": \"db\", \"user\": \"\", \"database\": \" \", \"sslmode\": \"\", \"hosts\": []}"),
                TableRows.backend("db", null, " ", "", "", null, "", " ")))
                .containsOnly(expected);
    }

    /** auth and client_password are keys of every source, and mean the same in each. */
    @Test
    void oneProxyRouteFromEverySource() throws Exception {
        BackendConfig expected = BackendConfig.builder().host("db").user("owner").auth(AuthMode.PROXY)
                .clientCredential(VERIFIER).build();
        assertThat(List.of(
                yaml("{ host: db, user: owner, auth: proxy, client_password: \"" + VERIFIER + "\" }"),
                yaml("\"owner@db?auth=proxy&client_password=" + VERIFIER + "\""),
                flag("owner@db?auth=proxy&client_password=" + VERIFIER),
                pattern("(?<u>[a-z]+)", "{ host: db, user: \"{u}\", auth: proxy, client_password: \"" + VERIFIER
                        + "\" }", "owner"),
                http("{\"host\": \"db\", \"user\": \"owner\", \"auth\": \"proxy\", \"client_password\": \""
                        + VERIFIER + "\"}"),
                TableRows.backend("db", null, "owner", null, null, null, null, null, "proxy", null, VERIFIER)))
                .containsOnly(expected);
    }

    /** client_auth_method is a key of every source, by its pg_hba.conf name, and means the same in each. */
    @Test
    void oneClientAuthMethodFromEverySource() throws Exception {
        BackendConfig expected = BackendConfig.builder().host("db").auth(AuthMode.PROXY)
                .clientAuthMethod(ClientAuthMethod.MD5).clientCredential(MD5).build();
        assertThat(List.of(
                yaml("{ host: db, auth: proxy, client_auth_method: md5, client_password: \"" + MD5 + "\" }"),
                yaml("\"db?auth=proxy&client_auth_method=md5&client_password=" + MD5 + "\""),
                flag("db?auth=proxy&client_auth_method=md5&client_password=" + MD5),
                pattern("(?<u>[a-z]+)", "{ host: db, auth: proxy, client_auth_method: md5, client_password: \"" + MD5
                        + "\" }", "ann"),
                http("{\"host\": \"db\", \"auth\": \"proxy\", \"client_auth_method\": \"md5\","
                        + " \"client_password\": \"" + MD5 + "\"}"),
                TableRows.backend("db", null, null, null, null, null, null, null, "proxy", "md5", MD5)))
                .containsOnly(expected);
    }

    /** pool and the pool keys are keys of every source, and mean the same in each. */
    @Test
    void onePooledRouteFromEverySource() throws Exception {
        BackendConfig expected = BackendConfig.builder().host("db").auth(AuthMode.PROXY).clientCredential(VERIFIER)
                .pool(PoolConfig.builder().mode(PoolMode.TRANSACTION).size(8).build()).build();
        String clients = "auth: proxy, client_password: \"" + VERIFIER + "\"";
        String clientsOption = "auth=proxy&client_password=" + VERIFIER;
        assertThat(List.of(
                yaml("{ host: db, " + clients + ", pool: transaction, pool_size: 8 }"),
                yaml("{ host: db, " + clients + ", pool: transaction, pool_size: \"8\", min_pool_size: \"\" }"),
                yaml("\"db?" + clientsOption + "&pool=transaction&pool_size=8\""),
                flag("db?" + clientsOption + "&pool=transaction&pool_size=8"),
                pattern("(?<u>[a-z]+)", "{ host: db, " + clients + ", pool: transaction, pool_size: 8 }", "ann"),
                http("{\"host\": \"db\", \"auth\": \"proxy\", \"client_password\": \"" + VERIFIER + "\","
                        + " \"pool\": \"transaction\", \"pool_size\": 8}"),
                http("{\"host\": \"db\", \"auth\": \"proxy\", \"client_password\": \"" + VERIFIER + "\","
                        + " \"pool\": \"transaction\", \"pool_size\": \"8\", \"max_clients\": \"\"}"),
                TableRows.backend("db", null, null, null, null, null, null, null, "proxy", null, VERIFIER,
                        "transaction", "8")))
                .containsOnly(expected);
    }

    /** Every pool key, in each source that takes them all (the table has columns for pool and pool_size only). */
    @Test
    void everyPoolKeyFromEverySourceButTheTable() throws Exception {
        BackendConfig expected = BackendConfig.builder().host("db").auth(AuthMode.PROXY).clientCredential(VERIFIER)
                .pool(new PoolConfig(PoolMode.TRANSACTION, 10, 2, Duration.ofMinutes(5), Duration.ofHours(1),
                        Duration.ofSeconds(30), 100, SessionStatePolicy.ERROR, "", Duration.ZERO)).build();
        String clients = "auth: proxy, client_password: \"" + VERIFIER + "\"";
        String keys = "pool: transaction, pool_size: 10, min_pool_size: 2, max_clients: 100, server_idle_timeout: 5m,"
                + " server_lifetime: 1h, query_wait_timeout: 30s, server_check_delay: 0, on_session_state: error,"
                + " server_reset_query: \"\"";
        String options = "auth=proxy&client_password=" + VERIFIER + "&pool=transaction&pool_size=10&min_pool_size=2"
                + "&max_clients=100&server_idle_timeout=5m&server_lifetime=1h&query_wait_timeout=30s"
                + "&server_check_delay=0&on_session_state=error&server_reset_query=";
        assertThat(List.of(
                yaml("{ host: db, " + clients + ", " + keys + " }"),
                yaml("\"db?" + options + "\""),
                flag("db?" + options),
                pattern("(?<u>[a-z]+)", "{ host: db, " + clients + ", " + keys + " }", "ann"),
                http("{\"host\": \"db\", \"auth\": \"proxy\", \"client_password\": \"" + VERIFIER + "\","
                        + " \"pool\": \"transaction\", \"pool_size\": 10, \"min_pool_size\": 2, \"max_clients\": 100,"
                        + " \"server_idle_timeout\": \"5m\", \"server_lifetime\": \"1h\", \"query_wait_timeout\": \"30s\","
                        + " \"server_check_delay\": \"0\", \"on_session_state\": \"error\", \"server_reset_query\": \"\"}")))
                .containsOnly(expected);
    }

    /** A bad pool value names its key (and, in the config, the route and the line), the same in every source. */
    @Test
    void aBadPoolValueIsNamedInEverySource() throws Exception {
        String unknown = "pool: unknown pool \"statement\" (none, session, transaction)";
        assertThat(List.of(
                yamlRefusal("{ host: db, auth: proxy, pool: statement }"),
                flagRefusal("db?auth=proxy&pool=statement"),
                patternRefusal("{ host: db, auth: proxy, pool: statement }"),
                httpRefusal("{\"host\": \"db\", \"auth\": \"proxy\", \"pool\": \"statement\"}"),
                refusal(() -> TableRows.backend("db", null, null, null, null, null, null, null, "proxy", null, null,
                        "statement", null))))
                .allSatisfy(message -> assertThat(message).contains(unknown));
        assertThat(yamlRefusal("{ host: db, auth: proxy, pool: statement }"))
                .contains(dir.resolve("pgmux.yaml") + ":2: routes.ann." + unknown);
        assertThat(flagRefusal("db?auth=proxy&pool=statement")).contains("--route: routes.ann." + unknown);

        String needsProxy = "pool session needs auth proxy: pgmux logs in to pooled servers itself, so it must"
                + " authenticate the clients";
        assertThat(List.of(
                yamlRefusal("{ host: db, pool: session }"),
                flagRefusal("db?pool=session"),
                patternRefusal("{ host: db, pool: session }"),
                httpRefusal("{\"host\": \"db\", \"pool\": \"session\"}"),
                refusal(() -> TableRows.backend("db", null, null, null, null, null, null, null, null, null, null,
                        "session", null))))
                .allSatisfy(message -> assertThat(message).contains("pool: " + needsProxy));
        assertThat(yamlRefusal("{ host: db, pool: session }")).contains(dir.resolve("pgmux.yaml")
                + ":2: routes.ann.pool: " + needsProxy);
        assertThat(refusal(() -> load("default_route: { host: db, pool: session }\n")))
                .contains(dir.resolve("pgmux.yaml") + ":1: default_route.pool: " + needsProxy);

        assertThat(List.of(
                yamlRefusal("{ host: db, auth: proxy, pool: session, query_wait_timeout: 120 }"),
                flagRefusal("db?auth=proxy&pool=session&query_wait_timeout=120"),
                patternRefusal("{ host: db, auth: proxy, pool: session, query_wait_timeout: 120 }"),
                httpRefusal("{\"host\": \"db\", \"auth\": \"proxy\", \"pool\": \"session\", \"query_wait_timeout\": 120}")))
                .allSatisfy(message -> assertThat(message).contains("query_wait_timeout: duration \"120\" needs a"
                        + " unit: 120s, 120ms, 120m"));
        assertThat(patternRefusal("{ host: db, auth: proxy, pool: \"{u}\" }"))
                .contains("pool: takes fixed text in a rule, not {placeholders}");
    }

    /** A backend password is named in the config file only: by a route, --route or a pattern rule. */
    @Test
    void aBackendPasswordFromEverySourceOfTheConfig() throws Exception {
        Path pw = Files.writeString(dir.resolve("shop.pw"), BACKEND_PASSWORD + "\n");
        String clients = "auth: proxy, client_password: \"" + VERIFIER + "\"";
        String clientsOption = "auth=proxy&client_password=" + VERIFIER;
        BackendConfig fromEnv = BackendConfig.builder().host("db").auth(AuthMode.PROXY).clientCredential(VERIFIER)
                .password(Secret.fromEnv("SHOP_PW", ENV)).build();
        assertThat(List.of(
                yaml("{ host: db, " + clients + ", password_env: SHOP_PW }"),
                yaml("\"db?" + clientsOption + "&password_env=SHOP_PW\""),
                flag("db?" + clientsOption + "&password_env=SHOP_PW"),
                pattern("(?<u>[a-z]+)", "{ host: db, " + clients + ", password_env: SHOP_PW }", "ann")))
                .containsOnly(fromEnv);
        assertThat(fromEnv.password().chars()).containsExactly(BACKEND_PASSWORD.toCharArray());

        BackendConfig fromFile = BackendConfig.builder().host("db").auth(AuthMode.PROXY).clientCredential(VERIFIER)
                .password(Secret.fromFile(pw)).build();
        assertThat(List.of(
                yaml("{ host: db, " + clients + ", password_file: shop.pw }"),
                yaml("\"db?" + clientsOption + "&password_file=shop.pw\""),
                flag("db?" + clientsOption + "&password_file=" + pw),
                pattern("(?<u>[a-z]+)", "{ host: db, " + clients + ", password_file: shop.pw }", "ann")))
                .containsOnly(fromFile);
        assertThat(fromFile.password().chars()).containsExactly(BACKEND_PASSWORD.toCharArray());

        // A routing service may not choose which of pgmux's variables or files goes to a backend.
        assertThat(httpRefusal("{\"host\": \"db\", \"auth\": \"proxy\", \"password_env\": \"SHOP_PW\"}"))
                .startsWith("invalid answer: password_env: a backend password is named in pgmux's config file only,"
                        + " not by a routing service or table");
        assertThat(httpRefusal("{\"host\": \"db\", \"auth\": \"proxy\", \"password_file\": \"" + pw + "\"}"))
                .startsWith("invalid answer: password_file: a backend password is named in pgmux's config file only");
    }

    /** The one rule for the new keys too: blank is not set, in every source. */
    @Test
    void aBlankAuthKeyIsNotSetInEverySource() throws Exception {
        BackendConfig expected = BackendConfig.of("db", 5432, null);
        assertThat(List.of(
                yaml("{ host: db, auth: \"\", client_auth_method: \"\", client_password: \" \", password: \"\","
                        + " password_env: \"\", password_file: \" \", auth_user: \"\", auth_query: \" \" }"),
                yaml("\"db?auth=&client_auth_method=&client_password=&password=&password_env=&password_file="
                        + "&auth_user=&auth_query=\""),
                flag("db?auth=&client_auth_method= &client_password=&password=&password_env=&password_file=&auth_user="
                        + "&auth_query="),
                pattern("(?<u>[a-z]*)", "{ host: db, auth: \"\", client_auth_method: \" \", client_password: \"\","
                        + " password_env: \" \" }", ""),
                http("{\"host\": \"db\", \"auth\": \"\", \"client_auth_method\": \"\", \"client_password\": \" \","
                        + " \"password\": \"\", \"password_env\": \"\", \"password_file\": \"\", \"auth_user\": \"\"}"),
                TableRows.backend("db", null, null, null, null, null, null, null, " ", "", "")))
                .containsOnly(expected);
        assertThat(expected.auth()).isEqualTo(AuthMode.PASSTHROUGH);
    }

    /** A plain password is refused wherever it is written, and no message repeats it. */
    @Test
    void aPlainPasswordIsRefusedEverywhereAndNeverRepeated() throws Exception {
        String passwordKey = "plain passwords are refused in the configuration: give the backend's password by"
                + " password_env (an environment variable) or password_file (a file), and clients' by client_password,"
                + " a verifier made with `./pgmux passwd USER`";
        String clientKey = "plain passwords are refused in the configuration; use `./pgmux passwd USER` to make a"
                + " verifier";
        assertThat(List.of(
                yamlRefusal("{ host: db, auth: proxy, password: " + PLAIN + " }"),
                yamlRefusal("\"db?auth=proxy&password=" + PLAIN + "\""),
                flagRefusal("db?auth=proxy&password=" + PLAIN),
                yamlRefusal("\"db:port?password=" + PLAIN + "\""),
                patternRefusal("{ host: db, auth: proxy, password: " + PLAIN + " }"),
                httpRefusal("{\"host\": \"db\", \"auth\": \"proxy\", \"password\": \"" + PLAIN + "\"}")))
                .allSatisfy(message -> assertThat(message).doesNotContain(PLAIN))
                .allSatisfy(message -> assertThat(message).containsAnyOf(passwordKey,
                        "bad port in backend db:port?password=***"));
        assertThat(List.of(
                yamlRefusal("{ host: db, auth: proxy, client_password: " + PLAIN + " }"),
                flagRefusal("db?auth=proxy&client_password=" + PLAIN),
                patternRefusal("{ host: db, auth: proxy, client_password: " + PLAIN + " }"),
                httpRefusal("{\"host\": \"db\", \"auth\": \"proxy\", \"client_password\": \"" + PLAIN + "\"}"),
                tableRefusal(PLAIN)))
                .allSatisfy(message -> assertThat(message).doesNotContain(PLAIN).contains(clientKey));
    }

    /**
     * PgBouncer's auth_user and auth_query as fixed text of the config file: a route, --route and a pattern rule. A
     * routing service or a table row may not set them: pgmux would send auth_user's password to the host it chose.
     */
    @Test
    void authUserAndAuthQueryFromEverySourceOfTheConfig() throws Exception {
        Path users = Files.writeString(dir.resolve("users.txt"), "\"pgbouncer\" \"pw\"\n");
        String query = "SELECT usename, passwd FROM pgbouncer.get_auth($1)";
        BackendConfig expected = BackendConfig.builder().host("db").auth(AuthMode.PROXY).authUser("pgbouncer")
                .authQuery(query).build();
        String authFile = "auth_file: users.txt\n";
        assertThat(List.of(
                load(authFile + "routes:\n  ann: { host: db, auth: proxy, auth_user: pgbouncer, auth_query: \"" + query
                        + "\" }\n").routes().get("ann"),
                load(authFile + "routes:\n  ann: \"db?auth=proxy&auth_user=pgbouncer&auth_query=" + query + "\"\n")
                        .routes().get("ann"),
                new ConfigSource(null, ENV, List.of(Setting.of("--auth-file", users.toString(), "auth_file"),
                        Setting.of("--route", "db?auth=proxy&auth_user=pgbouncer&auth_query=" + query, "routes", "ann")))
                        .load().routes().get("ann"),
                route(load(authFile + "router:\n  pattern:\n    rules:\n      - match: { user: \"(?<u>[a-z]+)\" }\n"
                        + "        backend: { host: db, auth: proxy, auth_user: pgbouncer, auth_query: \"" + query
                        + "\" }\n"), "ann")))
                .containsOnly(expected);
        assertThat(patternRefusal("{ host: db, auth: proxy, auth_user: \"{u}\" }"))
                .contains("auth_user: takes fixed text in a rule, not {placeholders}");
        assertThat(httpRefusal("{\"host\": \"db\", \"auth\": \"proxy\", \"auth_user\": \"pgbouncer\"}"))
                .startsWith("invalid answer: auth_user: " + BackendSpec.AUTH_QUERY_CONFIG_ONLY);
        assertThat(httpRefusal("{\"host\": \"db\", \"auth\": \"proxy\", \"auth_query\": \"SELECT 1\"}"))
                .startsWith("invalid answer: auth_query: " + BackendSpec.AUTH_QUERY_CONFIG_ONLY);
        assertThat(BackendSpec.AUTH_QUERY_CONFIG_ONLY).isEqualTo("auth_user and auth_query are set in pgmux's config"
                + " file only, not by a routing service or table: pgmux sends auth_user's password to the route's"
                + " host");
    }

    private static BackendConfig route(ServerConfig c, String user) throws Exception {
        return c.router().build().route(new RouteRequest(user, "whatever", null, Map.of("user", user),
                new InetSocketAddress("10.0.0.1", 40000), null, false));
    }

    /** A route of the config file, here {@code routes: {ann: ROUTE}}. */
    private BackendConfig yaml(String route) throws Exception {
        return load("routes:\n  ann: " + route + "\n").routes().get("ann");
    }

    /** {@code --route ann=BACKEND}, as the flag gives it to the config. */
    private static BackendConfig flag(String backend) throws Exception {
        return new ConfigSource(null, ENV, List.of(Setting.of("--route", backend, "routes", "ann"))).load()
                .routes().get("ann");
    }

    /** A pattern rule matching {@code user}, with {@code backend} filled in. */
    private BackendConfig pattern(String userPattern, String backend, String user) throws Exception {
        ServerConfig c = load("router:\n  pattern:\n    rules:\n      - match: { user: \"" + userPattern + "\" }\n"
                + "        backend: " + backend + "\n");
        return c.router().build().route(new RouteRequest(user, "whatever", null, Map.of("user", user),
                new InetSocketAddress("10.0.0.1", 40000), null, false));
    }

    private static BackendConfig http(String answer) throws Exception {
        return RoutingService.answer(answer.getBytes(StandardCharsets.UTF_8));
    }

    private String yamlRefusal(String route) {
        return refusal(() -> yaml(route));
    }

    private static String flagRefusal(String backend) {
        return refusal(() -> flag(backend));
    }

    private String patternRefusal(String backend) {
        return refusal(() -> pattern("(?<u>[a-z]+)", backend, "ann"));
    }

    private static String httpRefusal(String answer) {
        return refusal(() -> http(answer));
    }

    private static String tableRefusal(String clientPassword) {
        return refusal(() -> TableRows.backend("db", null, null, null, null, null, null, null, "proxy", null,
                clientPassword));
    }

    /** The message of what {@code source} throws, with each error of a ConfigException. */
    private static String refusal(Callable<?> source) {
        Throwable e = catchThrowable(source::call);
        assertThat(e).as("refused").isNotNull();
        String text = e.getMessage();
        if (e instanceof ConfigException c) {
            text = text + " " + c.errors();
        }
        return text + " " + e;
    }

    private ServerConfig load(String yaml) throws Exception {
        Path file = dir.resolve("pgmux.yaml");
        Files.writeString(file, yaml);
        return new ConfigSource(file, ENV, List.of()).load();
    }
}
