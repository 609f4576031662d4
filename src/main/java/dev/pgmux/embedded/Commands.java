package dev.pgmux.embedded;

import java.io.File;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;

/**
 * Runs the short programs that set up and control a server (initdb, pg_ctl, cp, kill) and looks at processes
 * in /proc. Commands that the server user must run go through {@link ServerUser#run}.
 */
final class Commands {

    /** Enough for initdb or a pg_ctl start on a loaded CI machine; pg_ctl's own -t waits are shorter. */
    static final Duration TIMEOUT = Duration.ofSeconds(90);

    private Commands() {}

    /** A command that failed, did not finish in time or was interrupted; the message holds its output. */
    static final class CommandFailure extends IllegalStateException {
        CommandFailure(String message) {
            super(message);
        }
    }

    /**
     * Runs a command in {@code workDir} (a directory the server user can enter: some programs look at their
     * working directory) and returns its output, failing with that output on a non-zero exit.
     */
    static String run(List<String> command, Path workDir, Duration timeout) {
        // Output goes to a file, not a pipe, so that the timeout holds even if a child keeps the pipe open.
        Path out = workDir.resolve("command.out");
        ProcessBuilder pb = new ProcessBuilder(command)
                .directory(workDir.toFile())
                .redirectErrorStream(true)
                .redirectOutput(out.toFile())
                .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")));
        // Deterministic English messages (the port-taken check reads them) and no PGPORT/PGDATA surprises.
        pb.environment().keySet().removeIf(k -> k.startsWith("PG") || k.startsWith("LC_"));
        pb.environment().put("LC_ALL", "C");
        pb.environment().put("LANG", "C");
        try {
            Process p = pb.start();
            boolean finished = p.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS);
            String output = Files.readString(out, StandardCharsets.UTF_8).strip();
            Files.deleteIfExists(out);
            if (!finished) {
                p.destroyForcibly();
                throw new CommandFailure(String.join(" ", command) + " did not finish in " + timeout + ": " + output);
            }
            if (p.exitValue() != 0) {
                throw new CommandFailure(String.join(" ", command) + " failed (exit " + p.exitValue() + "): " + output);
            }
            return output;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot run " + command, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new CommandFailure("interrupted while running " + command);
        }
    }

    /** A short command's trimmed stdout, or "" when it fails (getent for a missing group exits 2). */
    static String output(String... command) {
        try {
            Process p = new ProcessBuilder(command).redirectError(ProcessBuilder.Redirect.DISCARD).start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
            return p.waitFor() == 0 ? out : "";
        } catch (IOException e) {
            return "";
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return "";
        }
    }

    /** The program on the PATH, or in the system folders when the PATH lacks them (sbin for root's tools). */
    static Optional<Path> onPath(String program) {
        String path = Objects.requireNonNullElse(System.getenv("PATH"), "") + ":/usr/bin:/bin:/usr/sbin:/sbin";
        for (String dir : path.split(":")) {
            if (!dir.isEmpty() && Files.isExecutable(Path.of(dir, program))) {
                return Optional.of(Path.of(dir, program));
            }
        }
        return Optional.empty();
    }

    static void waitFor(BooleanSupplier condition, Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new IllegalStateException("gave up waiting after " + timeout);
            }
            try {
                Thread.sleep(2);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted", e);
            }
        }
    }

    /** The state letter of /proc/PID/stat (R, S, T, Z…), or 'X' (dead) when the process is gone. */
    static char procState(long pid) {
        try {
            String stat = Files.readString(Path.of("/proc", Long.toString(pid), "stat"));
            // Format: "pid (comm) S ...": comm may hold spaces and parentheses, so look after the last ')'.
            return stat.charAt(stat.lastIndexOf(')') + 2);
        } catch (IOException | RuntimeException e) {
            return 'X';
        }
    }
}
