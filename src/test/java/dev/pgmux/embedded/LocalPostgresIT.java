package dev.pgmux.embedded;

import static dev.pgmux.testing.TestServers.ALICE;
import static dev.pgmux.testing.TestServers.ALICE_PASSWORD;
import static dev.pgmux.testing.TestServers.CLEAR_PASSWORD;
import static dev.pgmux.testing.TestServers.CLEAR_USER;
import static dev.pgmux.testing.TestServers.LAB;
import static dev.pgmux.testing.TestServers.MD5_PASSWORD;
import static dev.pgmux.testing.TestServers.MD5_USER;
import static dev.pgmux.testing.TestServers.TRUST_USER;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.pgmux.testing.TestCerts;
import dev.pgmux.testing.TestServers;
import java.nio.file.Files;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.Properties;
import java.util.function.Supplier;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** The harness itself: servers start (also when the JVM is root) and each login method is the one configured. */
class LocalPostgresIT {

    static Stream<Arguments> servers() {
        return Stream.of(
                Arguments.of(TestServers.PG17, (Supplier<LocalPostgres>) TestServers::pg17),
                Arguments.of(TestServers.PG17B, (Supplier<LocalPostgres>) TestServers::pg17b),
                Arguments.of(TestServers.PG18, (Supplier<LocalPostgres>) TestServers::pg18));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("servers")
    void eachUserLogsInWithItsOwnMethod(String name, Supplier<LocalPostgres> server) throws SQLException {
        LocalPostgres pg = server.get();
        // system_user is "method:identity" — proof of which hba line and method the server applied.
        assertThat(login(pg, "postgres", ALICE, ALICE_PASSWORD)).containsExactly(ALICE, "scram-sha-256:alice");
        assertThat(login(pg, "postgres", MD5_USER, MD5_PASSWORD)).containsExactly(MD5_USER, "md5:md5_user");
        assertThat(login(pg, "postgres", CLEAR_USER, CLEAR_PASSWORD)).containsExactly(CLEAR_USER, "password:clear_user");
        assertThat(login(pg, "postgres", TRUST_USER, null)).containsExactly(TRUST_USER, null);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("servers")
    void md5UserHasAnMd5StoredPassword(String name, Supplier<LocalPostgres> server) throws SQLException {
        LocalPostgres pg = server.get();
        try (Connection c = pg.connect("postgres", TestServers.SUPERUSER, TestServers.SUPERUSER_PASSWORD)) {
            assertThat(query(c, "SELECT left(rolpassword, 3) FROM pg_authid WHERE rolname = 'md5_user'")).isEqualTo("md5");
            assertThat(query(c, "SELECT left(rolpassword, 13) FROM pg_authid WHERE rolname = 'alice'"))
                    .isEqualTo("SCRAM-SHA-256");
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("servers")
    void whoamiNamesTheServerInBothDatabases(String name, Supplier<LocalPostgres> server) throws SQLException {
        LocalPostgres pg = server.get();
        for (String database : new String[] {"postgres", LAB}) {
            try (Connection c = pg.connect(database, ALICE, ALICE_PASSWORD)) {
                assertThat(query(c, "SELECT server FROM whoami")).isEqualTo(name);
            }
        }
        try (Connection c = pg.connect(LAB, ALICE, ALICE_PASSWORD)) {
            assertThat(query(c, "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = 'lab'")).isEqualTo(ALICE);
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("servers")
    void tlsIsOnAndVerifiesAgainstTheTestCa(String name, Supplier<LocalPostgres> server) throws SQLException {
        LocalPostgres pg = server.get();
        Properties props = new Properties();
        props.setProperty("user", ALICE);
        props.setProperty("password", ALICE_PASSWORD);
        props.setProperty("sslmode", "verify-full");
        props.setProperty("sslrootcert", TestCerts.caCert().toString());
        try (Connection c = DriverManager.getConnection(pg.jdbcUrl("postgres"), props)) {
            assertThat(query(c, "SHOW ssl")).isEqualTo("on");
            assertThat(query(c, "SELECT ssl::text FROM pg_stat_ssl WHERE pid = pg_backend_pid()")).isEqualTo("true");
        }
    }

    @Test
    void versionsAreTheRequestedOnes() throws SQLException {
        assertThat(TestServers.pg17().version()).startsWith("17.");
        assertThat(TestServers.pg18().version()).startsWith("18.");
        try (Connection c = TestServers.pg18().connect("postgres", ALICE, ALICE_PASSWORD)) {
            assertThat(Integer.parseInt(query(c, "SHOW server_version_num"))).isBetween(180000, 189999);
        }
        assertThat(TestServers.pg17().port()).isNotEqualTo(TestServers.pg17b().port());
    }

    @Test
    void wrongPasswordIsRefused() {
        assertThatThrownBy(() -> TestServers.pg17().connect("postgres", ALICE, "wrong").close())
                .isInstanceOfSatisfying(SQLException.class, e -> assertThat(e.getSQLState()).isEqualTo("28P01"));
    }

    @Test
    void stopRestartKillAndClose() throws SQLException {
        LocalPostgres pg = LocalPostgres.builder()
                .version("17")
                .superuserPassword("secret")
                .user("carol", "carol_pw", "scram-sha-256")
                .setting("max_connections", "42")
                .start();
        try {
            int port = pg.port();
            pg.execute("postgres", "CREATE TABLE kept(v int)", "INSERT INTO kept VALUES (7)");
            try (Connection c = pg.connect("postgres", "carol", "carol_pw")) {
                assertThat(query(c, "SHOW max_connections")).isEqualTo("42");
            }

            pg.restart();
            assertThat(pg.port()).isEqualTo(port);
            try (Connection c = pg.connect("postgres", "postgres", "secret")) {
                assertThat(query(c, "SELECT v::text FROM kept")).isEqualTo("7");
            }

            try (Connection open = pg.connect("postgres", "carol", "carol_pw")) {
                pg.kill();
                assertThat(pg.isRunning()).isFalse();
                assertThatThrownBy(() -> query(open, "SELECT 1")).isInstanceOf(SQLException.class);
            }
            assertThatThrownBy(() -> pg.connect("postgres", "carol", "carol_pw").close())
                    .isInstanceOf(SQLException.class);

            pg.restart(); // crash recovery
            assertThat(pg.port()).isEqualTo(port);
            try (Connection c = pg.connect("postgres", "postgres", "secret")) {
                assertThat(query(c, "SELECT v::text FROM kept")).isEqualTo("7");
            }

            pg.stop();
            assertThat(pg.isRunning()).isFalse();
            assertThat(Files.exists(pg.dataDir())).isTrue();
        } finally {
            pg.close();
        }
        assertThat(Files.exists(pg.dataDir())).isFalse();
    }

    private static String[] login(LocalPostgres pg, String database, String user, String password) throws SQLException {
        try (Connection c = pg.connect(database, user, password);
             Statement st = c.createStatement();
             ResultSet rs = st.executeQuery("SELECT current_user, system_user")) {
            rs.next();
            return new String[] {rs.getString(1), rs.getString(2)};
        }
    }

    private static String query(Connection c, String sql) throws SQLException {
        try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery(sql)) {
            rs.next();
            return rs.getString(1);
        }
    }
}
