package dev.pgmux.auth;

import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.Arrays;

/**
 * A password kept as it is (an auth file may hold one, as PgBouncer's may). It never prints: {@link #toString()}
 * says only what it is.
 */
public record PlainPassword(char[] password) implements Credential {

    public PlainPassword {
        if (password.length == 0) {
            throw new IllegalArgumentException("empty password"); // PostgreSQL refuses them too
        }
        password = password.clone();
    }

    @Override
    public char[] password() {
        return password.clone();
    }

    /** A SCRAM verifier for this password, with a random salt and PostgreSQL's default iteration count. */
    public ScramVerifier toScramVerifier() {
        return ScramVerifier.generate(password);
    }

    /** Whether {@code password} (bytes as a client sent them) is this password in UTF-8, in constant time. */
    public boolean matches(byte[] password) {
        ByteBuffer encoded = StandardCharsets.UTF_8.encode(CharBuffer.wrap(this.password));
        byte[] mine = new byte[encoded.remaining()];
        encoded.get(mine);
        try {
            return MessageDigest.isEqual(mine, password);
        } finally {
            Arrays.fill(mine, (byte) 0);
            if (encoded.hasArray()) {
                Arrays.fill(encoded.array(), (byte) 0);
            }
        }
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof PlainPassword p && Arrays.equals(password, p.password);
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(password);
    }

    @Override
    public String toString() {
        return "PlainPassword[***]";
    }
}
