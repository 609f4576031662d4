package dev.pgmux.auth;

import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.util.Arrays;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * The primitives of SCRAM-SHA-256 (RFC 5802 §2.2 with SHA-256, RFC 7677) on raw bytes, and PostgreSQL's base64
 * decoder: PostgreSQL hashes the bytes a client sent, which need not be UTF-8, so nothing here goes through a String.
 */
final class Crypto {
    static final String HMAC_SHA_256 = "HmacSHA256";
    /** SCRAM_SHA_256_KEY_LEN in PostgreSQL's scram-common.h. */
    static final int KEY_LENGTH = 32;
    static final SecureRandom RANDOM = new SecureRandom();

    private Crypto() {
    }

    /** HMAC(key, message): RFC 5802 §2.2, with HMAC-SHA-256 (RFC 2104). The key may not be empty (JDK rule). */
    static byte[] hmac(byte[] key, byte[]... parts) {
        try {
            Mac mac = Mac.getInstance(HMAC_SHA_256);
            mac.init(new SecretKeySpec(key, HMAC_SHA_256));
            for (byte[] part : parts) {
                mac.update(part);
            }
            return mac.doFinal();
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("HMAC-SHA-256 is not available", e);
        }
    }

    /** H(data): SHA-256. */
    static byte[] sha256(byte[] data) {
        return digest("SHA-256", data);
    }

    static byte[] digest(String algorithm, byte[] data) {
        try {
            return MessageDigest.getInstance(algorithm).digest(data);
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException(algorithm + " is not available", e);
        }
    }

    /**
     * Hi(str, salt, i) of RFC 5802 §2.2, that is PBKDF2 (RFC 8018) with HMAC-SHA-256 and one block:
     * {@code U1 = HMAC(str, salt + INT(1))}, {@code Ui = HMAC(str, Ui-1)}, the result their XOR. Over bytes, as
     * PostgreSQL's {@code scram_SaltedPassword} does (the JDK's PBKDF2 takes chars and would encode them itself).
     */
    static byte[] hi(byte[] password, byte[] salt, int iterations) {
        try {
            Mac mac = Mac.getInstance(HMAC_SHA_256);
            mac.init(new SecretKeySpec(password, HMAC_SHA_256));
            mac.update(salt);
            byte[] u = mac.doFinal(new byte[] {0, 0, 0, 1});
            byte[] result = u.clone();
            for (int i = 1; i < iterations; i++) {
                u = mac.doFinal(u);
                for (int j = 0; j < result.length; j++) {
                    result[j] ^= u[j];
                }
            }
            return result;
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("HMAC-SHA-256 is not available", e);
        }
    }

    static byte[] xor(byte[] a, byte[] b) {
        byte[] out = new byte[a.length];
        for (int i = 0; i < a.length; i++) {
            out[i] = (byte) (a[i] ^ b[i]);
        }
        return out;
    }

    static byte[] random(int length) {
        byte[] bytes = new byte[length];
        RANDOM.nextBytes(bytes);
        return bytes;
    }

    static byte[] ascii(String s) {
        return s.getBytes(StandardCharsets.US_ASCII);
    }

    /**
     * PostgreSQL's {@code pg_b64_decode} (src/common/base64.c), or null where it fails: no whitespace, '=' only where
     * a quantum may end (after which the characters still count, one byte per quantum), a length that is a multiple
     * of four. The JDK's decoder differs at those edges, and a proof it refuses PostgreSQL may take.
     */
    static byte[] pgBase64Decode(byte[] src, int from, int to) {
        byte[] out = new byte[Math.max(0, (to - from) * 3 / 4)];
        int n = 0;
        int buf = 0;
        int pos = 0;
        int end = 0;
        for (int i = from; i < to; i++) {
            int c = src[i];
            int b;
            if (c == '=') {
                if (end == 0) {
                    if (pos == 2) {
                        end = 1;
                    } else if (pos == 3) {
                        end = 2;
                    } else {
                        return null;
                    }
                }
                b = 0;
            } else {
                b = c > 0 && c < 127 ? LOOKUP[c] : -1;
                if (b < 0) {
                    return null; // whitespace included
                }
            }
            buf = (buf << 6) + b;
            if (++pos == 4) {
                out[n++] = (byte) (buf >> 16);
                if (end == 0 || end > 1) {
                    out[n++] = (byte) (buf >> 8);
                }
                if (end == 0 || end > 2) {
                    out[n++] = (byte) buf;
                }
                buf = 0;
                pos = 0;
            }
        }
        return pos != 0 ? null : Arrays.copyOf(out, n);
    }

    static byte[] pgBase64Decode(String s) {
        byte[] bytes = s.getBytes(StandardCharsets.UTF_8);
        return pgBase64Decode(bytes, 0, bytes.length);
    }

    private static final byte[] LOOKUP = new byte[128];

    static {
        Arrays.fill(LOOKUP, (byte) -1);
        String alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        for (int i = 0; i < alphabet.length(); i++) {
            LOOKUP[alphabet.charAt(i)] = (byte) i;
        }
    }
}
