package dev.pgmux.routing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import dev.pgmux.AuthMode;
import dev.pgmux.BackendConfig;
import dev.pgmux.ClientAuthMethod;
import dev.pgmux.PoolConfig;
import dev.pgmux.PoolMode;
import dev.pgmux.RouteRequest;
import dev.pgmux.RoutingException;
import dev.pgmux.SslMode;
import java.net.InetSocketAddress;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

class PatternRouterTest {

    static final PatternRouter LABS = PatternRouter.builder()
            .rule(PatternRouter.Rule.named("labs")
                    .user("(?<student>[a-z0-9]+)_(?<lab>lab[0-9]+)")
                    .to(BackendTemplate.builder().host("{lab}.labs.internal").port(5432).user("{student}")
                            .database("{lab}")))
            .rule(PatternRouter.Rule.named("tenants")
                    .sni("(?<tenant>[a-z0-9-]+)\\.db\\.example\\.com")
                    .to(BackendTemplate.builder().host("{tenant}.tenants.internal").port(6432)
                            .parameter("application_name", "pgmux-{tenant}")))
            .build();

    static RouteRequest request(String user, String database, String sni, String... parameters) {
        Map<String, String> p = new LinkedHashMap<>();
        p.put("user", user);
        if (database != null) {
            p.put("database", database);
        }
        for (int i = 0; i < parameters.length; i += 2) {
            p.put(parameters[i], parameters[i + 1]);
        }
        return new RouteRequest(user, database == null ? user : database, p.get("application_name"), p,
                new InetSocketAddress("10.1.2.3", 40000), sni, sni != null);
    }

    @Test
    void namedGroupsBuildTheBackend() throws Exception {
        assertThat(LABS.route(request("ada_lab7", "postgres", null))).isEqualTo(BackendConfig.builder()
                .host("lab7.labs.internal").port(5432).user("ada").database("lab7").build());
    }

    @Test
    void sniRuleRoutesByTheServerNameInLowerCase() throws Exception {
        BackendConfig b = LABS.route(request("whoever", "app", "Acme-1.DB.Example.com"));
        assertThat(b).isEqualTo(BackendConfig.builder().host("acme-1.tenants.internal").port(6432)
                .parameter("application_name", "pgmux-acme-1").build());
        assertThat(b.user()).as("the client's user is kept").isNull();
    }

    /** A rule's pool is fixed: every backend it fills in shares the rule's pool settings, each its own pool. */
    @Test
    void aRulesPoolGoesWithEveryBackendItFillsIn() throws Exception {
        PoolConfig pool = PoolConfig.builder().mode(PoolMode.TRANSACTION).size(4).build();
        PatternRouter router = PatternRouter.builder()
                .rule(PatternRouter.Rule.named("pooled").user("(?<t>[a-z]+)")
                        .to(BackendTemplate.builder().host("{t}.internal").auth(AuthMode.PROXY)
                                .clientAuthMethod(ClientAuthMethod.TRUST).pool(pool)))
                .build();
        assertThat(router.route(request("acme", "app", null))).isEqualTo(BackendConfig.builder()
                .host("acme.internal").auth(AuthMode.PROXY).clientAuthMethod(ClientAuthMethod.TRUST).pool(pool).build());
        assertThatThrownBy(() -> BackendTemplate.builder().host("{t}.internal").pool(pool).build())
                .hasMessage("pool transaction needs auth proxy: pgmux logs in to pooled servers itself, so it must"
                        + " authenticate the clients");
    }

    @Test
    void aHostListIsFilledPartByPartAndAValueCannotAddHosts() throws Exception {
        PatternRouter router = PatternRouter.builder()
                .rule(PatternRouter.Rule.named("pair").user("(?<t>.+)")
                        .to(BackendTemplate.builder().host("{t}-a.internal,{t}-b.internal:6432").port(5432)
                                .targetSessionAttrs(dev.pgmux.TargetSessionAttrs.READ_WRITE)))
                .build();
        BackendConfig b = router.route(request("acme", "app", null));
        assertThat(b.hosts()).containsExactly(new BackendConfig.Endpoint("acme-a.internal", 5432),
                new BackendConfig.Endpoint("acme-b.internal", 6432));
        assertThat(b.targetSessionAttrs()).isEqualTo(dev.pgmux.TargetSessionAttrs.READ_WRITE);
        assertThat(noRoute(router, request("x,evil.example.com:5432,y", "app", null))).isNotNull();
        // nor a port of its own, once the list is parsed again
        assertThat(noRoute(router, request("acme.internal:6379", "app", null))).isNotNull();
        assertThat(noRoute(router, request("[::1]", "app", null))).isNotNull();
    }

    @Test
    void theWholeValueMustMatch() {
        assertThat(noRoute(LABS, request("ada_lab7x", "postgres", null))).isEqualTo("no route for user \"ada_lab7x\"");
        assertThat(noRoute(LABS, request("whoever", "app", "acme.db.example.com.evil.org"))).isNotNull();
    }

    @Test
    void firstMatchWins() throws Exception {
        PatternRouter router = PatternRouter.builder()
                .rule(PatternRouter.Rule.named("admins").user("admin_.*").to(BackendTemplate.builder().host("admin-db")))
                .rule(PatternRouter.Rule.named("everyone").user(".*").to(BackendTemplate.builder().host("shared-db")))
                .build();
        assertThat(router.route(request("admin_x", null, null)).host()).isEqualTo("admin-db");
        assertThat(router.route(request("bob", null, null)).host()).isEqualTo("shared-db");
    }

    @Test
    void everyConditionOfARuleMustMatch() throws Exception {
        PatternRouter router = PatternRouter.builder()
                .rule(PatternRouter.Rule.named("reports").user("(?<u>[a-z]+)").database("reports")
                        .applicationName("(?<tool>metabase|grafana)")
                        .to(BackendTemplate.builder().host("replica").user("{u}_ro").parameter("application_name", "{tool}")))
                .build();
        assertThat(router.route(request("ann", "reports", null, "application_name", "grafana")))
                .isEqualTo(BackendConfig.builder().host("replica").user("ann_ro").parameter("application_name", "grafana").build());
        assertThat(noRoute(router, request("ann", "app", null, "application_name", "grafana"))).isNotNull();
        assertThat(noRoute(router, request("ann", "reports", null))).as("no application_name at all").isNotNull();
    }

    @Test
    void aMissingSniDoesNotMatchEvenAnythingGoes() {
        PatternRouter router = PatternRouter.builder()
                .rule(PatternRouter.Rule.named("sni").sni(".*").to(BackendTemplate.builder().host("h")))
                .build();
        assertThat(noRoute(router, request("alice", null, null))).isNotNull();
    }

    @Test
    void startupParametersClientAddressAndBuiltInPlaceholders() throws Exception {
        PatternRouter router = PatternRouter.builder()
                .rule(PatternRouter.Rule.named("options").parameter("options", "-c search_path=(?<schema>[a-z]+)")
                        .clientAddr("10\\.1\\..*")
                        .to(BackendTemplate.builder().host("{schema}.internal").database("{database}_{user}")
                                .parameter("pgmux_client", "{client_addr}")))
                .build();
        BackendConfig b = router.route(request("ann", "app", null, "options", "-c search_path=sales"));
        assertThat(b).isEqualTo(BackendConfig.builder().host("sales.internal").database("app_ann")
                .parameter("pgmux_client", "10.1.2.3").build());
        assertThat(noRoute(router, request("ann", "app", null))).isNotNull();
    }

    @Test
    void portFromAGroupAndAnUnusableOneIsNoRoute() throws Exception {
        PatternRouter router = PatternRouter.builder()
                .rule(PatternRouter.Rule.named("ports").user("(?<who>[a-z]+)@(?<port>[0-9]+)")
                        .to(BackendTemplate.builder().host("127.0.0.1").port("{port}").user("{who}")
                                .sslMode(SslMode.REQUIRE)))
                .build();
        assertThat(router.route(request("bob@6543", null, null))).isEqualTo(BackendConfig.builder()
                .host("127.0.0.1").port(6543).user("bob").sslMode(SslMode.REQUIRE).build());
        assertThat(noRoute(router, request("bob@99999", null, null))).isEqualTo("no route for user \"bob@99999\"");
    }

    @Test
    void anOptionalGroupThatTookNoPartKeepsTheClientsValue() throws Exception {
        PatternRouter router = PatternRouter.builder()
                .rule(PatternRouter.Rule.named("opt").user("(?:(?<as>[a-z]+)\\+)?(?<name>[a-z]+)")
                        .to(BackendTemplate.builder().host("db").user("{as}")))
                .build();
        assertThat(router.route(request("admin+ann", null, null)).user()).isEqualTo("admin");
        assertThat(router.route(request("ann", null, null)).user()).as("empty: keep the client's").isNull();
    }

    @Test
    void aRuleWithoutConditionsMatchesEveryone() throws Exception {
        PatternRouter router = PatternRouter.builder()
                .rule(PatternRouter.Rule.named("all").to(BackendTemplate.builder().host("db-{user}")))
                .build();
        assertThat(router.route(request("zed", null, null)).host()).isEqualTo("db-zed");
    }

    @Test
    void placeholdersMustBeGroupsOfTheRule() {
        assertThatThrownBy(() -> PatternRouter.Rule.named("labs").user("(?<student>[a-z]+)")
                .to(BackendTemplate.builder().host("{lab}.internal")).build())
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageStartingWith("rule \"labs\": {lab} is neither a named group");
        assertThat(BackendTemplate.placeholders("{a}-{b_c}.x{1,2}{ d }")).containsExactly("a", "b_c");
    }

    @Test
    void rulesCompareByPatternText() {
        PatternRouter.Rule a = PatternRouter.Rule.named("r").user("(?<u>.*)").to(BackendTemplate.builder().host("{u}")).build();
        PatternRouter.Rule b = PatternRouter.Rule.named("r").user("(?<u>.*)").to(BackendTemplate.builder().host("{u}")).build();
        PatternRouter.Rule c = PatternRouter.Rule.named("r").user("(?<u>.+)").to(BackendTemplate.builder().host("{u}")).build();
        assertThat(a).isEqualTo(b).hasSameHashCodeAs(b).isNotEqualTo(c);
    }

    private static String noRoute(PatternRouter router, RouteRequest request) {
        RoutingException e = catchThrowableOfType(RoutingException.class, () -> router.route(request));
        assertThat(e).as("no route for " + request.user()).isNotNull();
        assertThat(e.sqlState()).isEqualTo("28000");
        return e.getMessage();
    }
}
