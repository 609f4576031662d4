package dev.pgmux.auth;

import com.ongres.scram.common.ScramFunctions;
import com.ongres.scram.common.ScramMechanism;
import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.Arrays;
import java.util.Base64;
import java.util.Objects;

/**
 * A SCRAM-SHA-256 verifier as PostgreSQL stores it in {@code pg_authid.rolpassword}:
 * {@code SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>} (salt and keys in base64), enough to check a
 * client's proof and prove the server's knowledge (RFC 5802 §3, RFC 5803's format) but not to log in elsewhere.
 * {@link #toString()} shows the iteration count only; {@link #text()} gives the stored form.
 *
 * @param iterations the iteration count of Hi()
 * @param salt       the salt of Hi(), PostgreSQL's are 16 bytes
 * @param storedKey  H(ClientKey), 32 bytes
 * @param serverKey  HMAC(SaltedPassword, "Server Key"), 32 bytes
 */
public record ScramVerifier(int iterations, byte[] salt, byte[] storedKey, byte[] serverKey) implements Credential {
    static final String PREFIX = "SCRAM-SHA-256$";
    /** SCRAM_SHA_256_DEFAULT_ITERATIONS in PostgreSQL's scram-common.h (the default of scram_iterations). */
    public static final int DEFAULT_ITERATIONS = 4096;
    /** SCRAM_DEFAULT_SALT_LEN in PostgreSQL's scram-common.h. */
    public static final int DEFAULT_SALT_LENGTH = 16;
    /**
     * The most iterations a verifier may ask for. Every client runs Hi() once per login with this count (the server
     * never does), so a verifier beyond it is a mistake that would stall every client, or a way to make them spin.
     * PostgreSQL's scram_iterations allows up to 2^31-1; 10 million takes a client seconds.
     */
    public static final int MAX_ITERATIONS = 10_000_000;

    public ScramVerifier {
        checkHiParameters(salt, iterations);
        if (storedKey.length != Crypto.KEY_LENGTH || serverKey.length != Crypto.KEY_LENGTH) {
            throw new IllegalArgumentException("SCRAM-SHA-256 keys have " + Crypto.KEY_LENGTH + " bytes");
        }
        salt = salt.clone();
        storedKey = storedKey.clone();
        serverKey = serverKey.clone();
    }

    /**
     * Reads PostgreSQL's text form, following {@code parse_scram_secret} (src/backend/libpq/auth-scram.c): fields
     * split at the first {@code $}, {@code :}, {@code $} and {@code :}, base64 as PostgreSQL decodes it, keys of 32
     * bytes. Stricter than PostgreSQL in one way: the iteration count is digits only, within
     * 1..{@link #MAX_ITERATIONS}.
     *
     * @throws IllegalArgumentException naming what is wrong, never quoting the salt or the keys
     */
    public static ScramVerifier parse(String text) {
        if (!text.startsWith(PREFIX)) {
            throw new IllegalArgumentException("a SCRAM verifier starts with \"" + PREFIX + "\"");
        }
        String rest = text.substring(PREFIX.length());
        int colon = rest.indexOf(':');
        int dollar = colon < 0 ? -1 : rest.indexOf('$', colon + 1);
        int colon2 = dollar < 0 ? -1 : rest.indexOf(':', dollar + 1);
        if (colon2 < 0) {
            throw new IllegalArgumentException("a SCRAM verifier looks like "
                    + "SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>");
        }
        String count = rest.substring(0, colon);
        if (count.isEmpty() || count.length() > 10 || !count.chars().allMatch(c -> c >= '0' && c <= '9')) {
            throw new IllegalArgumentException("the iteration count of a SCRAM verifier must be a number from 1 to "
                    + MAX_ITERATIONS);
        }
        long iterations = Long.parseLong(count);
        if (iterations < 1 || iterations > MAX_ITERATIONS) {
            throw new IllegalArgumentException(
                    "SCRAM iteration count " + iterations + " is outside 1.." + MAX_ITERATIONS);
        }
        byte[] salt = Crypto.pgBase64Decode(rest.substring(colon + 1, dollar));
        if (salt == null || salt.length == 0) {
            throw new IllegalArgumentException("the salt of a SCRAM verifier must be non-empty base64");
        }
        byte[] storedKey = Crypto.pgBase64Decode(rest.substring(dollar + 1, colon2));
        if (storedKey == null || storedKey.length != Crypto.KEY_LENGTH) {
            throw new IllegalArgumentException("the StoredKey of a SCRAM verifier must be 32 bytes in base64");
        }
        byte[] serverKey = Crypto.pgBase64Decode(rest.substring(colon2 + 1));
        if (serverKey == null || serverKey.length != Crypto.KEY_LENGTH) {
            throw new IllegalArgumentException("the ServerKey of a SCRAM verifier must be 32 bytes in base64");
        }
        return new ScramVerifier((int) iterations, salt, storedKey, serverKey);
    }

    /** Whether the text is a SCRAM-SHA-256 verifier that {@link #parse} takes. */
    public static boolean isVerifier(String text) {
        try {
            parse(text);
            return true;
        } catch (IllegalArgumentException e) {
            return false;
        }
    }

    /**
     * The verifier PostgreSQL computes for this password ({@code scram_build_secret}): the password's UTF-8 bytes
     * prepared with SASLprep as {@code pg_saslprep} does, or taken raw where it refuses them, then
     * SaltedPassword = Hi(password, salt, iterations), StoredKey = H(HMAC(SaltedPassword, "Client Key")),
     * ServerKey = HMAC(SaltedPassword, "Server Key").
     *
     * @throws IllegalArgumentException for an empty password, one with a NUL character (PostgreSQL can hold neither),
     *                                  or one that is not valid UTF-16 (a lone surrogate)
     */
    public static ScramVerifier fromPassword(char[] password, byte[] salt, int iterations) {
        byte[] bytes = utf8(password);
        try {
            return fromPassword(bytes, salt, iterations);
        } finally {
            Arrays.fill(bytes, (byte) 0);
        }
    }

    /**
     * As {@link #fromPassword(char[], byte[], int)}, for a password given as the bytes a client would send, which
     * need not be UTF-8 (PostgreSQL then hashes them as they are).
     */
    public static ScramVerifier fromPassword(byte[] password, byte[] salt, int iterations) {
        if (password.length == 0) {
            throw new IllegalArgumentException("empty password");
        }
        for (byte b : password) {
            if (b == 0) {
                throw new IllegalArgumentException("a password cannot hold a NUL character");
            }
        }
        checkHiParameters(salt, iterations);
        byte[] prepared = SaslPrep.passwordBytes(password);
        byte[] salted = Crypto.hi(prepared, salt, iterations);
        try {
            // RFC 5802 §3; com.ongres.scram computes these exactly as PostgreSQL's scram_ClientKey/scram_ServerKey
            byte[] clientKey = ScramFunctions.clientKey(ScramMechanism.SCRAM_SHA_256, salted);
            byte[] storedKey = ScramFunctions.storedKey(ScramMechanism.SCRAM_SHA_256, clientKey);
            byte[] serverKey = ScramFunctions.serverKey(ScramMechanism.SCRAM_SHA_256, salted);
            Arrays.fill(clientKey, (byte) 0);
            return new ScramVerifier(iterations, salt, storedKey, serverKey);
        } finally {
            Arrays.fill(salted, (byte) 0);
            if (prepared != password) {
                Arrays.fill(prepared, (byte) 0);
            }
        }
    }

    /** A verifier for this password with a random 16-byte salt and 4096 iterations, as PostgreSQL makes them. */
    public static ScramVerifier generate(char[] password) {
        return fromPassword(password, Crypto.random(DEFAULT_SALT_LENGTH), DEFAULT_ITERATIONS);
    }

    /** As {@link #generate(char[])}, for a password given as bytes (see {@link #fromPassword(byte[], byte[], int)}). */
    public static ScramVerifier generate(byte[] password) {
        return fromPassword(password, Crypto.random(DEFAULT_SALT_LENGTH), DEFAULT_ITERATIONS);
    }

    /** The text PostgreSQL stores: {@code SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>}. */
    public String text() {
        Base64.Encoder b64 = Base64.getEncoder();
        return PREFIX + iterations + ":" + b64.encodeToString(salt) + "$" + b64.encodeToString(storedKey) + ":"
                + b64.encodeToString(serverKey);
    }

    /** Whether this verifier was made from this password (PostgreSQL's {@code scram_verify_plain_password}). */
    public boolean matches(char[] password) {
        byte[] bytes = utf8(password);
        try {
            return matches(bytes);
        } finally {
            Arrays.fill(bytes, (byte) 0);
        }
    }

    /** As {@link #matches(char[])}, for a password given as bytes. */
    public boolean matches(byte[] password) {
        if (password.length == 0) {
            return false;
        }
        ScramVerifier computed;
        try {
            computed = fromPassword(password, salt, iterations);
        } catch (IllegalArgumentException e) {
            return false;
        }
        return MessageDigest.isEqual(computed.serverKey, serverKey);
    }

    @Override
    public byte[] salt() {
        return salt.clone();
    }

    @Override
    public byte[] storedKey() {
        return storedKey.clone();
    }

    @Override
    public byte[] serverKey() {
        return serverKey.clone();
    }

    /** The keys without copies, for the exchanges of this package, which never hand them out. */
    byte[] storedKeyUnsafe() {
        return storedKey;
    }

    byte[] serverKeyUnsafe() {
        return serverKey;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof ScramVerifier v && iterations == v.iterations && Arrays.equals(salt, v.salt)
                && MessageDigest.isEqual(storedKey, v.storedKey) && MessageDigest.isEqual(serverKey, v.serverKey);
    }

    @Override
    public int hashCode() {
        return Objects.hash(iterations, Arrays.hashCode(salt), Arrays.hashCode(storedKey));
    }

    /** The iteration count only: the keys and salt stay out of logs. */
    @Override
    public String toString() {
        return "ScramVerifier[SCRAM-SHA-256, iterations=" + iterations + "]";
    }

    private static void checkHiParameters(byte[] salt, int iterations) {
        if (iterations < 1 || iterations > MAX_ITERATIONS) {
            throw new IllegalArgumentException(
                    "SCRAM iteration count " + iterations + " is outside 1.." + MAX_ITERATIONS);
        }
        if (salt.length == 0) {
            throw new IllegalArgumentException("empty SCRAM salt");
        }
    }

    private static byte[] utf8(char[] password) {
        try {
            ByteBuffer buf = StandardCharsets.UTF_8.newEncoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .encode(CharBuffer.wrap(password));
            byte[] bytes = new byte[buf.remaining()];
            buf.get(bytes);
            if (buf.hasArray()) {
                Arrays.fill(buf.array(), (byte) 0);
            }
            return bytes;
        } catch (CharacterCodingException e) {
            throw new IllegalArgumentException("the password is not valid Unicode (a lone surrogate)");
        }
    }
}
