package dev.pgmux.auth;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.ongres.scram.common.ScramFunctions;
import com.ongres.scram.common.ScramMechanism;
import com.ongres.scram.common.StringPreparation;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.HexFormat;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Credentials in PostgreSQL's formats: SCRAM verifiers read and computed as PostgreSQL does (checked against
 * verifiers a PostgreSQL 17 server stored; {@code CredentialIT} asks live servers), MD5 hashes and responses, and
 * the auth-file forms. No message or {@code toString()} shows a key or a password.
 */
class CredentialTest {
    /** {@code CREATE ROLE ... PASSWORD 'pencil'} on PostgreSQL 17.7, from pg_authid.rolpassword. */
    static final String PENCIL = "SCRAM-SHA-256$4096:dXOJQo8YXMUpQ2sS+cK/vg=="
            + "$4deXoC6pqP7PcQBuhYfWPm0Qc6fmT9n3KBctaVJIAAk=:8my1HbB9oemyybnznhkBBxnwxQ1k9IdJs1gPX3ueWUE=";
    /** The same for 'a' + U+0340: prohibited before NFKC (not after), so PostgreSQL hashes the raw bytes. */
    static final String A_U0340 = "SCRAM-SHA-256$4096:R7frkEVr+PnYztvTmrsN3Q=="
            + "$gs4aMx1oW3ALGyPmbXAyWdgQm6/9vorMp9JaBbzCxho=:pjXr0B3g3OgUA45gH/2Ea4JQwnEqF8hy4ilnr1QRf/o=";
    /** The same for U+00AD alone: it maps to nothing, an empty password, so PostgreSQL hashes the raw bytes. */
    static final String SOFT_HYPHEN = "SCRAM-SHA-256$4096:5vugwTourSFEQvAR67Iz4g=="
            + "$ZlC/sqXPpiLUuDF2JolRou+ud9S3ow5uL2b2ViSsYh8=:nrnrPc0ww2jzuqsDBRzRWF9yOarHyx6/z2aKHTgNyi8=";

    @Test
    void aVerifierPostgresStoredParsesAndChecksItsPassword() {
        ScramVerifier v = ScramVerifier.parse(PENCIL);

        assertThat(v.iterations()).isEqualTo(4096);
        assertThat(v.salt()).isEqualTo(Base64.getDecoder().decode("dXOJQo8YXMUpQ2sS+cK/vg=="));
        assertThat(v.text()).isEqualTo(PENCIL);
        assertThat(v.matches("pencil".toCharArray())).isTrue();
        assertThat(v.matches("pencil ".toCharArray())).isFalse();
        assertThat(ScramVerifier.fromPassword("pencil".toCharArray(), v.salt(), 4096)).isEqualTo(v);
        assertThat(ScramVerifier.fromPassword("pencil".toCharArray(), v.salt(), 4096).text()).isEqualTo(PENCIL);
        assertThat(ScramVerifier.isVerifier(PENCIL)).isTrue();
    }

    @Test
    void passwordsThatSaslprepRefusesAreHashedRawAsPostgresDoes() {
        ScramVerifier u0340 = ScramVerifier.parse(A_U0340);
        assertThat(ScramVerifier.fromPassword("a\u0340".toCharArray(), u0340.salt(), 4096).text()).isEqualTo(A_U0340);
        ScramVerifier softHyphen = ScramVerifier.parse(SOFT_HYPHEN);
        assertThat(ScramVerifier.fromPassword("\u00ad".toCharArray(), softHyphen.salt(), 4096).text())
                .isEqualTo(SOFT_HYPHEN);
        assertThat(SaslPrep.prepare("\u00ad".getBytes(StandardCharsets.UTF_8))).isNull();
        assertThat(SaslPrep.prepare("a\u0340".getBytes(StandardCharsets.UTF_8))).isNull();
        // a password that is not UTF-8 (LATIN1 "pässe") is hashed as its bytes
        byte[] latin1 = "p\u00e4sse".getBytes(StandardCharsets.ISO_8859_1);
        assertThat(SaslPrep.prepare(latin1)).isNull();
        byte[] salt = new byte[16];
        assertThat(ScramVerifier.fromPassword(latin1, salt, 1).storedKey()).isEqualTo(storedKey(latin1, salt, 1));
    }

    @ParameterizedTest
    @ValueSource(strings = {"pencil", "p\u00e4ssw\u00f6rd", "pa\u0308ss", "\ufb01x", "a\u00adb\u00e9", "x\u00a0y\u00e9",
        "\u05d0\u05d1", "a\u0007\u00e9", "\u0627\u0031"})
    void likeTheLibraryWhereTheLibraryIsLikePostgres(String password) {
        // com.ongres.scram's POSTGRESQL_PREPARATION agrees with pg_saslprep outside the cases tested above
        byte[] salt = Crypto.random(16);
        byte[] salted = ScramFunctions.saltedPassword(ScramMechanism.SCRAM_SHA_256,
                StringPreparation.POSTGRESQL_PREPARATION, password.toCharArray(), salt, 4096);
        ScramVerifier v = ScramVerifier.fromPassword(password.toCharArray(), salt, 4096);

        assertThat(v.serverKey()).isEqualTo(ScramFunctions.serverKey(ScramMechanism.SCRAM_SHA_256, salted));
        assertThat(v.storedKey()).isEqualTo(ScramFunctions.storedKey(ScramMechanism.SCRAM_SHA_256,
                ScramFunctions.clientKey(ScramMechanism.SCRAM_SHA_256, salted)));
    }

    @Test
    void generateUsesPostgresDefaults() {
        ScramVerifier a = ScramVerifier.generate("pencil".toCharArray());
        ScramVerifier b = ScramVerifier.generate("pencil".toCharArray());

        assertThat(a.iterations()).isEqualTo(4096);
        assertThat(a.salt()).hasSize(16).isNotEqualTo(b.salt());
        assertThat(a.matches("pencil".toCharArray())).isTrue();
        assertThat(ScramVerifier.parse(a.text())).isEqualTo(a);
    }

    @Test
    void nothingSecretPrints() {
        ScramVerifier v = ScramVerifier.parse(PENCIL);
        assertThat(v.toString()).isEqualTo("ScramVerifier[SCRAM-SHA-256, iterations=4096]");
        String md5 = Md5Hash.of("pencil", "user");
        assertThat(new Md5Hash(md5).toString()).doesNotContain(md5.substring(3, 10));
        assertThat(new PlainPassword("pencil".toCharArray()).toString()).doesNotContain("pencil");
    }

    @ParameterizedTest
    @ValueSource(strings = {
        "SCRAM-SHA-256$4096:dXOJQo8YXMUpQ2sS+cK/vg==",
        "SCRAM-SHA-256$4096:dXOJQo8YXMUpQ2sS+cK/vg==$4deXoC6pqP7PcQBuhYfWPm0Qc6fmT9n3KBctaVJIAAk=",
        "SCRAM-SHA-256$:dXOJQo8YXMUpQ2sS+cK/vg==$4deXoC6pqP7PcQBuhYfWPm0Qc6fmT9n3KBctaVJIAAk=:AAAA",
        "SCRAM-SHA-256$0:dXOJQo8YXMUpQ2sS+cK/vg==$4deXoC6pqP7PcQBuhYfWPm0Qc6fmT9n3KBctaVJIAAk=:AAAA",
        "SCRAM-SHA-256$-1:dXOJQo8YXMUpQ2sS+cK/vg==$4deXoC6pqP7PcQBuhYfWPm0Qc6fmT9n3KBctaVJIAAk=:AAAA",
        "SCRAM-SHA-256$2147483647:dXOJQo8YXMUpQ2sS+cK/vg==$4deXoC6pqP7PcQBuhYfWPm0Qc6fmT9n3KBctaVJIAAk="
                + ":8my1HbB9oemyybnznhkBBxnwxQ1k9IdJs1gPX3ueWUE=",
        "SCRAM-SHA-256$99999999999999:dXOJQo8YXMUpQ2sS+cK/vg==$4deXoC6pqP7PcQBuhYfWPm0Qc6fmT9n3KBctaVJIAAk="
                + ":8my1HbB9oemyybnznhkBBxnwxQ1k9IdJs1gPX3ueWUE=",
        "SCRAM-SHA-256$4096:dXOJ Qo8YXMUpQ2sS+cK/vg==$4deXoC6pqP7PcQBuhYfWPm0Qc6fmT9n3KBctaVJIAAk="
                + ":8my1HbB9oemyybnznhkBBxnwxQ1k9IdJs1gPX3ueWUE=",
        "SCRAM-SHA-256$4096:$4deXoC6pqP7PcQBuhYfWPm0Qc6fmT9n3KBctaVJIAAk=:8my1HbB9oemyybnznhkBBxnwxQ1k9IdJs1gPX3ueWUE=",
        "SCRAM-SHA-256$4096:dXOJQo8YXMUpQ2sS+cK/vg==$4deXoC6pqP7PcQBuhYfWPm0Qc6fmT9n3KBctaVJI:"
                + "8my1HbB9oemyybnznhkBBxnwxQ1k9IdJs1gPX3ueWUE=",
        "SCRAM-SHA-256$4096:dXOJQo8YXMUpQ2sS+cK/vg==$4deXoC6pqP7PcQBuhYfWPm0Qc6fmT9n3KBctaVJIAAk="
                + ":8my1HbB9oemyybnznhkBBxnwxQ1k9IdJs1gPX3ueWUE=:extra",
        "SCRAM-SHA-1$4096:dXOJQo8YXMUpQ2sS+cK/vg==$4deXoC6pqP7PcQBuhYfWPm0Qc6fmT9n3KBctaVJIAAk="
                + ":8my1HbB9oemyybnznhkBBxnwxQ1k9IdJs1gPX3ueWUE="})
    void brokenVerifiersAreRefusedWithoutQuotingThem(String text) {
        assertThat(ScramVerifier.isVerifier(text)).isFalse();
        assertThatThrownBy(() -> ScramVerifier.parse(text)).isInstanceOf(IllegalArgumentException.class)
                .satisfies(e -> assertThat(e.getMessage())
                        .doesNotContain("dXOJ").doesNotContain("4deX").doesNotContain("8my1").doesNotContain("AAAA"));
    }

    @Test
    void aHugeIterationCountIsRefused() {
        String huge = PENCIL.replace("$4096:", "$2000000000:");
        assertThatThrownBy(() -> ScramVerifier.parse(huge)).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("SCRAM iteration count 2000000000 is outside 1..10000000");
        assertThat(ScramVerifier.parse(PENCIL.replace("$4096:", "$10000000:")).iterations()).isEqualTo(10_000_000);
        assertThatThrownBy(() -> ScramVerifier.fromPassword("x".toCharArray(), new byte[16], 10_000_001))
                .isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void passwordsPostgresCannotHoldAreRefused() {
        assertThatThrownBy(() -> ScramVerifier.generate(new char[0])).hasMessage("empty password");
        assertThatThrownBy(() -> ScramVerifier.generate("a\0b".toCharArray()))
                .hasMessage("a password cannot hold a NUL character");
        assertThatThrownBy(() -> ScramVerifier.generate(new char[] {'a', '\ud800'}))
                .isInstanceOf(IllegalArgumentException.class);
    }

    // ---- MD5 ----------------------------------------------------------------------------------------------

    @Test
    void md5HashAndResponseAsLibpqComputesThem() {
        // md5("pencil" || "user"), and libpq's answer to salt 01 02 03 04 (pg_password_sendauth)
        String hash = Md5Hash.of("pencil", "user");
        assertThat(hash).isEqualTo("md5" + HexFormat.of().formatHex(Crypto.digest("MD5", "penciluser".getBytes())));
        Md5Hash md5 = new Md5Hash(hash);
        byte[] salt = {1, 2, 3, 4};
        String expected = "md5" + HexFormat.of().formatHex(Crypto.digest("MD5",
                concat(hash.substring(3).getBytes(StandardCharsets.US_ASCII), salt)));

        assertThat(md5.response(salt)).isEqualTo(expected);
        assertThat(md5.verifyResponse(expected, salt)).isTrue();
        assertThat(md5.verifyResponse(expected, new byte[] {1, 2, 3, 5})).isFalse();
        assertThat(md5.verifyResponse("md5", salt)).isFalse();
        assertThatThrownBy(() -> md5.response(new byte[3])).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void md5HashesAreLowerCaseHex() {
        assertThat(Md5Hash.isMd5Hash("md5" + "0123456789abcdef".repeat(2))).isTrue();
        assertThat(Md5Hash.isMd5Hash("md5" + "0123456789ABCDEF".repeat(2))).isFalse();
        assertThat(Md5Hash.isMd5Hash("md5" + "0123456789abcdef")).isFalse();
        assertThatThrownBy(() -> new Md5Hash("md5xyz")).isInstanceOf(IllegalArgumentException.class)
                .hasMessageNotContaining("xyz");
    }

    // ---- the auth file's forms ----------------------------------------------------------------------------

    @Test
    void credentialsParseTheThreeForms() {
        assertThat(Credential.parse(PENCIL)).isEqualTo(ScramVerifier.parse(PENCIL));
        String md5 = Md5Hash.of("pencil", "user");
        assertThat(Credential.parse(md5)).isEqualTo(new Md5Hash(md5));
        assertThat(Credential.parse("pencil")).isEqualTo(new PlainPassword("pencil".toCharArray()));
        // what PostgreSQL would take for a password, but that is surely a broken verifier
        assertThatThrownBy(() -> Credential.parse(PENCIL.substring(0, 40)))
                .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> Credential.parse("")).hasMessage("empty password");
        // upper-case hex is not an MD5 hash to PostgreSQL: a password
        assertThat(Credential.parse(md5.toUpperCase())).isInstanceOf(PlainPassword.class);

        PlainPassword plain = (PlainPassword) Credential.parse("pencil");
        assertThat(plain.toScramVerifier().matches("pencil".toCharArray())).isTrue();
        char[] chars = plain.password();
        chars[0] = 'x';
        assertThat(plain.password()).containsExactly("pencil".toCharArray()); // a copy
    }

    /** PostgreSQL's plain_crypt_verify: a password sent in cleartext against each form, the bytes as sent. */
    @Test
    void aCleartextPasswordAgainstEachForm() {
        byte[] pencil = "pencil".getBytes(StandardCharsets.UTF_8);
        byte[] wrong = "pencil ".getBytes(StandardCharsets.UTF_8);
        Credential scram = Credential.parse(PENCIL);
        Credential md5 = Credential.parse(Md5Hash.of("pencil", "user"));
        Credential plain = Credential.parse("pencil");
        for (Credential c : java.util.List.of(scram, md5, plain)) {
            assertThat(c.matchesCleartext(pencil, "user")).as(c.toString()).isTrue();
            assertThat(c.matchesCleartext(wrong, "user")).as(c.toString()).isFalse();
            assertThat(c.matchesCleartext(new byte[0], "user")).as(c.toString()).isFalse();
        }
        // the hash is salted with the user name the client logs in with
        assertThat(md5.matchesCleartext(pencil, "other")).isFalse();
        // a verifier of raw bytes (not valid SASLprep input) matches those bytes
        assertThat(Credential.parse(A_U0340).matchesCleartext("a\u0340".getBytes(StandardCharsets.UTF_8), "u"))
                .isTrue();
        // UTF-8 on both sides: a password with non-ASCII characters
        byte[] umlaut = "pässwörd".getBytes(StandardCharsets.UTF_8);
        assertThat(Credential.parse("pässwörd").matchesCleartext(umlaut, "u")).isTrue();
        assertThat(Credential.parse(Md5Hash.of("pässwörd", "u")).matchesCleartext(umlaut, "u")).isTrue();
        assertThat(Credential.parse("pässwörd").matchesCleartext("pässwörd".getBytes(StandardCharsets.ISO_8859_1),
                "u")).isFalse();
    }

    // ---- PostgreSQL's base64 ------------------------------------------------------------------------------

    @Test
    void postgresBase64Decoding() {
        assertThat(Crypto.pgBase64Decode("cGVuY2ls")).isEqualTo("pencil".getBytes());
        assertThat(Crypto.pgBase64Decode("cGVuY2lsMQ==")).isEqualTo("pencil1".getBytes());
        assertThat(Crypto.pgBase64Decode("")).isEmpty();
        assertThat(Crypto.pgBase64Decode("cGVuY2l")).isNull(); // not a multiple of 4
        assertThat(Crypto.pgBase64Decode("cGVu Y2ls")).isNull(); // whitespace
        assertThat(Crypto.pgBase64Decode("c=Vu")).isNull(); // '=' too early
        assertThat(Crypto.pgBase64Decode("cG=uY2ls")).hasSize(2); // after "=", one byte per quantum
        assertThat(Crypto.pgBase64Decode("cGVu\u00e9")).isNull();
    }

    static byte[] storedKey(byte[] password, byte[] salt, int iterations) {
        byte[] salted = Crypto.hi(password, salt, iterations);
        return Crypto.sha256(Crypto.hmac(salted, "Client Key".getBytes(StandardCharsets.US_ASCII)));
    }

    static byte[] concat(byte[] a, byte[] b) {
        byte[] out = new byte[a.length + b.length];
        System.arraycopy(a, 0, out, 0, a.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }
}
