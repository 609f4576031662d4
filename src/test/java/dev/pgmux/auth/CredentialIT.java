package dev.pgmux.auth;

import static org.assertj.core.api.Assertions.assertThat;

import dev.pgmux.embedded.LocalPostgres;
import dev.pgmux.testing.TestServers;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The verifiers and MD5 hashes pgmux computes are the ones PostgreSQL stores for the same password: each password
 * below is set on a role of a real server, and its {@code rolpassword} is compared with what pgmux makes of the same
 * password, salt and iteration count. The passwords walk through {@code pg_saslprep}'s cases, PostgreSQL's
 * departures from RFC 4013 included.
 */
class CredentialIT {

    /** Passwords, by what they exercise. */
    static final Map<String, String> PASSWORDS = new LinkedHashMap<>();

    static {
        PASSWORDS.put("ascii", "pencil");
        PASSWORDS.put("ascii with control characters, kept as they are", "a\tb\u0001c");
        PASSWORDS.put("non-ASCII, already normal", "p\u00e4ssw\u00f6rd");
        PASSWORDS.put("combining mark, composed by NFKC", "pa\u0308ss");
        PASSWORDS.put("ligature, decomposed by NFKC", "\ufb01x\u2161");
        PASSWORDS.put("mapped to nothing (soft hyphen)", "a\u00adb\u00e9");
        PASSWORDS.put("non-ASCII spaces, mapped to SPACE", "\u00a0space\u2003\u200b\u00e9");
        PASSWORDS.put("only a character mapped to nothing: raw bytes", "\u00ad");
        PASSWORDS.put("control character with non-ASCII: raw bytes", "a\u0007\u00e9");
        PASSWORDS.put("prohibited before NFKC, not after (U+0340): raw bytes", "a\u0340");
        PASSWORDS.put("unassigned in Unicode 3.2: raw bytes", "\u0221x");
        PASSWORDS.put("right-to-left, well formed", "\u05d0\u05d1\u05d2");
        PASSWORDS.put("right-to-left ending in a digit: raw bytes", "\u0627\u0031");
        PASSWORDS.put("right-to-left with left-to-right: raw bytes", "\u0627a\u0627");
        PASSWORDS.put("private use: raw bytes", "x\ue000");
        PASSWORDS.put("outside the BMP", "\ud83d\udd11key");
    }

    /** Major versions, not the servers: JUnit closes AutoCloseable arguments, and these are shared. */
    static Stream<String> servers() {
        return Stream.of("17", "18");
    }

    static LocalPostgres server(String version) {
        return version.equals("17") ? TestServers.pg17() : TestServers.pg18();
    }

    @ParameterizedTest(name = "PostgreSQL {0}")
    @MethodSource("servers")
    void scramVerifiersAreThoseThatPostgresStores(String version) throws SQLException {
        LocalPostgres pg = server(version);
        List<String> names = new ArrayList<>();
        List<String> statements = new ArrayList<>(List.of("SET password_encryption = 'scram-sha-256'"));
        int i = 0;
        for (String password : PASSWORDS.values()) {
            String role = "credential_it_scram_" + i++;
            names.add(role);
            statements.add("DROP ROLE IF EXISTS " + role);
            statements.add("CREATE ROLE " + role + " PASSWORD '" + password + "'");
        }
        pg.execute("postgres", statements.toArray(String[]::new));

        i = 0;
        for (Map.Entry<String, String> e : PASSWORDS.entrySet()) {
            String stored = rolpassword(pg, names.get(i++));
            ScramVerifier parsed = ScramVerifier.parse(stored);

            assertThat(parsed.text()).as(e.getKey()).isEqualTo(stored);
            assertThat(parsed.iterations()).isEqualTo(4096);
            assertThat(parsed.salt()).hasSize(16);
            ScramVerifier computed = ScramVerifier.fromPassword(e.getValue().toCharArray(), parsed.salt(),
                    parsed.iterations());
            assertThat(computed.text()).as(e.getKey()).isEqualTo(stored);
            assertThat(parsed.matches(e.getValue().toCharArray())).as(e.getKey()).isTrue();
            assertThat(parsed.matches((e.getValue() + "x").toCharArray())).as(e.getKey()).isFalse();
            assertThat(Credential.parse(stored)).isEqualTo(parsed);
        }
    }

    @ParameterizedTest(name = "PostgreSQL {0}")
    @MethodSource("servers")
    void md5HashesAreThoseThatPostgresStores(String version) throws SQLException {
        LocalPostgres pg = server(version);
        pg.execute("postgres", "SET password_encryption = 'md5'",
                "DROP ROLE IF EXISTS credential_it_md5",
                "CREATE ROLE credential_it_md5 PASSWORD 'p\u00e4ss'");

        String stored = rolpassword(pg, "credential_it_md5");

        assertThat(Md5Hash.of("p\u00e4ss", "credential_it_md5")).isEqualTo(stored);
        assertThat(Credential.parse(stored)).isEqualTo(new Md5Hash(stored));
    }

    @ParameterizedTest(name = "PostgreSQL {0}")
    @MethodSource("servers")
    void aServerTakesTheVerifierPgmuxMakes(String version) throws SQLException {
        LocalPostgres pg = server(version);
        // the other way round: a verifier made here, stored as it is, lets the password in
        String password = "pa\u0308ss \u00e9";
        String verifier = ScramVerifier.generate(password.toCharArray()).text();
        pg.execute("postgres", "DROP ROLE IF EXISTS credential_it_login",
                "CREATE ROLE credential_it_login LOGIN PASSWORD '" + verifier + "'");
        assertThat(rolpassword(pg, "credential_it_login")).isEqualTo(verifier);

        try (Connection c = pg.connect("postgres", "credential_it_login", password);
             Statement st = c.createStatement(); ResultSet rs = st.executeQuery("SELECT current_user")) {
            assertThat(rs.next()).isTrue();
            assertThat(rs.getString(1)).isEqualTo("credential_it_login");
        }
    }

    static String rolpassword(LocalPostgres pg, String role) throws SQLException {
        try (Connection c = pg.connect("postgres", TestServers.SUPERUSER, TestServers.SUPERUSER_PASSWORD);
             PreparedStatement st = c.prepareStatement("SELECT rolpassword FROM pg_authid WHERE rolname = ?")) {
            st.setString(1, role);
            try (ResultSet rs = st.executeQuery()) {
                assertThat(rs.next()).isTrue();
                return rs.getString(1);
            }
        }
    }
}
