package dev.pgmux;

import java.util.Locale;

/**
 * How pgmux authenticates the clients of a route with {@link AuthMode#PROXY} ({@code client_auth_method}), with
 * the meanings of the pg_hba.conf methods of the same names (PostgreSQL's "Client Authentication" chapter, 20.3 to
 * 20.12).
 */
public enum ClientAuthMethod {
    /** SCRAM-SHA-256 (-PLUS on TLS), whatever the stored credential: an MD5 hash cannot answer it. The default. */
    SCRAM_SHA_256,
    /**
     * MD5 when the user's stored credential is an MD5 hash, else SCRAM-SHA-256, as PostgreSQL's {@code md5} method
     * does (a SCRAM verifier cannot check an MD5 answer; a plain password in the auth file is taken as a server
     * with {@code password_encryption = scram-sha-256} would store it).
     */
    MD5,
    /** The password in cleartext, checked against any stored credential; over TLS only unless allowed otherwise. */
    PASSWORD,
    /** No password at all: the user name is taken as given. Only when a route asks for it. */
    TRUST,
    /** A client certificate verified against pgmux's client CA, whose common name (CN) is the user name. */
    CERT;

    /**
     * Parses the pg_hba.conf names {@code scram-sha-256}, {@code md5}, {@code password}, {@code trust}, {@code cert}.
     */
    public static ClientAuthMethod parse(String value) {
        return switch (value.strip().toLowerCase(Locale.ROOT)) {
            case "scram-sha-256" -> SCRAM_SHA_256;
            case "md5" -> MD5;
            case "password" -> PASSWORD;
            case "trust" -> TRUST;
            case "cert" -> CERT;
            default -> throw new IllegalArgumentException("unknown client_auth_method \"" + value
                    + "\" (scram-sha-256, md5, password, trust, cert)");
        };
    }

    /** The pg_hba.conf name: {@code scram-sha-256}, {@code md5}, {@code password}, {@code trust} or {@code cert}. */
    public String configName() {
        return name().toLowerCase(Locale.ROOT).replace('_', '-');
    }

    /** Whether the client proves a password (so that pgmux needs a stored credential to check it against). */
    public boolean checksPassword() {
        return this == SCRAM_SHA_256 || this == MD5 || this == PASSWORD;
    }
}
