package dev.pgmux.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.pgmux.auth.ScramVerifier;
import java.io.ByteArrayInputStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/**
 * {@code pgmux passwd}: the auth-file line with a verifier of the password read from the terminal (twice) or from
 * standard input, and nothing else on standard output.
 */
class PasswdCommandTest {

    @Test
    void aLineFromStandardInputMakesTheAuthFileLine() {
        Run run = Run.stdin("pencil\n", "passwd", "alice");

        assertThat(run.exit).isZero();
        assertThat(run.err).isEmpty();
        String line = run.out.strip();
        String b64 = "[A-Za-z0-9+/=]";
        assertThat(line).matches("\"alice\" \"SCRAM-SHA-256\\$4096:" + b64 + "{24}\\$" + b64 + "{44}:" + b64 + "{44}\"");
        ScramVerifier verifier = ScramVerifier.parse(line.substring("\"alice\" \"".length(), line.length() - 1));
        assertThat(verifier.matches("pencil".toCharArray())).isTrue();
        assertThat(run.out).doesNotContain("pencil");
    }

    @Test
    void verifierOnlyAndQuotes() {
        Run only = Run.stdin("pencil\r\nignored\n", "passwd", "--verifier-only", "alice");
        assertThat(only.exit).isZero();
        assertThat(ScramVerifier.parse(only.out.strip()).matches("pencil".toCharArray())).isTrue();

        Run quoted = Run.stdin("pencil", "passwd", "say \"hi\"");
        assertThat(quoted.out).startsWith("\"say \"\"hi\"\"\" \"SCRAM-SHA-256$");
    }

    @Test
    void bytesThatAreNotUtf8AreHashedAsTheyAre() {
        byte[] latin1 = "p\u00e4ss\n".getBytes(StandardCharsets.ISO_8859_1);
        Run run = Run.of(new PasswdCommand(), latin1, null, "passwd", "--verifier-only", "alice");

        ScramVerifier verifier = ScramVerifier.parse(run.out.strip());
        assertThat(verifier.matches("p\u00e4ss".getBytes(StandardCharsets.ISO_8859_1))).isTrue();
        assertThat(verifier.matches("p\u00e4ss".toCharArray())).isFalse();
    }

    @Test
    void noPasswordIsAnError() {
        Run empty = Run.stdin("\n", "passwd", "alice");
        assertThat(empty.exit).isEqualTo(1);
        assertThat(empty.out).isEmpty();
        assertThat(empty.err.strip())
                .isEqualTo("pgmux passwd: no password on standard input (its first line is the password)");

        Run nul = Run.stdin("a\0b\n", "passwd", "alice");
        assertThat(nul.exit).isEqualTo(1);
        assertThat(nul.err.strip()).isEqualTo("pgmux passwd: a password cannot hold a NUL character");

        Run noUser = Run.stdin("pencil\n", "passwd");
        assertThat(noUser.exit).isEqualTo(2);
        assertThat(noUser.err).contains("Missing required parameter: 'USER'");
    }

    @Test
    void theTerminalAsksTwice() {
        FakeTerminal terminal = new FakeTerminal("p\u00e4ss", "p\u00e4ss");
        Run run = Run.of(new PasswdCommand(), new byte[0], terminal, "passwd", "--verifier-only", "alice");

        assertThat(run.exit).isZero();
        assertThat(terminal.prompts).containsExactly("Password for alice: ", "Again: ");
        assertThat(ScramVerifier.parse(run.out.strip()).matches("p\u00e4ss".toCharArray())).isTrue();

        Run mismatch = Run.of(new PasswdCommand(), new byte[0], new FakeTerminal("one", "two"), "passwd", "alice");
        assertThat(mismatch.exit).isEqualTo(1);
        assertThat(mismatch.out).isEmpty();
        assertThat(mismatch.err.strip()).isEqualTo("pgmux passwd: the passwords do not match");

        Run nothing = Run.of(new PasswdCommand(), new byte[0], new FakeTerminal(), "passwd", "alice");
        assertThat(nothing.exit).isEqualTo(1);
        assertThat(nothing.err.strip()).isEqualTo("pgmux passwd: no password given");
    }

    @Test
    void theHelpListsIt() {
        Run help = Run.stdin("", "--help");
        assertThat(help.exit).isZero();
        assertThat(help.out).contains("passwd").contains("auth-file line");

        Run own = Run.stdin("", "passwd", "--help");
        assertThat(own.out).contains("--verifier-only").contains("USER");
    }

    /** Answers prompts with the given passwords, then with null (the end of input). */
    static final class FakeTerminal implements PasswdCommand.Terminal {
        final Deque<String> answers;
        final List<String> prompts = new ArrayList<>();

        FakeTerminal(String... answers) {
            this.answers = new ArrayDeque<>(List.of(answers));
        }

        @Override
        public char[] readPassword(String prompt) {
            prompts.add(prompt);
            String next = answers.poll();
            return next == null ? null : next.toCharArray();
        }
    }

    /** One in-process run of the command line with this standard input. */
    record Run(int exit, String out, String err) {
        static Run stdin(String input, String... args) {
            return of(new PasswdCommand(), input.getBytes(StandardCharsets.UTF_8), null, args);
        }

        static Run of(PasswdCommand passwd, byte[] input, PasswdCommand.Terminal terminal, String... args) {
            passwd.stdin = new ByteArrayInputStream(input);
            passwd.terminal = terminal;
            StringWriter out = new StringWriter();
            StringWriter err = new StringWriter();
            // this command object, with this input, in place of the one picocli would make
            CommandLine cli = new CommandLine(new Main(), new Factory(passwd));
            int exit = cli.setOut(new PrintWriter(out, true)).setErr(new PrintWriter(err, true)).execute(args);
            return new Run(exit, out.toString(), err.toString());
        }
    }

    /** Hands picocli this PasswdCommand; everything else as picocli would make it. */
    record Factory(PasswdCommand passwd) implements CommandLine.IFactory {
        @Override
        public <K> K create(Class<K> cls) throws Exception {
            if (cls == PasswdCommand.class) {
                return cls.cast(passwd);
            }
            return CommandLine.defaultFactory().create(cls);
        }
    }
}
