package dev.pgmux.routing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.entry;

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
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The one reader of backends: the {@code [BACKENDUSER@]HOST:PORT[/DATABASE][?OPTIONS]} notation of the command
 * line, and the keys every source shares, with one rule for blank values.
 */
class BackendSpecTest {

    static BackendConfig notation(String text) {
        return BackendSpec.fromNotation(text).toBackendConfig();
    }

    static BackendSpec spec(String host, String port, String user, String database) {
        return new BackendSpec(host, port, null, user, database, null, null, null, null, null);
    }

    // ---- the notation ------------------------------------------------------------------------------------

    @Test
    void fullNotation() {
        assertThat(notation("postgres@10.0.0.1:5432/app")).isEqualTo(new BackendConfig("10.0.0.1", 5432, "postgres",
                "app", Map.of(), null, null));
    }

    @Test
    void withoutBackendUserTheClientsUserIsKept() {
        BackendConfig b = notation("db.internal:6432/sales");

        assertThat(b.host()).isEqualTo("db.internal");
        assertThat(b.port()).isEqualTo(6432);
        assertThat(b.user()).isNull();
        assertThat(b.database()).isEqualTo("sales");
    }

    @Test
    void withoutDatabaseTheClientsDatabaseIsKept() {
        assertThat(notation("db:6432").database()).isNull();
        assertThat(notation("db:6432/").database()).isNull();
    }

    @Test
    void anEmptyUserIsNotSetAsAnEmptyDatabaseIsNot() {
        // Refused before; now the one rule for blank values, as "db/" always was.
        assertThat(notation("@db:5432/app")).isEqualTo(notation("db:5432/app"));
        assertThat(notation("@db:5432/app").user()).isNull();
    }

    @Test
    void portDefaultsTo5432() {
        assertThat(notation("10.0.0.2/app")).satisfies(b -> {
            assertThat(b.host()).isEqualTo("10.0.0.2");
            assertThat(b.port()).isEqualTo(5432);
            assertThat(b.database()).isEqualTo("app");
        });
        assertThat(notation("u@db").port()).isEqualTo(5432);
    }

    @Test
    void ipv6InBrackets() {
        assertThat(notation("[::1]:5433")).satisfies(b -> {
            assertThat(b.host()).isEqualTo("::1");
            assertThat(b.port()).isEqualTo(5433);
            assertThat(b.address()).isEqualTo("[::1]:5433");
        });
        assertThat(notation("[::1]")).satisfies(b -> {
            assertThat(b.host()).isEqualTo("::1");
            assertThat(b.port()).isEqualTo(5432);
        });
        assertThat(notation("admin@[2001:db8::7]:6432/db")).satisfies(b -> {
            assertThat(b.user()).isEqualTo("admin");
            assertThat(b.host()).isEqualTo("2001:db8::7");
            assertThat(b.port()).isEqualTo(6432);
            assertThat(b.database()).isEqualTo("db");
        });
    }

    @Test
    void severalHosts() {
        BackendConfig b = notation("pg-a,pg-b:5433,[fd00::7]/app?target_session_attrs=read-write"
                + "&load_balance_hosts=round-robin");
        assertThat(b.hosts()).containsExactly(new Endpoint("pg-a", 5432), new Endpoint("pg-b", 5433),
                new Endpoint("fd00::7", 5432));
        assertThat(b.targetSessionAttrs()).isEqualTo(TargetSessionAttrs.READ_WRITE);
        assertThat(b.loadBalanceHosts()).isEqualTo(LoadBalanceHosts.ROUND_ROBIN);
    }

    @Test
    void tlsOptions() {
        BackendConfig b = notation("u@db.example:5432/app?sslmode=verify-full&sslrootcert=/x.pem");

        assertThat(b.sslMode()).isEqualTo(SslMode.VERIFY_FULL);
        assertThat(b.sslRootCert()).isEqualTo(Path.of("/x.pem"));
        assertThat(b.host()).isEqualTo("db.example");
        assertThat(b.database()).isEqualTo("app");
        assertThat(b.parameters()).isEmpty();
    }

    @Test
    void sslModeDefaultsToTheLibraryDefaultAndAcceptsEachLibpqName() {
        assertThat(notation("db").sslMode()).isEqualTo(BackendConfig.of("db", 5432, null).sslMode());
        assertThat(notation("db?sslmode=disable").sslMode()).isEqualTo(SslMode.DISABLE);
        assertThat(notation("db?sslmode=prefer").sslMode()).isEqualTo(SslMode.PREFER);
        assertThat(notation("db?sslmode=require").sslMode()).isEqualTo(SslMode.REQUIRE);
        assertThat(notation("db?sslmode=verify-ca").sslMode()).isEqualTo(SslMode.VERIFY_CA);
        assertThat(notation("db?sslmode=").sslMode()).as("blank: not set").isEqualTo(SslMode.DISABLE);
    }

    @Test
    void otherOptionsBecomeStartupParameters() {
        BackendConfig b = notation("db:5432?application_name=pgmux&sslmode=require&options=-c x=1");

        assertThat(b.parameters()).containsOnly(entry("application_name", "pgmux"), entry("options", "-c x=1"));
        assertThat(b.sslMode()).isEqualTo(SslMode.REQUIRE);
    }

    @Test
    void surroundingSpaceIsIgnored() {
        assertThat(notation("  db:6000  ").host()).isEqualTo("db");
    }

    @ParameterizedTest
    @ValueSource(strings = {
        "",
        "   ",
        "db:",
        "db:port",
        "db:0",
        "db:65536",
        "db:-1",
        ":5432",
        "[]:5432",
        "u@:5432/app",
        "db?sslmode=sometimes",
        "db?sslmode",
        "db?=x",
        "db:5432?",
        "a,,b",
    })
    void badNotationsAreRejected(String text) {
        assertThatThrownBy(() -> notation(text)).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void notationErrorsQuoteTheText() {
        assertThatThrownBy(() -> BackendSpec.fromNotation("h:port")).hasMessage("bad port in backend h:port");
        assertThatThrownBy(() -> notation("h?sslmode=sometimes")).hasMessageStartingWith("sslmode: unknown sslmode");
    }

    @Test
    void unclosedBracketIsRejected() {
        // Without the check, "[::1" becomes host "[:" and port 1.
        assertThatThrownBy(() -> notation("[::1")).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> notation("[::1:5432")).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void ipv6WithoutBracketsIsRejected() {
        // "::1" would become host ":" and port 1, "db:5432:6432" host "db:5432"; listen addresses (HostPort)
        // already demand brackets.
        assertThatThrownBy(() -> notation("::1")).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> notation("db:5432:6432")).isInstanceOf(IllegalArgumentException.class);
    }

    // ---- the keys, and blank values ----------------------------------------------------------------------

    @Test
    void blankValuesAreNotSet() {
        BackendConfig plain = BackendConfig.of("db", 5432, null);
        for (String blank : Arrays.asList(null, "", "  ")) {
            assertThat(new BackendSpec("db", blank, null, blank, blank, blank, blank, blank, blank, null)
                    .toBackendConfig()).as("\"%s\"", blank).isEqualTo(plain);
        }
        assertThat(new BackendSpec("db", null, List.of(), null, null, null, null, null, null, null).toBackendConfig())
                .as("an empty host list").isEqualTo(plain);
        assertThat(new BackendSpec(" ", null, List.of("db"), null, null, null, null, null, null, null)
                .toBackendConfig()).as("a blank host beside hosts").isEqualTo(plain);
    }

    @Test
    void aParameterIsSentAsWrittenEvenBlankButNotWhenNull() {
        Map<String, String> parameters = new HashMap<>();
        parameters.put("search_path", "");
        parameters.put("application_name", null);
        BackendConfig b = new BackendSpec("db", null, null, null, null, null, null, null, null, parameters)
                .toBackendConfig();
        assertThat(b.parameters()).containsExactly(entry("search_path", ""));
    }

    @Test
    void everyProblemIsNamedByItsKey() {
        Map<String, String> parameters = new HashMap<>();
        parameters.put(" ", "x");
        BackendSpec.Parsed<BackendConfig> parsed = new BackendSpec(null, "70000", null, null, null, "sometimes",
                null, "writable", "often", parameters).parse(Path::of);
        assertThat(parsed.value()).isNull();
        assertThat(parsed.problems()).extracting(BackendSpec.Problem::toString).containsExactly(
                "host: missing: every route needs a host (or hosts:)",
                "port: must be between 1 and 65535, not 70000",
                "sslmode: unknown sslmode \"sometimes\" (disable, prefer, require, verify-ca, verify-full)",
                "target_session_attrs: unknown target_session_attrs \"writable\" (any, read-write, read-only,"
                        + " primary, standby, prefer-standby)",
                "load_balance_hosts: unknown load_balance_hosts \"often\" (disable, random, round-robin)",
                "parameters: a startup parameter needs a name, not \" \"");
        assertThat(new BackendSpec("a", "x", Arrays.asList("b", null, "c:y"), null, null, null, null, null, null,
                null).parse(Path::of).problems()).extracting(BackendSpec.Problem::toString).containsExactly(
                "hosts: give host: or hosts:, not both",
                "port: must be a number between 1 and 65535, not \"x\"",
                "hosts[1]: empty host",
                "hosts[2]: bad port in \"c:y\"");
    }

    @Test
    void hostAndHostList() {
        assertThat(new BackendSpec("pg-a, pg-b:5433", "6432", null, null, null, null, null, null, null, null)
                .toBackendConfig().hosts()).containsExactly(new Endpoint("pg-a", 6432), new Endpoint("pg-b", 5433));
        assertThat(new BackendSpec(null, "6432", List.of("pg-a", "[fd00::7]:5433"), null, null, null, null, null,
                null, null).toBackendConfig().hosts())
                .containsExactly(new Endpoint("pg-a", 6432), new Endpoint("fd00::7", 5433));
    }

    @Test
    void sslRootCertGoesThroughTheGivenFileReader() {
        BackendSpec s = new BackendSpec("db", null, null, null, null, "verify-ca", "ca.pem", null, null, null);
        assertThat(s.parse(name -> Path.of("/etc/pgmux").resolve(name)).value().sslRootCert())
                .isEqualTo(Path.of("/etc/pgmux/ca.pem"));
        assertThat(s.parse(name -> {
            throw new IllegalArgumentException("file not found or not readable: " + name);
        }).problems()).extracting(BackendSpec.Problem::toString)
                .containsExactly("sslrootcert: file not found or not readable: ca.pem");
    }

    // ---- pattern rules' backends -------------------------------------------------------------------------

    @Test
    void aTemplateChecksWhatHasNoPlaceholders() {
        BackendSpec.Parsed<BackendTemplate> ok = spec("{lab}.internal", "{port}", "{student}", "").parseTemplate(Path::of);
        assertThat(ok.value()).isEqualTo(BackendTemplate.builder().host("{lab}.internal").port("{port}")
                .user("{student}").build());
        assertThat(spec("h", "70000", null, null).parseTemplate(Path::of).problems())
                .extracting(BackendSpec.Problem::toString)
                .containsExactly("port: must be between 1 and 65535, not 70000");
        assertThat(spec("h", "x{p}", null, null).parseTemplate(Path::of).problems()).isEmpty();
        assertThat(spec("h", "abc", null, null).parseTemplate(Path::of).problems())
                .extracting(BackendSpec.Problem::toString)
                .containsExactly("port: must be a number or {placeholders}, not \"abc\"");
        assertThat(new BackendSpec(null, null, List.of("{a}", "{b}"), null, null, null, null, null, null, null)
                .parseTemplate(Path::of).problems()).extracting(BackendSpec.Problem::key).containsExactly("hosts");
    }

    @Test
    void aFilledInTemplateIsReadAsEveryOtherSource() {
        BackendTemplate t = spec("{h}", "{p}", "{u}", "{d}").parseTemplate(Path::of).value();
        assertThat(t.expand(Map.of("h", "db", "p", "6432", "u", "app", "d", "sales")))
                .isEqualTo(notation("app@db:6432/sales"));
        assertThat(t.expand(Map.of("h", "db", "p", "", "u", " ", "d", "")))
                .as("blank once filled in: not set").isEqualTo(notation("db"));
        assertThatThrownBy(() -> t.expand(Map.of("h", "", "p", "", "u", "", "d", "")))
                .hasMessage("host: missing: every route needs a host (or hosts:)");
    }

    // ---- authentication ----------------------------------------------------------------------------------

    /** The SCRAM-SHA-256 verifier of "secret", as PostgreSQL would store it. */
    static final String VERIFIER = "SCRAM-SHA-256$4096:cGdtdXgtdGVzdC1zYWx0IQ==$"
            + "rLW6vFo5jkg3NjS9osAxK+n1pWn5Ulxp+xUkvGAODII=:RqdbEpVSpSaE0L8qUkdIucadWchgrYekib/qche6mlE=";
    static final Map<String, String> ENV = Map.of("PW", "backend-pw");

    /** A spec with only the authentication keys set, and host "db". */
    static BackendSpec auth(String auth, String clientPassword, String password, String passwordEnv,
                            String passwordFile, String authUser, String authQuery) {
        return new BackendSpec("db", null, null, null, null, null, null, null, null, null, auth, null,
                clientPassword, password, passwordEnv, passwordFile, authUser, authQuery);
    }

    static List<String> problems(BackendSpec spec) {
        return spec.parse(Path::of, ENV).problems().stream().map(BackendSpec.Problem::toString).toList();
    }

    @Test
    void theNotationTakesTheAuthenticationKeysAsWritten() {
        BackendSpec s = BackendSpec.fromNotation("db?auth=proxy&client_password=" + VERIFIER
                + "&password_env=PW&password_file=/run/pw&password=x&auth_user=u&auth_query=SELECT 1&search_path=a");
        assertThat(s).isEqualTo(new BackendSpec("db", "5432", null, null, null, null, null, null, null,
                Map.of("search_path", "a"), "proxy", null, VERIFIER, "x", "PW", "/run/pw", "u", "SELECT 1"));
    }

    @Test
    void aProxyRoute() {
        BackendConfig b = auth("proxy", " " + VERIFIER + " ", null, "PW", null, null, null).parse(Path::of, ENV)
                .orElseThrow();
        assertThat(b).isEqualTo(BackendConfig.builder().host("db").auth(AuthMode.PROXY).clientCredential(VERIFIER)
                .password(Secret.fromEnv("PW", ENV)).build());
        assertThat(auth("PROXY", null, null, null, null, null, null).toBackendConfig().auth())
                .isEqualTo(AuthMode.PROXY);
    }

    @Test
    void theAuthenticationProblemsAreNamedByTheirKeys() {
        assertThat(problems(auth("trust", VERIFIER, null, null, null, null, null))).as("no second guess after a"
                + " bad auth").containsExactly("auth: unknown auth \"trust\" (passthrough, proxy)");
        assertThat(problems(auth(null, VERIFIER, null, "PW", "pw.txt", null, null))).containsExactly(
                "password_file: give password_env or password_file, not both",
                "client_password: applies only with auth: proxy (with auth: passthrough the backend authenticates"
                        + " the client)",
                "password_env: applies only with auth: proxy (with auth: passthrough the backend authenticates the"
                        + " client)",
                "password_file: applies only with auth: proxy (with auth: passthrough the backend authenticates the"
                        + " client)");
        assertThat(problems(auth("proxy", null, null, "NOPE", null, null, null)))
                .containsExactly("password_env: the environment variable NOPE is not set");
        assertThat(problems(auth("proxy", null, null, null, "/no/such/pw", null, null)))
                .containsExactly("password_file: password file /no/such/pw: no such file");
        assertThat(problems(auth("proxy", null, null, null, null, "pgbouncer", "SELECT u, p FROM f($1)"))).isEmpty();
        assertThat(auth("proxy", null, null, null, null, "pgbouncer", "SELECT u, p FROM f($1)").parse(Path::of).problems())
                .extracting(BackendSpec.Problem::toString).containsExactly(
                        "auth_user: " + BackendSpec.AUTH_QUERY_CONFIG_ONLY,
                        "auth_query: " + BackendSpec.AUTH_QUERY_CONFIG_ONLY);
        assertThat(problems(auth(null, null, null, null, null, "pgbouncer", null))).containsExactly(
                "auth_user: applies only with auth: proxy (with auth: passthrough the backend authenticates the"
                        + " client)");
    }

    @Test
    void passwordsAreNeverRepeated() {
        String plain = "hunter2-never-shown";
        assertThat(problems(auth("proxy", plain, plain, null, null, null, null))).containsExactly(
                "password: " + BackendSpec.PLAIN_PASSWORD_REFUSED,
                "client_password: plain passwords are refused in the configuration; use `./pgmux passwd USER` to"
                        + " make a verifier");
        assertThat(problems(auth("proxy", "SCRAM-SHA-256$4096:" + plain, null, null, null, null, null)))
                .singleElement().asString().startsWith("client_password: malformed SCRAM-SHA-256 verifier")
                .doesNotContain(plain);
        assertThat(BackendSpec.PLAIN_PASSWORD_REFUSED).contains("password_env", "password_file", "./pgmux passwd");
        // The notation's own errors show it with the secret values hidden.
        assertThatThrownBy(() -> BackendSpec.fromNotation("db:x?password=" + plain + "&client_password=" + plain
                + "&sslmode=require")).hasMessage("bad port in backend db:x?password=***&client_password=***"
                + "&sslmode=require");
    }

    /** pgmux's environment and files are the config file's to name, not a routing service's or a table's. */
    @Test
    void onlyTheConfigFileNamesABackendPassword() {
        String refused = "a backend password is named in pgmux's config file only, not by a routing service or table";
        assertThat(auth("proxy", null, null, "PW", null, null, null).parse(Path::of).problems())
                .extracting(BackendSpec.Problem::toString).containsExactly("password_env: " + refused);
        assertThat(auth("proxy", null, null, null, "pw.txt", null, null).parse(Path::of).problems())
                .extracting(BackendSpec.Problem::toString).containsExactly("password_file: " + refused);
        assertThatThrownBy(() -> auth("proxy", null, null, "PW", null, null, null).toBackendConfig())
                .hasMessage("password_env: " + refused);
    }

    @Test
    void aTemplatesAuthenticationIsFixedText() {
        BackendSpec withPlaceholders = new BackendSpec("{h}", null, null, null, null, null, null, null, null, null,
                "{mode}", "{method}", "{verifier}", null, "{var}", "{file}", null, null);
        assertThat(withPlaceholders.parseTemplate(Path::of, ENV).problems()).extracting(BackendSpec.Problem::toString)
                .containsExactly("auth: takes fixed text in a rule, not {placeholders}",
                        "client_auth_method: takes fixed text in a rule, not {placeholders}",
                        "client_password: takes fixed text in a rule, not {placeholders}",
                        "password_env: takes fixed text in a rule, not {placeholders}",
                        "password_file: takes fixed text in a rule, not {placeholders}");

        BackendTemplate t = new BackendSpec("{h}", null, null, null, null, null, null, null, null, null, "proxy",
                null, VERIFIER, null, "PW", null, null, null).parseTemplate(Path::of, ENV).value();
        assertThat(t.password()).as("read with the config").isEqualTo(Secret.fromEnv("PW", ENV));
        assertThat(t.expand(Map.of("h", "db"))).isEqualTo(BackendConfig.builder().host("db").auth(AuthMode.PROXY)
                .clientCredential(VERIFIER).password(Secret.fromEnv("PW", ENV)).build());
        assertThat(t.toString()).doesNotContain("cGdtdXgt").contains("clientCredential=***, password=Secret[env:PW]");
    }

    /** A spec with {@code auth: proxy}, a client authentication method and a client credential. */
    static BackendSpec method(String auth, String method, String clientPassword) {
        return new BackendSpec("db", null, null, null, null, null, null, null, null, null, auth, method,
                clientPassword, null, null, null, null, null);
    }

    @Test
    void theClientAuthMethodByItsPgHbaName() {
        assertThat(method("proxy", null, VERIFIER).toBackendConfig().clientAuthMethod())
                .isEqualTo(ClientAuthMethod.SCRAM_SHA_256);
        assertThat(BackendSpec.fromNotation("db?auth=proxy&client_auth_method=cert").toBackendConfig()
                .clientAuthMethod()).isEqualTo(ClientAuthMethod.CERT);
        for (ClientAuthMethod m : ClientAuthMethod.values()) {
            assertThat(method("proxy", " " + m.configName().toUpperCase(java.util.Locale.ROOT) + " ", null)
                    .toBackendConfig().clientAuthMethod()).isEqualTo(m);
        }
        assertThat(problems(method("proxy", "peer", null))).containsExactly("client_auth_method: unknown"
                + " client_auth_method \"peer\" (scram-sha-256, md5, password, trust, cert)");
        assertThat(problems(method(null, "trust", null))).containsExactly("client_auth_method: applies only with"
                + " auth: proxy (with auth: passthrough the backend authenticates the client)");
    }

    /** An MD5 hash cannot answer SCRAM: the route says md5 (or password, trust, cert), or its clients never log in. */
    @Test
    void anMd5HashNeedsAMethodThatCanUseIt() {
        String md5 = "md5" + "4a0a68b43b6cd5cf266fa02f196e2371";
        assertThat(problems(method("proxy", null, md5))).containsExactly("client_password: "
                + BackendConfig.MD5_NEEDS_MD5_METHOD);
        assertThat(problems(method("proxy", "scram-sha-256", md5))).hasSize(1);
        assertThat(problems(method("proxy", "sha1", md5))).as("no second guess after a bad method")
                .singleElement().asString().startsWith("client_auth_method: unknown");
        for (String m : List.of("md5", "password", "trust", "cert")) {
            assertThat(method("proxy", m, md5).toBackendConfig().clientCredential()).isEqualTo(md5);
        }
    }

    // ---- pooling -----------------------------------------------------------------------------------------

    /** A spec with host "db", {@code auth}, {@code pool} and the pool keys of {@code keys}. */
    static BackendSpec pooled(String auth, String pool, Map<String, String> keys) {
        for (String key : keys.keySet()) {
            assertThat(BackendSpec.POOL_KEYS).as("a pool key").contains(key);
        }
        return new BackendSpec("db", null, null, null, null, null, null, null, null, null, auth, null, null, null,
                null, null, null, null, pool, keys.get("pool_size"), keys.get("min_pool_size"), keys.get("max_clients"),
                keys.get("server_idle_timeout"), keys.get("server_lifetime"), keys.get("query_wait_timeout"),
                keys.get("server_check_delay"), keys.get("on_session_state"), keys.get("server_reset_query"));
    }

    static BackendSpec pooled(String auth, String pool) {
        return pooled(auth, pool, Map.of());
    }

    static PoolConfig poolOf(BackendSpec spec) {
        return spec.parse(Path::of, ENV).orElseThrow().pool();
    }

    @Test
    void theNotationTakesThePoolKeysAsWritten() {
        BackendSpec s = BackendSpec.fromNotation("db?auth=proxy&pool=transaction&pool_size=8&min_pool_size=2"
                + "&max_clients=100&server_idle_timeout=5m&server_lifetime=1h&query_wait_timeout=30s"
                + "&server_check_delay=0&on_session_state=error&server_reset_query=DISCARD ALL&search_path=a");
        assertThat(s).isEqualTo(new BackendSpec("db", "5432", null, null, null, null, null, null, null,
                Map.of("search_path", "a"), "proxy", null, null, null, null, null, null, null, "transaction", "8", "2",
                "100", "5m", "1h", "30s", "0", "error", "DISCARD ALL"));
        assertThat(s.toBackendConfig().pool()).isEqualTo(new PoolConfig(PoolMode.TRANSACTION, 8, 2,
                Duration.ofMinutes(5), Duration.ofHours(1), Duration.ofSeconds(30), 100, SessionStatePolicy.ERROR,
                "DISCARD ALL", Duration.ZERO));
        assertThat(notation("db?auth=proxy&pool=session&pool_size=8").parameters()).as("not startup parameters")
                .isEmpty();
    }

    @Test
    void everyPoolKeyIsReadAndTheRestArePgBouncersDefaults() {
        assertThat(poolOf(pooled("proxy", "transaction", Map.of("pool_size", " 8 ", "min_pool_size", "2",
                "max_clients", "500", "server_idle_timeout", "1m30s", "server_lifetime", "0",
                "query_wait_timeout", "500ms", "server_check_delay", "10s", "on_session_state", "IGNORE",
                "server_reset_query", " RESET ALL ")))).isEqualTo(new PoolConfig(PoolMode.TRANSACTION, 8, 2,
                Duration.ofSeconds(90), Duration.ZERO, Duration.ofMillis(500), 500, SessionStatePolicy.IGNORE,
                "RESET ALL", Duration.ofSeconds(10)));
        PoolConfig session = poolOf(pooled("proxy", "Session"));
        assertThat(session).isEqualTo(PoolConfig.builder().mode(PoolMode.SESSION).build());
        assertThat(session.size()).isEqualTo(20);
        assertThat(session.minIdle()).isZero();
        assertThat(session.maxClients()).isZero();
        assertThat(session.idleTimeout()).isEqualTo(Duration.ofSeconds(600));
        assertThat(session.serverLifetime()).isEqualTo(Duration.ofSeconds(3600));
        assertThat(session.waitTimeout()).isEqualTo(Duration.ofSeconds(120));
        assertThat(session.checkAfterIdle()).isEqualTo(Duration.ofSeconds(30));
        assertThat(session.onSessionState()).isEqualTo(SessionStatePolicy.PIN);
        assertThat(session.resetQuery()).isEqualTo("DISCARD ALL");
    }

    @Test
    void withoutPoolARouteHasNoPooling() {
        assertThat(notation("db").pool()).isEqualTo(PoolConfig.NONE);
        assertThat(poolOf(pooled(null, null))).isEqualTo(PoolConfig.NONE);
        assertThat(poolOf(pooled(null, "none"))).isEqualTo(PoolConfig.NONE);
        for (String blank : Arrays.asList("", "  ")) {
            Map<String, String> keys = new HashMap<>();
            BackendSpec.POOL_KEYS.forEach(key -> keys.put(key, blank));
            keys.remove("server_reset_query");
            assertThat(poolOf(pooled(null, blank, keys))).as("blank: not set").isEqualTo(PoolConfig.NONE);
            assertThat(poolOf(pooled("proxy", "transaction", keys))).as("blank: not set")
                    .isEqualTo(PoolConfig.builder().mode(PoolMode.TRANSACTION).build());
        }
    }

    /** PgBouncer's meaning of an empty server_reset_query: run nothing. Only a missing one is DISCARD ALL. */
    @Test
    void anEmptyServerResetQueryRunsNothing() {
        assertThat(poolOf(pooled("proxy", "session", Map.of("server_reset_query", ""))).resetQuery()).isEmpty();
        assertThat(poolOf(pooled("proxy", "session", Map.of("server_reset_query", "  "))).resetQuery()).isEmpty();
        assertThat(notation("db?auth=proxy&pool=session&server_reset_query=").pool().resetQuery()).isEmpty();
        assertThat(notation("db?auth=proxy&pool=session").pool().resetQuery()).isEqualTo("DISCARD ALL");
        assertThat(poolOf(pooled(null, null, Map.of("server_reset_query", "")))).as("harmless without pooling")
                .isEqualTo(PoolConfig.NONE);
    }

    @Test
    void thePoolProblemsAreNamedByTheirKeys() {
        assertThat(problems(pooled("proxy", "statement"))).containsExactly(
                "pool: unknown pool \"statement\" (none, session, transaction)");
        assertThat(problems(pooled("proxy", "transaction", Map.of("pool_size", "many", "min_pool_size", "-1",
                "max_clients", "-5", "server_idle_timeout", "600", "server_lifetime", "soon",
                "query_wait_timeout", "0", "server_check_delay", "-1s", "on_session_state", "sometimes"))))
                .containsExactly(
                        "pool_size: must be a whole number, not \"many\"",
                        "min_pool_size: must be 0 or more, not -1",
                        "max_clients: must be 0 (no limit) or more, not -5",
                        "server_idle_timeout: duration \"600\" needs a unit: 600s, 600ms, 600m",
                        "server_lifetime: bad duration \"soon\" (e.g. 15s, 500ms, 2m, 1m30s)",
                        "query_wait_timeout: must be longer than 0: a client must not wait for a server connection"
                                + " forever",
                        "server_check_delay: bad duration \"-1s\" (e.g. 15s, 500ms, 2m, 1m30s)",
                        "on_session_state: unknown on_session_state \"sometimes\" (pin, error, ignore)");
        assertThat(problems(pooled("proxy", "session", Map.of("pool_size", "0")))).containsExactly(
                "pool_size: must be at least 1, not 0");
        assertThat(problems(pooled("proxy", "session", Map.of("pool_size", "1.5")))).containsExactly(
                "pool_size: must be a whole number, not \"1.5\"");
        assertThat(problems(pooled("proxy", "session", Map.of("pool_size", "4", "min_pool_size", "5"))))
                .containsExactly("min_pool_size: must be between 0 and pool_size (4), not 5");
        assertThat(problems(pooled("proxy", "session", Map.of("min_pool_size", "21")))).as("the default pool_size")
                .containsExactly("min_pool_size: must be between 0 and pool_size (20), not 21");
        assertThat(problems(pooled("proxy", "session", Map.of("pool_size", "0", "min_pool_size", "5"))))
                .as("no second guess after a bad pool_size").containsExactly("pool_size: must be at least 1, not 0");
    }

    /** Pooling needs auth: proxy, with BackendConfig's own message. */
    @Test
    void poolingNeedsAuthProxy() {
        assertThat(problems(pooled(null, "session"))).containsExactly("pool: pool session needs auth proxy: pgmux"
                + " logs in to pooled servers itself, so it must authenticate the clients");
        assertThat(problems(pooled("passthrough", "transaction"))).singleElement().asString()
                .startsWith("pool: pool transaction needs auth proxy");
        assertThatThrownBy(() -> BackendConfig.builder().host("db").pool(PoolConfig.builder().mode(PoolMode.SESSION)
                .build()).build()).hasMessage(problems(pooled(null, "session")).getFirst().substring("pool: ".length()));
        assertThat(problems(pooled("trust", "session"))).as("no second guess after a bad auth")
                .containsExactly("auth: unknown auth \"trust\" (passthrough, proxy)");
        assertThat(problems(pooled(null, "none"))).isEmpty();
    }

    /** A pool key beside no pooling is a forgotten pool:, not a setting to ignore. */
    @Test
    void thePoolKeysApplyOnlyWithPooling() {
        String only = "applies only with pool: session or transaction (without pooling each client has a server"
                + " connection of its own)";
        assertThat(problems(pooled("proxy", null, Map.of("pool_size", "8", "server_reset_query", "RESET ALL"))))
                .containsExactly("pool_size: " + only, "server_reset_query: " + only);
        assertThat(problems(pooled("proxy", "none", Map.of("on_session_state", "pin")))).containsExactly(
                "on_session_state: " + only);
        assertThat(problems(pooled("proxy", "session", Map.of("on_session_state", "error")))).containsExactly(
                "on_session_state: applies only with pool: transaction (with pool: session a client keeps its server"
                        + " connection until it leaves)");
        assertThat(problems(pooled("proxy", "sometimes", Map.of("pool_size", "8")))).as("no second guess after a"
                + " bad pool").containsExactly("pool: unknown pool \"sometimes\" (none, session, transaction)");
    }

    @Test
    void aTemplatesPoolIsFixedText() {
        BackendSpec withPlaceholders = new BackendSpec("{h}", null, null, null, null, null, null, null, null, null,
                "proxy", null, VERIFIER, null, null, null, null, null, "{mode}", "{n}", null, null, null, null, null,
                null, null, "{q}");
        assertThat(withPlaceholders.parseTemplate(Path::of, ENV).problems()).extracting(BackendSpec.Problem::toString)
                .containsExactly("pool: takes fixed text in a rule, not {placeholders}",
                        "pool_size: takes fixed text in a rule, not {placeholders}",
                        "server_reset_query: takes fixed text in a rule, not {placeholders}");

        BackendTemplate t = new BackendSpec("{h}", null, null, null, null, null, null, null, null, null, "proxy",
                null, VERIFIER, null, null, null, null, null, "transaction", "8", null, null, null, null, null, null,
                null, null).parseTemplate(Path::of, ENV).value();
        PoolConfig pool = PoolConfig.builder().mode(PoolMode.TRANSACTION).size(8).build();
        assertThat(t.pool()).isEqualTo(pool);
        assertThat(t.expand(Map.of("h", "db"))).isEqualTo(BackendConfig.builder().host("db").auth(AuthMode.PROXY)
                .clientCredential(VERIFIER).pool(pool).build());
        assertThat(new BackendSpec("{h}", null, null, null, null, null, null, null, null, null, null, null, null,
                null, null, null, null, null, "session", null, null, null, null, null, null, null, null, null)
                .parseTemplate(Path::of, ENV).problems()).extracting(BackendSpec.Problem::toString)
                .containsExactly("pool: pool session needs auth proxy: pgmux logs in to pooled servers itself, so it"
                        + " must authenticate the clients");
    }
}
