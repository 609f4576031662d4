package dev.pgmux.cli;

import dev.pgmux.auth.ScramVerifier;
import java.io.ByteArrayOutputStream;
import java.io.Console;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintWriter;
import java.util.Arrays;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code pgmux passwd USER}: makes a SCRAM-SHA-256 verifier for a password, as PostgreSQL would store it, and prints
 * the auth-file line for it ({@code "USER" "SCRAM-SHA-256$..."}, PgBouncer's format) so that no plain password need
 * be written down. The password is asked twice on the terminal without echo, or read as the first line of standard
 * input when that is not a terminal (its bytes as they are: PostgreSQL hashes bytes that are not UTF-8 raw).
 * Exit 0 with the line, 1 when no usable password was given, 2 for bad arguments.
 */
@Command(name = "passwd", mixinStandardHelpOptions = true, versionProvider = Main.Version.class, sortOptions = false,
        description = {
            "Prints the auth-file line for USER with a SCRAM-SHA-256 verifier of a password, as PostgreSQL stores"
                    + " it: \"USER\" \"SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>\".",
            "The password is asked twice on the terminal, without echo. When standard input is not a terminal, its"
                    + " first line is the password."
        })
final class PasswdCommand implements Callable<Integer> {

    @Parameters(index = "0", paramLabel = "USER", description = "The user name the line is for.")
    String user;

    @Option(names = "--verifier-only",
            description = "Print only the verifier, e.g. for ALTER ROLE ... PASSWORD '<verifier>'.")
    boolean verifierOnly;

    @Spec
    CommandSpec spec;

    /** Asks for a password without echo; null when standard input is not a terminal. Tests replace it. */
    Terminal terminal = Terminal.system();
    /** Read when there is no terminal. Tests replace it. */
    InputStream stdin = System.in;

    /** The part of {@link Console} this command uses. */
    interface Terminal {
        /** The password typed after this prompt, or null at the end of input. */
        char[] readPassword(String prompt);

        /** The console when standard input and output are a terminal, else null. */
        static Terminal system() {
            Console console = System.console();
            if (console == null || !isTerminal(console)) {
                return null;
            }
            return prompt -> console.readPassword("%s", prompt);
        }

        /**
         * Console.isTerminal() (Java 22+): from Java 22 on, System.console() is not null when input is redirected.
         * Built for Java 21, where a console means a terminal.
         */
        private static boolean isTerminal(Console console) {
            try {
                return (Boolean) Console.class.getMethod("isTerminal").invoke(console);
            } catch (NoSuchMethodException e) {
                return true;
            } catch (ReflectiveOperationException e) {
                return false;
            }
        }
    }

    /** No usable password: the message says why. */
    private static final class NoPassword extends Exception {
        NoPassword(String message) {
            super(message, null, false, false);
        }
    }

    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        ScramVerifier verifier;
        try {
            verifier = terminal != null ? fromTerminal() : fromStdin();
        } catch (NoPassword e) {
            err.println("pgmux passwd: " + e.getMessage());
            return 1;
        } catch (IOException e) {
            err.println("pgmux passwd: cannot read the password: " + e.getMessage());
            return 1;
        }
        out.println(verifierOnly ? verifier.text() : quote(user) + " " + quote(verifier.text()));
        out.flush();
        return 0;
    }

    private ScramVerifier fromTerminal() throws NoPassword {
        char[] first = terminal.readPassword("Password for " + user + ": ");
        char[] again = null;
        try {
            if (first == null || first.length == 0) {
                throw new NoPassword("no password given");
            }
            again = terminal.readPassword("Again: ");
            if (again == null || !Arrays.equals(first, again)) {
                throw new NoPassword("the passwords do not match");
            }
            return generate(first);
        } finally {
            wipe(first);
            wipe(again);
        }
    }

    private ScramVerifier fromStdin() throws IOException, NoPassword {
        byte[] line = firstLine(stdin);
        try {
            if (line.length == 0) {
                throw new NoPassword("no password on standard input (its first line is the password)");
            }
            try {
                return ScramVerifier.generate(line);
            } catch (IllegalArgumentException e) {
                throw new NoPassword(e.getMessage());
            }
        } finally {
            Arrays.fill(line, (byte) 0);
        }
    }

    private static ScramVerifier generate(char[] password) throws NoPassword {
        try {
            return ScramVerifier.generate(password);
        } catch (IllegalArgumentException e) {
            throw new NoPassword(e.getMessage()); // says what is wrong, not the password
        }
    }

    /** The bytes before the first line end ({@code \n} or {@code \r\n}) or the end of input. */
    static byte[] firstLine(InputStream in) throws IOException {
        ByteArrayOutputStream line = new ByteArrayOutputStream();
        for (int b = in.read(); b != -1 && b != '\n'; b = in.read()) {
            line.write(b);
        }
        byte[] bytes = line.toByteArray();
        int end = bytes.length > 0 && bytes[bytes.length - 1] == '\r' ? bytes.length - 1 : bytes.length;
        byte[] result = Arrays.copyOf(bytes, end);
        Arrays.fill(bytes, (byte) 0);
        return result;
    }

    /** An auth-file field: in double quotes, a double quote doubled (PgBouncer's auth_file). */
    static String quote(String field) {
        return "\"" + field.replace("\"", "\"\"") + "\"";
    }

    private static void wipe(char[] chars) {
        if (chars != null) {
            Arrays.fill(chars, '\0');
        }
    }
}
