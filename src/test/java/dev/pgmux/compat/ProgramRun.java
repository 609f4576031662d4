package dev.pgmux.compat;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * A command run to its end (or killed at a time limit, with its children), its output kept in files: the check
 * programs, npm, and the probes that find out whether a driver is installed. The PG* environment variables are
 * removed: they would change what libpq, node-postgres and postgres.js connect to.
 */
record ProgramRun(List<String> command, int exit, String stdout, String stderr, Duration took, boolean timedOut) {

    static ProgramRun run(Path dir, Duration timeout, List<String> command, Map<String, String> env)
            throws IOException, InterruptedException {
        Path out = Files.createTempFile("compat-out", ".txt");
        Path err = Files.createTempFile("compat-err", ".txt");
        try {
            ProcessBuilder pb = new ProcessBuilder(command).directory(dir.toFile())
                    .redirectOutput(out.toFile()).redirectError(err.toFile())
                    .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")));
            pb.environment().keySet().removeIf(name -> name.startsWith("PG"));
            pb.environment().putAll(env);
            long t0 = System.nanoTime();
            Process p = pb.start();
            boolean timedOut = !p.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS);
            if (timedOut) {
                kill(p);
            }
            return new ProgramRun(command, timedOut ? -1 : p.exitValue(),
                    Files.readString(out, StandardCharsets.UTF_8), Files.readString(err, StandardCharsets.UTF_8),
                    Duration.ofNanos(System.nanoTime() - t0), timedOut);
        } finally {
            Files.deleteIfExists(out);
            Files.deleteIfExists(err);
        }
    }

    static ProgramRun run(Duration timeout, String... command) throws IOException, InterruptedException {
        return run(Path.of("."), timeout, List.of(command), Map.of());
    }

    /** SIGKILL to a process and its children, as a crash or the OOM killer would end it. */
    static void kill(Process p) throws InterruptedException {
        p.descendants().forEach(ProcessHandle::destroyForcibly);
        p.destroyForcibly().waitFor();
    }

    boolean ok() {
        return exit == 0;
    }

    List<String> lines() {
        return stdout.lines().toList();
    }

    String describe() {
        List<String> shown = command.contains("-cp")
                ? command.subList(command.indexOf("-cp") + 2, command.size()) : command;
        return String.join(" ", shown) + (timedOut ? " (killed at its time limit)" : " exited " + exit)
                + "\nstdout:\n" + stdout + "\nstderr:\n" + stderr;
    }
}
