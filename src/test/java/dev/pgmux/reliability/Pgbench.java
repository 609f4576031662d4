package dev.pgmux.reliability;

import static org.assertj.core.api.Assertions.assertThat;

import dev.pgmux.testing.TestServers;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * pgbench through a proxy port, as alice in {@link Jdbc#DATABASE}. Output goes to a file, not a pipe, so that a
 * run leaves no file descriptor behind in this JVM (the soak test counts them).
 */
final class Pgbench {
    private static final Pattern PROCESSED =
            Pattern.compile("number of transactions actually processed: (\\d+)(?:/(\\d+))?");
    private static final Pattern FAILED = Pattern.compile("number of failed transactions: (\\d+)");

    /** What a run reported. */
    record Result(long processed, long failed, String output) {
    }

    private Pgbench() {
    }

    static boolean installed() {
        for (String dir : System.getenv().getOrDefault("PATH", "").split(":")) {
            if (!dir.isEmpty() && Files.isExecutable(Path.of(dir, "pgbench"))) {
                return true;
            }
        }
        return false;
    }

    static String conninfo(int port) {
        return "host=127.0.0.1 port=" + port + " user=" + TestServers.ALICE + " dbname=" + Jdbc.DATABASE
                + " sslmode=disable connect_timeout=10";
    }

    /** Starts pgbench with these arguments; its output goes to {@code log}. */
    static Process start(int port, Path log, String... args) throws IOException {
        List<String> cmd = new ArrayList<>(List.of("pgbench"));
        cmd.addAll(List.of(args));
        cmd.add(conninfo(port));
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile())
                .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")));
        pb.environment().put("PGPASSWORD", TestServers.ALICE_PASSWORD);
        return pb.start();
    }

    /** Waits for a started run and parses what it reported; fails if pgbench failed. */
    static Result finish(Process p, Path log, long timeoutSeconds) throws Exception {
        boolean ended = p.waitFor(timeoutSeconds, TimeUnit.SECONDS);
        if (!ended) {
            p.destroyForcibly().waitFor();
        }
        String out = Files.readString(log);
        assertThat(ended).as("pgbench ended within " + timeoutSeconds + " s:\n" + out).isTrue();
        assertThat(p.exitValue()).as(out).isZero();
        Matcher processed = PROCESSED.matcher(out);
        Matcher failed = FAILED.matcher(out);
        return new Result(processed.find() ? Long.parseLong(processed.group(1)) : -1,
                failed.find() ? Long.parseLong(failed.group(1)) : 0, out);
    }

    static Result run(int port, Path log, long timeoutSeconds, String... args) throws Exception {
        return finish(start(port, log, args), log, timeoutSeconds);
    }
}
