package dev.pgmux.routing;

import static org.assertj.core.api.Assertions.assertThat;

import dev.pgmux.BackendConfig;
import dev.pgmux.LoadBalanceHosts;
import dev.pgmux.RouteRequest;
import dev.pgmux.SslMode;
import dev.pgmux.TargetSessionAttrs;
import dev.pgmux.config.ConfigSource;
import dev.pgmux.config.ServerConfig;
import dev.pgmux.config.Setting;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * One backend written in each source's words: a route of the config file, the {@code --route} notation, a pattern
 * rule's backend, an HTTP routing service's answer and a row of the routing table. Each must come out as the same
 * {@link BackendConfig}, blank values included.
 */
class BackendSourcesTest {

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

    /** A route of the config file, here {@code routes: {ann: ROUTE}}. */
    private BackendConfig yaml(String route) throws Exception {
        return load("routes:\n  ann: " + route + "\n").routes().get("ann");
    }

    /** {@code --route ann=BACKEND}, as the flag gives it to the config. */
    private static BackendConfig flag(String backend) throws Exception {
        return new ConfigSource(null, Map.of(), List.of(Setting.of("--route", backend, "routes", "ann"))).load()
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

    private ServerConfig load(String yaml) throws Exception {
        Path file = dir.resolve("pgmux.yaml");
        Files.writeString(file, yaml);
        return new ConfigSource(file, Map.of(), List.of()).load();
    }
}
