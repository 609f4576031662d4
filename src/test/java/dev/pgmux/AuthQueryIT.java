package dev.pgmux;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.pgmux.embedded.LocalPostgres;
import dev.pgmux.testing.TestServers;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.postgresql.util.PSQLException;

/**
 * PgBouncer's auth_user and auth_query end to end: pgmux looks the client's SCRAM verifier up in the backend (the
 * default query on pg_shadow as a superuser, or a SECURITY DEFINER function a plain auth_user may execute), checks
 * the client's proof itself, then logs in to the backend with the ClientKey the proof revealed: no client password
 * and no backend password stored at pgmux. pgjdbc in front, the shared PostgreSQL 17 behind; the roles and the
 * functions are this class's own ({@code aq_} names).
 */
class AuthQueryIT {
    static final String LOOKUP = "aq_lookup";
    static final String LOOKUP_PW = "aq_lookup_pw";
    static final String FUNCTION_QUERY = "SELECT usename, passwd FROM aq_auth.get_auth($1)";
    static final String OUTAGE_QUERY = "SELECT usename, passwd FROM aq_auth.get_auth_outage($1)";

    static LocalPostgres pg;
    static Path authFile;
    static final List<ProxyServer> proxies = new ArrayList<>();
    @TempDir
    static Path dir;

    @BeforeAll
    static void setUp() throws Exception {
        pg = TestServers.pg17();
        superuser("DROP FUNCTION IF EXISTS aq_auth.get_auth(text)",
                "DROP FUNCTION IF EXISTS aq_auth.get_auth_outage(text)",
                "DROP SCHEMA IF EXISTS aq_auth",
                "DROP ROLE IF EXISTS " + LOOKUP,
                "CREATE ROLE " + LOOKUP + " LOGIN PASSWORD '" + LOOKUP_PW + "'",
                "CREATE SCHEMA aq_auth",
                "GRANT USAGE ON SCHEMA aq_auth TO " + LOOKUP);
        for (String f : List.of("get_auth", "get_auth_outage")) {
            superuser("CREATE FUNCTION aq_auth." + f + "(p_usename text) RETURNS TABLE(usename name, passwd text)"
                            + " LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog"
                            + " AS 'SELECT usename, passwd FROM pg_shadow WHERE usename = p_usename'",
                    "REVOKE ALL ON FUNCTION aq_auth." + f + "(text) FROM PUBLIC",
                    "GRANT EXECUTE ON FUNCTION aq_auth." + f + "(text) TO " + LOOKUP);
        }
        for (String user : List.of("aq_ann", "aq_ben", "aq_cy", "aq_dee", "aq_eve", "aq_fay", "aq_gus")) {
            superuser("DROP ROLE IF EXISTS " + user, "CREATE ROLE " + user + " LOGIN PASSWORD '" + user + "_pw'");
        }
        // Only the auth users' passwords: the clients' credentials are in the backend.
        authFile = Files.writeString(dir.resolve("userlist.txt"), "\"" + TestServers.SUPERUSER + "\" \""
                + TestServers.SUPERUSER_PASSWORD + "\"\n\"" + LOOKUP + "\" \"" + LOOKUP_PW + "\"\n\"" + TestServers.ALICE
                + "\" \"not alice's password\"\n");
    }

    @AfterAll
    static void tearDown() {
        proxies.forEach(p -> p.close(Duration.ofSeconds(2)));
    }

    static void superuser(String... sql) throws SQLException {
        try (Connection c = DriverManager.getConnection(pg.jdbcUrl("postgres"), TestServers.SUPERUSER,
                TestServers.SUPERUSER_PASSWORD); Statement s = c.createStatement()) {
            for (String q : sql) {
                s.execute(q);
            }
        }
    }

    /** A proxy whose routes look credentials up: aq_ann by the default query, everyone else by a function. */
    static ProxyServer proxy(Duration ttl, String query) throws Exception {
        BackendConfig.Builder lookUp = BackendConfig.builder().host(pg.host()).port(pg.port()).auth(AuthMode.PROXY);
        StaticRouter router = StaticRouter.empty()
                .put("aq_ann", lookUp.authUser(TestServers.SUPERUSER).authQuery(null).build())
                .withFallback(lookUp.authUser(LOOKUP).authQuery(query).build());
        ProxyServer proxy = new ProxyServer("127.0.0.1:0", router).withAuthFile(authFile)
                .withLimits(Limits.DEFAULT.withBackendConnectTimeout(Duration.ofSeconds(2))
                        .withAuthQueryCacheTtl(ttl))
                .start();
        proxies.add(proxy);
        return proxy;
    }

    static Connection connect(ProxyServer proxy, String user, String password) throws SQLException {
        Properties p = new Properties();
        p.setProperty("user", user);
        p.setProperty("password", password);
        p.setProperty("sslmode", "disable");
        p.setProperty("connectTimeout", "10");
        return DriverManager.getConnection("jdbc:postgresql://127.0.0.1:" + proxy.port() + "/postgres", p);
    }

    /** Logs in through {@code proxy} and returns the user the backend says it is. */
    static String currentUser(ProxyServer proxy, String user, String password) throws SQLException {
        try (Connection c = connect(proxy, user, password); Statement s = c.createStatement();
             ResultSet rs = s.executeQuery("select current_user, 6 * 7")) {
            assertThat(rs.next()).isTrue();
            assertThat(rs.getInt(2)).isEqualTo(42);
            return rs.getString(1);
        }
    }

    static PSQLException refusal(ProxyServer proxy, String user, String password) {
        Throwable e = org.assertj.core.api.Assertions.catchThrowable(() -> connect(proxy, user, password).close());
        assertThat(e).isInstanceOf(PSQLException.class);
        return (PSQLException) e;
    }

    @Test
    void theDefaultQueryAsASuperuserAndAFunctionAsAPlainUser() throws Exception {
        ProxyServer proxy = proxy(Duration.ofSeconds(60), FUNCTION_QUERY);
        assertThat(currentUser(proxy, "aq_ann", "aq_ann_pw")).isEqualTo("aq_ann");
        assertThat(currentUser(proxy, "aq_ben", "aq_ben_pw")).isEqualTo("aq_ben");
        // again, from the cache
        assertThat(currentUser(proxy, "aq_ben", "aq_ben_pw")).isEqualTo("aq_ben");
    }

    @Test
    void aWrongPasswordAndAnUnknownUserGet28P01() throws Exception {
        ProxyServer proxy = proxy(Duration.ofSeconds(60), FUNCTION_QUERY);
        PSQLException wrong = refusal(proxy, "aq_ben", "not_the_pw");
        assertThat(wrong.getSQLState()).isEqualTo("28P01");
        assertThat(wrong.getServerErrorMessage().getMessage())
                .isEqualTo("password authentication failed for user \"aq_ben\"");
        PSQLException unknown = refusal(proxy, "aq_nobody", "anything");
        assertThat(unknown.getSQLState()).isEqualTo("28P01");
        assertThat(unknown.getServerErrorMessage().getMessage())
                .isEqualTo("password authentication failed for user \"aq_nobody\"");
        // a failed login evicts nothing
        assertThat(currentUser(proxy, "aq_ben", "aq_ben_pw")).isEqualTo("aq_ben");
    }

    @Test
    void duringAnOutageACachedAnswerStandsAndAnUnknownOneGets08006() throws Exception {
        ProxyServer proxy = proxy(Duration.ofSeconds(60), OUTAGE_QUERY);
        assertThat(currentUser(proxy, "aq_cy", "aq_cy_pw")).isEqualTo("aq_cy");
        superuser("REVOKE EXECUTE ON FUNCTION aq_auth.get_auth_outage(text) FROM " + LOOKUP);
        try {
            assertThat(currentUser(proxy, "aq_cy", "aq_cy_pw")).as("cached within the TTL").isEqualTo("aq_cy");
            // a failed proof has the next login ask again; the query fails, the answer within its TTL stands
            assertThat(refusal(proxy, "aq_cy", "wrong").getSQLState()).isEqualTo("28P01");
            assertThat(currentUser(proxy, "aq_cy", "aq_cy_pw")).isEqualTo("aq_cy");
            long start = System.nanoTime();
            PSQLException never = refusal(proxy, "aq_dee", "aq_dee_pw");
            assertThat(never.getSQLState()).isEqualTo("08006");
            assertThat(never.getServerErrorMessage().getMessage())
                    .isEqualTo("pgmux could not look up the credentials of user \"aq_dee\"");
            assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(8));
        } finally {
            superuser("GRANT EXECUTE ON FUNCTION aq_auth.get_auth_outage(text) TO " + LOOKUP);
        }
        assertThat(currentUser(proxy, "aq_dee", "aq_dee_pw")).isEqualTo("aq_dee");
    }

    @Test
    void theQueryRunsOnTheFirstHostThatAnswers() throws Exception {
        int closed;
        try (java.net.ServerSocket s = new java.net.ServerSocket(0)) {
            closed = s.getLocalPort();
        }
        StaticRouter router = StaticRouter.empty().withFallback(BackendConfig.builder().addHost("127.0.0.1", closed)
                .addHost(pg.host(), pg.port()).auth(AuthMode.PROXY).authUser(LOOKUP).authQuery(FUNCTION_QUERY).build());
        ProxyServer proxy = new ProxyServer("127.0.0.1:0", router).withAuthFile(authFile)
                .withLimits(Limits.DEFAULT.withBackendConnectTimeout(Duration.ofSeconds(2))).start();
        proxies.add(proxy);
        assertThat(currentUser(proxy, "aq_gus", "aq_gus_pw")).isEqualTo("aq_gus");
    }

    @Test
    void aWrongAuthUserPasswordGets08006() throws Exception {
        StaticRouter router = StaticRouter.empty().withFallback(BackendConfig.builder().host(pg.host()).port(pg.port())
                .auth(AuthMode.PROXY).authUser(TestServers.ALICE).build());
        ProxyServer proxy = new ProxyServer("127.0.0.1:0", router).withAuthFile(authFile)
                .withLimits(Limits.DEFAULT.withBackendConnectTimeout(Duration.ofSeconds(2))).start();
        proxies.add(proxy);
        PSQLException e = refusal(proxy, "aq_gus", "aq_gus_pw");
        assertThat(e.getSQLState()).isEqualTo("08006");
        assertThat(e.getServerErrorMessage().getMessage())
                .isEqualTo("pgmux could not look up the credentials of user \"aq_gus\"");
    }

    @Test
    void aUserOfTheAuthFileIsCheckedAgainstItsLineAsByPgBouncer() throws Exception {
        ProxyServer proxy = proxy(Duration.ofSeconds(60), FUNCTION_QUERY);
        // alice's line in the auth file is not her server password: the file wins, the backend is not asked
        assertThat(refusal(proxy, TestServers.ALICE, TestServers.ALICE_PASSWORD).getSQLState()).isEqualTo("28P01");
        assertThat(currentUser(proxy, LOOKUP, LOOKUP_PW)).isEqualTo(LOOKUP);
    }

    @Test
    void aTtlOfZeroAsksAtEveryLogin() throws Exception {
        ProxyServer proxy = proxy(Duration.ZERO, FUNCTION_QUERY);
        assertThat(currentUser(proxy, "aq_eve", "aq_eve_pw")).isEqualTo("aq_eve");
        superuser("ALTER ROLE aq_eve PASSWORD 'aq_eve_new'");
        assertThat(currentUser(proxy, "aq_eve", "aq_eve_new")).isEqualTo("aq_eve");
        assertThat(refusal(proxy, "aq_eve", "aq_eve_pw").getSQLState()).isEqualTo("28P01");
    }

    @Test
    void aChangedPasswordIsAskedForAgainAfterOneRefusal() throws Exception {
        ProxyServer proxy = proxy(Duration.ofSeconds(60), FUNCTION_QUERY);
        assertThat(currentUser(proxy, "aq_fay", "aq_fay_pw")).isEqualTo("aq_fay");
        superuser("ALTER ROLE aq_fay PASSWORD 'aq_fay_new'");
        // the cached verifier is the old one: this proof fails, and marks it to be asked for again
        assertThat(refusal(proxy, "aq_fay", "aq_fay_new").getSQLState()).isEqualTo("28P01");
        assertThat(currentUser(proxy, "aq_fay", "aq_fay_new")).isEqualTo("aq_fay");
        assertThat(refusal(proxy, "aq_fay", "aq_fay_pw").getSQLState()).isEqualTo("28P01");
    }
}
