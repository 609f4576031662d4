package dev.pgmux.auth;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.HexFormat;

/**
 * A password stored as PostgreSQL's MD5 hash: {@code "md5"} followed by the 32 lower-case hex digits of
 * md5(password || user name) ({@code pg_md5_encrypt} in src/common/md5_common.c). The hash is as good as the password
 * for an MD5 login, so it never prints: {@link #toString()} says only what it is.
 */
public record Md5Hash(String text) implements Credential {
    static final String PREFIX = "md5";
    /** MD5_PASSWD_LEN: the prefix and 32 hex digits. */
    static final int LENGTH = 35;
    private static final HexFormat HEX = HexFormat.of();

    public Md5Hash {
        if (!isMd5Hash(text)) {
            throw new IllegalArgumentException("an MD5 password hash is \"md5\" followed by 32 lower-case hex digits");
        }
    }

    /** Whether PostgreSQL's {@code get_password_type} takes the text for an MD5 hash (lower-case hex digits). */
    public static boolean isMd5Hash(String text) {
        if (text.length() != LENGTH || !text.startsWith(PREFIX)) {
            return false;
        }
        for (int i = PREFIX.length(); i < LENGTH; i++) {
            char c = text.charAt(i);
            if (!(c >= '0' && c <= '9' || c >= 'a' && c <= 'f')) {
                return false;
            }
        }
        return true;
    }

    /** The hash PostgreSQL stores for this password and user name: {@code "md5" + md5(password || user)}. */
    public static String of(String password, String user) {
        return md5(password.getBytes(StandardCharsets.UTF_8), user.getBytes(StandardCharsets.UTF_8));
    }

    /**
     * What a client answers AuthenticationMD5Password with when it knows this hash: {@code "md5" + md5(hex digits of
     * the hash || salt)}, as libpq's {@code pg_password_sendauth} computes it and the server's
     * {@code md5_crypt_verify} expects it. The proxy needs it to log in to a server that asks for MD5.
     */
    public String response(byte[] salt) {
        if (salt.length != 4) {
            throw new IllegalArgumentException("an MD5 salt has 4 bytes, not " + salt.length);
        }
        return md5(text.substring(PREFIX.length()).getBytes(StandardCharsets.US_ASCII), salt);
    }

    /** Whether this is the hash of {@code password} (its bytes as sent) for {@code user}, in constant time. */
    public boolean matches(byte[] password, String user) {
        return MessageDigest.isEqual(md5(password, user.getBytes(StandardCharsets.UTF_8))
                .getBytes(StandardCharsets.US_ASCII), text.getBytes(StandardCharsets.US_ASCII));
    }

    /** Checks a client's PasswordMessage for AuthenticationMD5Password with this salt, in constant time. */
    public boolean verifyResponse(String clientResponse, byte[] salt) {
        return MessageDigest.isEqual(response(salt).getBytes(StandardCharsets.UTF_8),
                clientResponse.getBytes(StandardCharsets.UTF_8));
    }

    private static String md5(byte[] first, byte[] second) {
        byte[] input = new byte[first.length + second.length];
        System.arraycopy(first, 0, input, 0, first.length);
        System.arraycopy(second, 0, input, first.length, second.length);
        return PREFIX + HEX.formatHex(Crypto.digest("MD5", input));
    }

    @Override
    public String toString() {
        return "Md5Hash[***]";
    }
}
