package dev.pgmux.auth;

/**
 * What pgmux knows of a user's password: a SCRAM-SHA-256 verifier, an MD5 hash, or (in an auth file) the password
 * itself. The text forms are PostgreSQL's ({@code pg_authid.rolpassword}) and so PgBouncer's auth file's.
 */
public sealed interface Credential permits ScramVerifier, Md5Hash, PlainPassword {

    /**
     * Recognises the three forms as PostgreSQL's {@code get_password_type} does: a SCRAM verifier
     * ({@code SCRAM-SHA-256$...}), an MD5 hash ({@code md5} and 32 lower-case hex digits), else a plain password.
     * Unlike PostgreSQL, text that starts as a SCRAM verifier but is not a valid one is refused rather than taken
     * for a password: in a file that a person writes it is a mistake.
     *
     * @throws IllegalArgumentException for a broken SCRAM verifier or an empty password; the message holds no part
     *                                  of the text
     */
    static Credential parse(String text) {
        if (text.startsWith(ScramVerifier.PREFIX)) {
            return ScramVerifier.parse(text);
        }
        if (Md5Hash.isMd5Hash(text)) {
            return new Md5Hash(text);
        }
        return new PlainPassword(text.toCharArray());
    }

    /**
     * Whether a password a client sent in cleartext is the one this credential stands for, as PostgreSQL's
     * {@code plain_crypt_verify} decides (src/backend/libpq/crypt.c): a SCRAM verifier is computed again from it with
     * the verifier's salt and iterations (which may take a while: not on an event loop), an MD5 hash from it and the
     * user name, a plain password compared; each comparison in constant time.
     *
     * @param password the bytes the client sent, without the terminator
     * @param user     the user name the client logs in with (an MD5 hash is salted with it)
     */
    default boolean matchesCleartext(byte[] password, String user) {
        return switch (this) {
            case ScramVerifier v -> v.matches(password);
            case Md5Hash h -> h.matches(password, user);
            case PlainPassword p -> p.matches(password);
        };
    }
}
