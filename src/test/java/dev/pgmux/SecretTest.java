package dev.pgmux;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A password in memory: read once, printed never, compared without an early exit. */
class SecretTest {
    static final String VALUE = "s3cr3t-never-shown";

    @TempDir
    Path dir;

    @Test
    void aGivenPasswordPrintsAsStars() {
        Secret s = Secret.of(VALUE);
        assertThat(s.chars()).containsExactly(VALUE.toCharArray());
        assertThat(s).hasToString("Secret[***]");
        assertThatThrownBy(() -> Secret.of("")).hasMessage("the password is empty");
    }

    @Test
    void charsIsACopy() {
        Secret s = Secret.of(VALUE);
        char[] first = s.chars();
        java.util.Arrays.fill(first, 'x');
        assertThat(s.chars()).containsExactly(VALUE.toCharArray());
    }

    @Test
    void fromTheEnvironmentNamesTheVariableNeverTheValue() {
        Secret s = Secret.fromEnv(" PW ", Map.of("PW", VALUE));
        assertThat(s.chars()).containsExactly(VALUE.toCharArray());
        assertThat(s).hasToString("Secret[env:PW]");
        assertThatThrownBy(() -> Secret.fromEnv("MISSING", Map.of("PW", VALUE)))
                .hasMessage("the environment variable MISSING is not set");
        assertThatThrownBy(() -> Secret.fromEnv("PW", Map.of("PW", "")))
                .hasMessage("the environment variable PW is empty");
        assertThatThrownBy(() -> Secret.fromEnv(" ", Map.of())).hasMessage("no environment variable named");
    }

    @Test
    void theProcessEnvironmentToo() {
        String name = System.getenv().containsKey("PATH") ? "PATH" : System.getenv().keySet().iterator().next();
        assertThat(Secret.fromEnv(name).chars()).containsExactly(System.getenv(name).toCharArray());
        assertThatThrownBy(() -> Secret.fromEnv("PGMUX_NO_SUCH_VARIABLE_42"))
                .hasMessage("the environment variable PGMUX_NO_SUCH_VARIABLE_42 is not set");
    }

    @Test
    void fromAFileWithoutItsLineBreaks() throws Exception {
        Path unix = Files.writeString(dir.resolve("unix"), VALUE + "\n");
        Path windows = Files.writeString(dir.resolve("windows"), VALUE + "\r\n");
        Path none = Files.writeString(dir.resolve("none"), VALUE);
        Path inner = Files.writeString(dir.resolve("inner"), " two\nlines \n\n");
        Path unicode = Files.writeString(dir.resolve("unicode"), "pässwörd€\n");
        assertThat(Secret.fromFile(unix).chars()).containsExactly(VALUE.toCharArray());
        assertThat(Secret.fromFile(windows).chars()).containsExactly(VALUE.toCharArray());
        assertThat(Secret.fromFile(none).chars()).containsExactly(VALUE.toCharArray());
        assertThat(Secret.fromFile(inner).chars()).as("spaces and inner line breaks are the password's")
                .containsExactly(" two\nlines ".toCharArray());
        assertThat(Secret.fromFile(unicode).chars()).containsExactly("pässwörd€".toCharArray());
        assertThat(Secret.fromFile(unix)).hasToString("Secret[file:" + unix + "]");
    }

    @Test
    void aMissingOrEmptyFileIsNamed() throws Exception {
        Path missing = dir.resolve("missing");
        assertThatThrownBy(() -> Secret.fromFile(missing)).hasMessage("password file " + missing + ": no such file");
        Path empty = Files.writeString(dir.resolve("empty"), "\n");
        assertThatThrownBy(() -> Secret.fromFile(empty)).hasMessage("password file " + empty + " is empty");
        assertThatThrownBy(() -> Secret.fromFile(dir)).hasMessageStartingWith("password file " + dir + " cannot be read");
    }

    @Test
    void equalWhenFromTheSamePlaceWithTheSameValue() throws Exception {
        Path file = Files.writeString(dir.resolve("pw"), VALUE);
        assertThat(Secret.fromFile(file)).isEqualTo(Secret.fromFile(file))
                .hasSameHashCodeAs(Secret.fromFile(file));
        assertThat(Secret.of(VALUE)).isEqualTo(Secret.of(VALUE));
        assertThat(Secret.fromEnv("A", Map.of("A", VALUE))).isEqualTo(Secret.fromEnv("A", Map.of("A", VALUE)));

        Secret before = Secret.fromFile(file);
        Files.writeString(file, VALUE + "2");
        assertThat(Secret.fromFile(file)).as("the file changed").isNotEqualTo(before);
        assertThat(Secret.of("abc")).isNotEqualTo(Secret.of("abd")).isNotEqualTo(Secret.of("ab"));
        assertThat(Secret.fromEnv("A", Map.of("A", VALUE))).as("another source")
                .isNotEqualTo(Secret.fromEnv("B", Map.of("B", VALUE))).isNotEqualTo(Secret.of(VALUE));
    }
}
