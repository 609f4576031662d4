package dev.pgmux.auth;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.entry;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.LoggerFactory;

/**
 * PgBouncer's auth_file format, read as its loader reads it. The expected maps are what PgBouncer 1.25's
 * {@code load_auth_file} makes of the same bytes (its parsing code, compiled alone, was run on each input).
 */
class AuthFileTest {
    static final String VERIFIER = "SCRAM-SHA-256$4096:cGdtdXgtdGVzdC1zYWx0IQ==$"
            + "rLW6vFo5jkg3NjS9osAxK+n1pWn5Ulxp+xUkvGAODII=:RqdbEpVSpSaE0L8qUkdIucadWchgrYekib/qche6mlE=";

    @TempDir
    Path dir;

    static Map<String, String> parse(String text) {
        return AuthFile.parse(text.getBytes(StandardCharsets.UTF_8));
    }

    @Test
    void theDocumentedForm() {
        assertThat(parse("""
                "username1" "password" ...
                "username2" "md5abcdef012342345" ...
                "alice" "%s"
                """.formatted(VERIFIER))).containsExactly(entry("username1", "password"),
                entry("username2", "md5abcdef012342345"), entry("alice", VERIFIER));
    }

    @Test
    void aDoubledQuoteIsOneQuote() {
        assertThat(parse("\"say \"\"hi\"\"\" \"pa\"\"ss\"\n\"\"\"\" \"\"\"\"\"\"\n")).containsExactly(
                entry("say \"hi\"", "pa\"ss"), entry("\"", "\"\""));
    }

    @Test
    void commentsBlankLinesAndWhiteSpaceAreSkipped() {
        assertThat(parse("""
                ; a comment, even with "quotes" "in it"

                \t  ; an indented one
                   "ann" "pw1"
                \t"bob"\t"pw2"\r
                """)).containsExactly(entry("ann", "pw1"), entry("bob", "pw2"));
        assertThat(parse("")).isEmpty();
        assertThat(parse(" \n\r\n\t\u000b\f")).isEmpty();
    }

    @Test
    void whatPgBouncerIgnores() {
        // The rest of the line after the password, and anything between the two fields.
        assertThat(parse("\"ann\" \"pw\" \"third\" trailing ; text\n\"bob\" = \"pw2\"\n")).containsExactly(
                entry("ann", "pw"), entry("bob", "pw2"));
        // Fields and the gap between them run over line breaks, as PgBouncer's find_quote does.
        assertThat(parse("\"ann\"\n\"pw\" rest\n\"two\nlines\" \"p\nw\"")).containsExactly(
                entry("ann", "pw"), entry("two\nlines", "p\nw"));
        // A NUL byte ends the file: PgBouncer reads it as a C string.
        assertThat(AuthFile.parse("\"ann\" \"pw\"\n\0\"bob\" \"pw2\"\n".getBytes(StandardCharsets.UTF_8)))
                .containsExactly(entry("ann", "pw"));
        // A last line without a line break, and an empty password (kept: it matches no password).
        assertThat(parse("\"ann\" \"\"")).containsExactly(entry("ann", ""));
    }

    @Test
    void theLaterOfTwoLinesForOneUserWins() {
        assertThat(parse("\"ann\" \"first\"\n\"bob\" \"b\"\n\"ann\" \"second\"\n")).containsExactly(
                entry("ann", "second"), entry("bob", "b"));
    }

    @Test
    void namesAreExactAndInUtf8() {
        Map<String, String> users = parse("\"Ann\" \"x\"\n\"ännä\" \"pässwörd\"\n");
        assertThat(users).containsExactly(entry("Ann", "x"), entry("ännä", "pässwörd"));
        assertThat(users).doesNotContainKey("ann");
    }

    @Test
    void aBrokenLineIsNamedWithoutItsPassword() {
        assertThatThrownBy(() -> parse("\"ann\" \"pw\"\n# not a comment\n")).hasMessage(
                "line 2: expected a user name in double quotes (a comment starts with ;)");
        assertThatThrownBy(() -> parse("ann secret-pw\n")).hasMessage(
                "line 1: expected a user name in double quotes (a comment starts with ;)");
        assertThatThrownBy(() -> parse("\"ann\"\n")).hasMessage(
                "line 2: expected a password in double quotes after the user name");
        assertThatThrownBy(() -> parse("\n\"ann\" \"secret-pw\n")).hasMessage(
                "line 3: the password has no closing double quote");
        assertThatThrownBy(() -> parse("\"ann")).hasMessage("line 1: the user name has no closing double quote");
    }

    @Test
    void pgBouncersLengthLimits() {
        String user127 = "u".repeat(127);
        String password2047 = "p".repeat(2047);
        assertThat(parse("\"" + user127 + "\" \"" + password2047 + "\"")).containsExactly(
                entry(user127, password2047));
        // As written: a doubled quote counts twice.
        assertThatThrownBy(() -> parse("\"" + "u".repeat(126) + "\"\"\" \"pw\"")).hasMessage(
                "line 1: user name too long (at most 127 bytes, as in PgBouncer)");
        assertThatThrownBy(() -> parse("\"" + user127 + "u\" \"pw\"")).hasMessageContaining("user name too long");
        assertThatThrownBy(() -> parse("\"ann\" \"" + password2047 + "p\"")).hasMessage(
                "line 1: password too long (at most 2047 bytes, as in PgBouncer)");
    }

    @Test
    void readingAFile() throws Exception {
        Path file = Files.writeString(dir.resolve("users.txt"), "\"ann\" \"" + VERIFIER + "\"\n\"bob\" \"pw\"\n");
        AuthFile auth = AuthFile.read(file);
        assertThat(auth.path()).isEqualTo(file);
        assertThat(auth.lookup("ann")).contains(VERIFIER);
        assertThat(auth.lookup("carol")).isEmpty();
        assertThat(auth.users()).containsExactly("ann", "bob");
        assertThat(auth).hasToString("AuthFile[" + file + ", 2 users]").isEqualTo(AuthFile.read(file));
        assertThat(auth.toString()).doesNotContain("pw").doesNotContain("SCRAM");

        Files.writeString(file, "\"ann\" \"" + VERIFIER + "\"\n\"bob\" \"changed\"\n");
        assertThat(AuthFile.read(file)).as("another password").isNotEqualTo(auth);
        assertThatThrownBy(() -> AuthFile.read(dir.resolve("missing"))).isInstanceOf(NoSuchFileException.class);
    }

    @Test
    void aFileOthersMayReadIsWarnedAbout() throws Exception {
        Path file = Files.writeString(dir.resolve("users.txt"), "\"ann\" \"secret-pw\"\n");
        Logger logger = (Logger) LoggerFactory.getLogger(AuthFile.class);
        ListAppender<ILoggingEvent> events = new ListAppender<>();
        events.start();
        logger.addAppender(events);
        try {
            Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-------"));
            AuthFile.read(file);
            assertThat(events.list).isEmpty();
            assertThat(AuthFile.exposure(file)).isNull();

            Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-r-----"));
            assertThat(AuthFile.exposure(file)).isEqualTo("group (mode rw-r-----)");
            Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-r--r--"));
            AuthFile.read(file);
            assertThat(events.list).singleElement().satisfies(e -> {
                assertThat(e.getLevel().toString()).isEqualTo("WARN");
                assertThat(e.getFormattedMessage()).isEqualTo("auth_file " + file + " can be read by group and others"
                        + " (mode rw-r--r--): it holds passwords or their hashes; chmod 600 it")
                        .doesNotContain("secret-pw");
            });
        } finally {
            logger.detachAppender(events);
        }
    }

    /** Bytes that are not UTF-8 are read as replacement characters, not refused: PgBouncer takes any bytes. */
    @Test
    void anyBytes() {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        b.writeBytes("\"a".getBytes(StandardCharsets.US_ASCII));
        b.write(0xff);
        b.writeBytes("\" \"pw\"".getBytes(StandardCharsets.US_ASCII));
        assertThat(AuthFile.parse(b.toByteArray())).containsOnlyKeys("a\ufffd");
        assertThat(List.of(AuthFile.MAX_USERNAME, AuthFile.MAX_PASSWORD)).containsExactly(128, 2048);
    }
}
