package dev.pgmux.auth;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Users and their passwords from a file in PgBouncer's {@code auth_file} format, read as PgBouncer's loader reads
 * it ({@code load_auth_file} in {@code src/loader.c}, 1.25), so that an operator's existing file means the same:
 *
 * <pre>
 * ; a comment
 * "alice" "SCRAM-SHA-256$4096:c2FsdA==$c3RvcmVk...:c2VydmVy..."
 * "bob"   "md5a3556571e93b0d20722ba62be61e8c2d"   anything after the second field is ignored
 * "say ""hi""" "plain text"
 * </pre>
 *
 * <ul>
 *   <li>White space (C's {@code isspace}) before a line's first field and empty lines are skipped; a line whose
 *       first other character is {@code ;} is a comment ({@code #} is not).</li>
 *   <li>A field is in double quotes; {@code ""} inside it is one quote. The user name ends at the first lone
 *       quote, and the password starts at the next quote, whatever lies between; after the password the rest of
 *       the line is ignored. As in PgBouncer, a field (and the gap between the two) may run over a line
 *       break.</li>
 *   <li>A field as written (quotes doubled) must stay below PgBouncer's limits, 128 bytes for the user name and
 *       2048 for the password.</li>
 *   <li>A user listed twice gets the later password, as PgBouncer updates it.</li>
 *   <li>A NUL byte ends the file (PgBouncer reads it as a C string).</li>
 * </ul>
 *
 * <p>The password may be plain text, an MD5 hash ({@code md5} + 32 hex digits) or a SCRAM-SHA-256 verifier; an
 * empty one is kept, and like PgBouncer's it matches no password. Where PgBouncer logs "broken auth file" and
 * keeps the users read before the broken line, this class refuses the file with the line's number: the config
 * that names it is refused, and a reload keeps the users it had. No message quotes a password.
 *
 * <p>Reading it logs a warning if group or others may read the file. Instances are immutable; a reload reads the
 * file anew.
 */
public final class AuthFile {
    private static final Logger log = LoggerFactory.getLogger(AuthFile.class);

    /** PgBouncer's {@code MAX_USERNAME}: a user name as written must be shorter. */
    static final int MAX_USERNAME = 128;
    /** PgBouncer's {@code MAX_PASSWORD}: a password as written must be shorter. */
    static final int MAX_PASSWORD = 2048;

    private final Path path;
    private final Map<String, String> passwords;

    private AuthFile(Path path, Map<String, String> passwords) {
        this.path = path;
        this.passwords = Collections.unmodifiableMap(passwords);
    }

    /**
     * Reads and parses {@code file}, warning in the log if group or others may read it.
     *
     * @throws IOException              if it cannot be read
     * @throws IllegalArgumentException if it is not in the format: {@code line N: what is wrong}, never a password
     */
    public static AuthFile read(Path file) throws IOException {
        byte[] content = Files.readAllBytes(file);
        String exposed = exposure(file);
        if (exposed != null) {
            log.warn("auth_file {} can be read by {}: it holds passwords or their hashes; chmod 600 it", file,
                    exposed);
        }
        return new AuthFile(file, parse(content));
    }

    /** The file it was read from. */
    public Path path() {
        return path;
    }

    /** The password, MD5 hash or SCRAM verifier of {@code user} (exactly as written, case matters), if listed. */
    public Optional<String> lookup(String user) {
        return Optional.ofNullable(passwords.get(user));
    }

    /** The users listed, in the order of their first line. */
    public Set<String> users() {
        return passwords.keySet();
    }

    /**
     * Who besides the owner may read {@code file} ({@code "group"}, {@code "others"}, {@code "group and others"}),
     * or null when nobody may or the file system has no POSIX permissions.
     */
    static String exposure(Path file) {
        Set<PosixFilePermission> permissions;
        try {
            permissions = Files.getPosixFilePermissions(file);
        } catch (UnsupportedOperationException | IOException e) {
            return null;
        }
        boolean group = permissions.contains(PosixFilePermission.GROUP_READ);
        boolean others = permissions.contains(PosixFilePermission.OTHERS_READ);
        if (!group && !others) {
            return null;
        }
        return (group && others ? "group and others" : group ? "group" : "others") + " (mode "
                + PosixFilePermissions.toString(permissions) + ")";
    }

    /**
     * The users and passwords of a file's content, PgBouncer's way (see the class comment).
     *
     * @throws IllegalArgumentException {@code line N: ...} for the first broken line
     */
    static Map<String, String> parse(byte[] content) {
        return new Parser(content).parse();
    }

    /** One reading of a file's bytes, with the line it has reached. */
    private static final class Parser {
        private final byte[] b;
        private final int n;
        private int p;
        private int line = 1;

        Parser(byte[] content) {
            b = content;
            int end = 0;
            while (end < content.length && content[end] != 0) {
                end++;
            }
            n = end;
        }

        Map<String, String> parse() {
            Map<String, String> passwords = new LinkedHashMap<>();
            while (p < n) {
                while (p < n && isSpace(b[p])) {
                    advance();
                }
                if (p >= n) {
                    break;
                }
                if (b[p] == ';') {
                    skipLine();
                    continue;
                }
                if (b[p] != '"') {
                    throw broken("expected a user name in double quotes (a comment starts with ;)");
                }
                int userStart = ++p;
                findQuote(false);
                if (p >= n) {
                    throw broken("the user name has no closing double quote");
                }
                if (p - userStart >= MAX_USERNAME) {
                    throw broken("user name too long (at most " + (MAX_USERNAME - 1) + " bytes, as in PgBouncer)");
                }
                int userEnd = p++;
                findQuote(true);
                if (p >= n) {
                    throw broken("expected a password in double quotes after the user name");
                }
                int passwordStart = ++p;
                findQuote(false);
                if (p >= n) {
                    throw broken("the password has no closing double quote");
                }
                if (p - passwordStart >= MAX_PASSWORD) {
                    throw broken("password too long (at most " + (MAX_PASSWORD - 1) + " bytes, as in PgBouncer)");
                }
                int passwordEnd = p++;
                passwords.put(unquote(userStart, userEnd), unquote(passwordStart, passwordEnd));
                skipLine();
            }
            return passwords;
        }

        /**
         * PgBouncer's {@code find_quote}: on to the next double quote; within a field ({@code start} false) a
         * doubled one is part of it.
         */
        private void findQuote(boolean start) {
            while (true) {
                while (p < n && b[p] != '"') {
                    advance();
                }
                if (!start && p + 1 < n && b[p + 1] == '"') {
                    p += 2;
                    continue;
                }
                return;
            }
        }

        private void skipLine() {
            while (p < n && b[p] != '\n') {
                p++;
            }
        }

        private void advance() {
            if (b[p] == '\n') {
                line++;
            }
            p++;
        }

        /** PgBouncer's {@code copy_quoted}: each {@code ""} becomes one quote. */
        private String unquote(int from, int to) {
            ByteArrayOutputStream out = new ByteArrayOutputStream(to - from);
            for (int i = from; i < to; i++) {
                if (b[i] == '"') {
                    i++;
                }
                out.write(b[i]);
            }
            return out.toString(StandardCharsets.UTF_8);
        }

        private IllegalArgumentException broken(String what) {
            return new IllegalArgumentException("line " + line + ": " + what);
        }

        /** C's {@code isspace} in the C locale. */
        private static boolean isSpace(byte c) {
            return c == ' ' || c == '\t' || c == '\n' || c == 0x0b || c == '\f' || c == '\r';
        }
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof AuthFile other && path.equals(other.path) && passwords.equals(other.passwords);
    }

    @Override
    public int hashCode() {
        return Objects.hash(path, passwords.keySet());
    }

    /** The file and how many users it lists; never a password. */
    @Override
    public String toString() {
        return "AuthFile[" + path + ", " + passwords.size() + (passwords.size() == 1 ? " user]" : " users]");
    }
}
