package dev.pgmux.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import dev.pgmux.BackendConfig;
import dev.pgmux.SslMode;
import dev.pgmux.routing.BackendTemplate;
import dev.pgmux.routing.HttpRouter;
import dev.pgmux.routing.PatternRouter;
import dev.pgmux.routing.RequestField;
import java.io.IOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The {@code router:} section: its shapes, its defaults, and errors that name the key, the line and the rule. */
class RouterConfigTest {

    @TempDir
    Path dir;

    static final String CHAIN = """
            router:
              chain:
                - static: { routes: { admin: { host: 127.0.0.1, port: 5432, user: postgres } } }
                - pattern:
                    rules:
                      - name: labs
                        match: { user: "(?<student>[a-z0-9]+)_(?<lab>lab[0-9]+)" }
                        backend: { host: "{lab}.labs.internal", port: 5432, user: "{student}", database: "{lab}" }
                      - name: tenants
                        match:
                          sni: "(?<tenant>[^.]+)\\\\.db\\\\.example\\\\.com"
                          parameters: { options: "-c role=(?<role>[a-z]+)" }
                        backend:
                          host: "{tenant}.internal"
                          port: "{tenant}"
                          sslmode: require
                          parameters: { role: "{role}", statement_timeout: 5000 }
                - http: { url: "http://127.0.0.1:8080/route", cache_ttl: 30s, negative_ttl: 5s, timeout: 2s, stale_grace: 5m }
                - postgres: { dsn: "postgresql://pgmux@control:5432/control", table: pgmux_routes }
            """;

    @Test
    void aChainOfEveryKind() throws Exception {
        ServerConfig c = load(CHAIN);
        assertThat(c.routes()).isEmpty();
        assertThat(c.router()).isEqualTo(c.routing());
        RouterSpec.Chain chain = (RouterSpec.Chain) c.router();
        assertThat(chain.routers()).hasSize(4);
        assertThat(chain.routers().get(0)).isEqualTo(new RouterSpec.Static(
                Map.of("admin", BackendConfig.of("127.0.0.1", 5432, "postgres")), null));
        assertThat(chain.routers().get(1)).isEqualTo(new RouterSpec.Pattern(List.of(
                PatternRouter.Rule.named("labs").user("(?<student>[a-z0-9]+)_(?<lab>lab[0-9]+)")
                        .to(BackendTemplate.builder().host("{lab}.labs.internal").port(5432).user("{student}")
                                .database("{lab}")).build(),
                PatternRouter.Rule.named("tenants").sni("(?<tenant>[^.]+)\\.db\\.example\\.com")
                        .parameter("options", "-c role=(?<role>[a-z]+)")
                        .to(BackendTemplate.builder().host("{tenant}.internal").port("{tenant}").sslMode(SslMode.REQUIRE)
                                .parameter("role", "{role}").parameter("statement_timeout", "5000")).build())));
        assertThat(chain.routers().get(2)).isEqualTo(new RouterSpec.Http(URI.create("http://127.0.0.1:8080/route"),
                HttpRouter.Method.GET, Duration.ofSeconds(2), Duration.ofSeconds(30), Duration.ofSeconds(5),
                Duration.ofMinutes(5), HttpRouter.DEFAULT_MAX_ENTRIES, null, List.of(RequestField.values())));
        assertThat(chain.routers().get(3)).isEqualTo(new RouterSpec.Postgres("postgresql://pgmux@control:5432/control",
                "pgmux_routes"));
        assertThat(c.router().describe()).isEqualTo("chain[static(1 route), pattern(2 rules),"
                + " http(http://127.0.0.1:8080/route), postgres(pgmux_routes)]");
    }

    @Test
    void aSingleRouterWithoutAChain() throws Exception {
        ServerConfig c = load("""
                router:
                  pattern:
                    rules:
                      - match: { database: "(?<db>[a-z]+)_dev" }
                        backend: { host: "dev-{db}" }
                """);
        assertThat(c.router()).isInstanceOf(RouterSpec.Pattern.class);
        PatternRouter.Rule rule = ((RouterSpec.Pattern) c.router()).rules().get(0);
        assertThat(rule.name()).isEqualTo("rules[0]");
        assertThat(rule.backend()).isEqualTo(BackendTemplate.builder().host("dev-{db}").build());
    }

    @Test
    void staticRoutesGoFirstInTheChain() throws Exception {
        ServerConfig c = load("""
                routes: { admin: "postgres@127.0.0.1:5432" }
                router:
                  chain:
                    - pattern: { rules: [ { match: { user: ".*" }, backend: { host: shared } } ] }
                    - http: { url: "https://routing.example.com/route" }
                """);
        assertThat(c.routing()).isInstanceOfSatisfying(RouterSpec.Chain.class, chain ->
                assertThat(chain.routers()).map(RouterSpec::describe).containsExactly("static(1 route)",
                        "pattern(1 rule)", "http(https://routing.example.com/route)"));
        ServerConfig single = load("""
                routes: { admin: "postgres@127.0.0.1:5432" }
                router: { http: { url: "http://127.0.0.1:1/r" } }
                """);
        assertThat(single.routing().describe()).isEqualTo("chain[static(1 route), http(http://127.0.0.1:1/r)]");
    }

    @Test
    void httpSettings() throws Exception {
        ServerConfig c = load("""
                router:
                  http:
                    url: "http://127.0.0.1:8080/route?region=eu"
                    method: POST
                    timeout: 500ms
                    cache_ttl: 0
                    negative_ttl: 0
                    stale_grace: 1h
                    max_entries: 50
                    bearer_token_env: ROUTING_TOKEN
                    send: [user, sni]
                """, Map.of("ROUTING_TOKEN", "s3cret\n"));
        RouterSpec.Http http = (RouterSpec.Http) c.router();
        assertThat(http).isEqualTo(new RouterSpec.Http(URI.create("http://127.0.0.1:8080/route?region=eu"),
                HttpRouter.Method.POST, Duration.ofMillis(500), Duration.ZERO, Duration.ZERO, Duration.ofHours(1), 50,
                "s3cret", List.of(RequestField.USER, RequestField.SNI)));
        assertThat(http.toString()).doesNotContain("s3cret");
        assertThat(new RouterSpec.Postgres("postgresql://u:pw@h/db", "t").toString()).doesNotContain("pw");
    }

    @Test
    void unknownKeysNameKeyAndLine() {
        assertThat(loadFails("""
                router:
                  chain:
                    - statik: { routes: { a: h:1 } }
                """)).singleElement().satisfies(e -> {
                    assertThat(e.toString()).startsWith(file() + ":3: router.chain[0].statik: unknown key");
                    assertThat(e.message()).contains("chain, http, pattern, postgres, static");
                });
        assertThat(loadFails("""
                router:
                  pattern:
                    rules:
                      - name: labs
                        match: { usr: "x" }
                        backend: { host: h }
                """)).singleElement().satisfies(e ->
                        assertThat(e.toString()).startsWith(file() + ":5: router.pattern.rules[0].match.usr: unknown key"));
        assertThat(loadFails("router: { http: { url: \"http://h/r\", cache: 1s } }\n")).singleElement()
                .satisfies(e -> assertThat(e.key()).isEqualTo("router.http.cache"));
    }

    @Test
    void aBadRegexNamesTheRule() {
        assertThat(loadFails("""
                router:
                  pattern:
                    rules:
                      - name: ok
                        match: { user: "a.*" }
                        backend: { host: h }
                      - name: labs
                        match:
                          user: "(?<student>[a-z0-9]+"
                        backend: { host: "{student}" }
                """)).extracting(ConfigError::toString).containsExactly(file()
                + ":9: router.pattern.rules[1].match.user: rule \"labs\": bad regular expression: Unclosed group near index 20");
    }

    @Test
    void placeholdersMustBeGroupsOfTheirRule() {
        assertThat(loadFails("""
                router:
                  pattern:
                    rules:
                      - name: labs
                        match: { user: "(?<student>[a-z0-9]+)_lab" }
                        backend:
                          host: "{lab}.labs.internal"
                          port: "{student}"
                          user: "{student}"
                          parameters: { x: "{nope}" }
                """)).extracting(ConfigError::toString).containsExactly(
                file() + ":7: router.pattern.rules[0].backend.host: rule \"labs\": {lab} is not a named group of the"
                        + " rule's patterns (groups and built-ins: user, database, application_name, sni, client_addr,"
                        + " student)",
                file() + ":10: router.pattern.rules[0].backend.parameters.x: rule \"labs\": {nope} is not a named group"
                        + " of the rule's patterns (groups and built-ins: user, database, application_name, sni,"
                        + " client_addr, student)");
    }

    @Test
    void semanticErrorsOfEveryKindInFileOrder() {
        List<ConfigError> errors = loadFails("""
                router:
                  chain:
                    - static: { default_route: "h:1" }
                    - static: {}
                    - pattern: { rules: [] }
                    - pattern: { rules: [ { name: r, match: { user: x } } ] }
                    - pattern: { rules: [ { backend: { host: h, port: 70000, sslmode: sometimes } } ] }
                    - http: { url: "ftp://h/r", method: PUT, timeout: 0, cache_ttl: 30, max_entries: 0, send: [user, ip] }
                    - http: { bearer_token: x, bearer_token_env: Y }
                    - http: { url: "http://h/r", bearer_token_env: MISSING }
                    - postgres: { dsn: "host=control user=pgmux password=secret" }
                    - postgres: { table: "drop table x" }
                    - {}
                    - static: { routes: { a: h:1 } }
                      pattern: { rules: [ { backend: { host: h } } ] }
                """);
        // The table router's own message for a bad table name; only its start is this test's business.
        assertThat(errors).filteredOn(e -> e.key().equals("router.chain[9].postgres.table")).singleElement()
                .satisfies(e -> assertThat(e.toString()).startsWith(file() + ":12: router.chain[9].postgres.table:"
                        + " table name \"drop table x\""));
        assertThat(errors).filteredOn(e -> !e.key().equals("router.chain[9].postgres.table"))
                .extracting(ConfigError::toString).containsExactly(
                file() + ":3: router.chain[0].static.default_route: the routers after this one would never be asked:"
                        + " a default route belongs to the last router",
                file() + ":4: router.chain[1].static: no routes: give routes or default_route",
                file() + ":5: router.chain[2].pattern.rules: no rules: give a list of {name, match, backend}",
                file() + ":6: router.chain[3].pattern.rules[0].backend: rule \"r\" needs a backend: {host: ..., port: ...}",
                file() + ":7: router.chain[4].pattern.rules[0].backend.port: must be between 1 and 65535, not 70000",
                file() + ":7: router.chain[4].pattern.rules[0].backend.sslmode: unknown sslmode \"sometimes\" (disable,"
                        + " prefer, require, verify-ca, verify-full)",
                file() + ":8: router.chain[5].http.url: must be http://HOST[:PORT]/PATH or https://..., not \"ftp://h/r\"",
                file() + ":8: router.chain[5].http.method: must be get or post, not \"PUT\"",
                file() + ":8: router.chain[5].http.timeout: must be longer than 0",
                file() + ":8: router.chain[5].http.cache_ttl: duration \"30\" needs a unit: 30s, 30ms, 30m",
                file() + ":8: router.chain[5].http.max_entries: must be at least 1, not 0",
                file() + ":8: router.chain[5].http.send[1]: unknown field \"ip\" (user, database, application_name,"
                        + " sni, client_addr)",
                file() + ":9: router.chain[6].http.url: missing: the routing service's URL, e.g."
                        + " http://127.0.0.1:8080/route",
                file() + ":9: router.chain[6].http.bearer_token_env: give bearer_token or bearer_token_env, not both",
                file() + ":10: router.chain[7].http.bearer_token_env: the environment variable MISSING is not set",
                file() + ":11: router.chain[8].postgres.dsn: a DSN looks like"
                        + " postgresql://USER:PASSWORD@HOST:PORT/DATABASE or jdbc:postgresql://HOST:PORT/DATABASE?user=USER",
                file() + ":12: router.chain[9].postgres.dsn: missing: the control-plane database, e.g."
                        + " postgresql://pgmux@control:5432/control",
                file() + ":13: router.chain[10]: empty router: give one of chain, static, pattern, http or postgres",
                file() + ":14: router.chain[11]: one router per entry, not static and pattern (list several under"
                        + " chain:)");
        assertThat(errors.stream().map(ConfigError::toString).collect(Collectors.joining()))
                .as("a DSN may hold a password").doesNotContain("secret");
    }

    @Test
    void aDefaultRouteBesideARouterIsAnError() {
        assertThat(loadFails("""
                default_route: "h:1"
                router: { http: { url: "http://h/r" } }
                """)).extracting(ConfigError::toString).containsExactly(file() + ":1: default_route: with a default"
                + " route the router section would never be asked: move the default route into the router (a static"
                + " router at the end of its chain)");
    }

    @Test
    void emptyChainAndWrongShapes() {
        assertThat(loadFails("router: { chain: [] }\n")).extracting(ConfigError::toString)
                .containsExactly(file() + ":1: router.chain: an empty chain: list routers, e.g. - static: {...}");
        assertThat(loadFails("router: pattern\n")).extracting(ConfigError::toString)
                .containsExactly(file() + ":1: router: expected a mapping of keys, not \"pattern\"");
    }

    @Test
    void theExamplesRouterSectionIsValid() throws Exception {
        String example = Files.readString(Path.of("conf/pgmux.example.yaml"));
        String section = example.substring(example.indexOf("# router:\n"));
        String uncommented = section.lines().map(l -> l.startsWith("# ") ? l.substring(2) : l)
                .collect(Collectors.joining("\n", "", "\n"));
        ServerConfig c = load(uncommented, Map.of("ROUTING_TOKEN", "t"));
        assertThat(c.router().describe()).isEqualTo("chain[static(1 route), pattern(2 rules),"
                + " http(http://127.0.0.1:8080/route), postgres(pgmux_routes)]");
    }

    @Test
    void equalSectionsAreEqualSpecs() throws Exception {
        assertThat(load(CHAIN).router()).isEqualTo(load(CHAIN).router());
        assertThat(load(CHAIN).router()).isNotEqualTo(load(CHAIN.replace("lab[0-9]+", "lab[0-9]*")).router());
    }

    private Path file() {
        return dir.resolve("pgmux.yaml");
    }

    private ServerConfig load(String yaml) throws IOException, ConfigException {
        return load(yaml, Map.of());
    }

    private ServerConfig load(String yaml, Map<String, String> env) throws IOException, ConfigException {
        Files.writeString(file(), yaml);
        return new ConfigSource(file(), env, List.of()).load();
    }

    private List<ConfigError> loadFails(String yaml) {
        ConfigException e = catchThrowableOfType(ConfigException.class, () -> load(yaml));
        assertThat(e).as("the config is refused").isNotNull();
        return e.errors();
    }
}
