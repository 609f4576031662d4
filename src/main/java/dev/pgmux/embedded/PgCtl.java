package dev.pgmux.embedded;

import dev.pgmux.embedded.Commands.CommandFailure;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * The processes of one server, through {@code pg_ctl} as the {@link ServerUser}: start, the stop modes,
 * promote, and a crash (SIGKILL) for fault tests. {@link LocalPostgres} calls it under its own monitor and
 * keeps the state; this class only knows the server's directory ({@code data/} and {@code server.log} in it).
 */
final class PgCtl {

    private static final int LOG_TAIL_LINES = 40;

    private final Path binDir;
    private final ServerUser serverUser;
    private final Path baseDir;
    private final Path dataDir;
    private final Path logFile;

    PgCtl(Path binDir, ServerUser serverUser, Path baseDir) {
        this.binDir = binDir;
        this.serverUser = serverUser;
        this.baseDir = baseDir;
        this.dataDir = baseDir.resolve("data");
        this.logFile = baseDir.resolve("server.log");
    }

    /** Thrown by {@link #start(int)}; the message ends with the server log's tail. */
    static final class StartFailure extends IllegalStateException {
        final boolean portTaken;

        StartFailure(String message, boolean portTaken) {
            super(message);
            this.portTaken = portTaken;
        }
    }

    Path dataDir() {
        return dataDir;
    }

    Path logFile() {
        return logFile;
    }

    /** Starts the server on {@code port} and waits until it accepts connections. */
    void start(int port) {
        long logSize = logSize();
        try {
            pgCtl("-l", logFile.toString(), "-w", "-t", "60", "-o", "-p " + port, "start");
        } catch (CommandFailure e) {
            try {
                // pg_ctl gives up after its timeout while a slow postmaster may still come up: stop it.
                stopImmediate();
            } catch (CommandFailure expected) {
                // no server running: the usual case
            }
            String tail = logTail(logSize);
            boolean portTaken = tail.contains("could not bind") || tail.contains("could not create any TCP/IP sockets");
            throw new StartFailure("PostgreSQL did not start on " + LocalPostgres.HOST + ":" + port + " (" + dataDir
                    + "): " + e.getMessage() + "\n--- " + logFile + " ---\n" + tail, portTaken);
        }
    }

    /** A fast shutdown ({@code pg_ctl -m fast stop}), also when a smart one begun earlier has finished it. */
    void stopFast() {
        try {
            pgCtl("-m", "fast", "-w", "-t", "60", "stop");
        } catch (CommandFailure e) {
            if (Files.exists(dataDir.resolve("postmaster.pid"))) {
                throw e;
            }
            // already gone: it finished a shutdown begun by beginSmartStop()
        }
    }

    /** Immediate mode: for the JVM's exit and a start that timed out, where nothing needs a clean shutdown. */
    void stopImmediate() {
        pgCtl("-m", "immediate", "-w", "-t", "10", "stop");
    }

    /** Begins a smart shutdown and returns at once. */
    void beginSmartStop() {
        pgCtl("-m", "smart", "-W", "stop");
    }

    void promote() {
        pgCtl("-w", "-t", "60", "promote");
    }

    /** SIGKILLs the postmaster and all its children, and waits until they are gone. */
    void kill() {
        long pid = postmasterPid();
        ProcessHandle postmaster = ProcessHandle.of(pid).orElse(null);
        List<ProcessHandle> processes = new ArrayList<>();
        if (postmaster != null) {
            // Children run in sessions of their own (PostgreSQL calls setsid), so there is no group to kill.
            // Freeze the postmaster first so that it cannot fork a backend between the list and the kill.
            Commands.run(List.of("kill", "-STOP", Long.toString(pid)), baseDir, Duration.ofSeconds(10));
            // kill(2) only queues the signal: wait until the postmaster is stopped.
            Commands.waitFor(() -> "TtZX".indexOf(Commands.procState(pid)) >= 0, Duration.ofSeconds(5));
            processes.add(postmaster);
            postmaster.children().forEach(processes::add);
        }
        processes.forEach(ProcessHandle::destroyForcibly);
        for (ProcessHandle p : processes) {
            // A zombie counts as gone: it holds no socket or shared memory any more.
            Commands.waitFor(() -> !p.isAlive() || "ZX".indexOf(Commands.procState(p.pid())) >= 0,
                    Duration.ofSeconds(10));
        }
        try {
            // The dead postmaster may linger as a zombie when nobody reaps orphans (PID 1 in some
            // containers); a new postmaster would see its pid alive in postmaster.pid and refuse to start.
            Files.deleteIfExists(dataDir.resolve("postmaster.pid"));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private void pgCtl(String... args) {
        List<String> cmd = new ArrayList<>(List.of(binDir.resolve("pg_ctl").toString(), "-D", dataDir.toString()));
        cmd.addAll(List.of(args));
        serverUser.run(cmd, baseDir);
    }

    private long postmasterPid() {
        try {
            return Long.parseLong(Files.readAllLines(dataDir.resolve("postmaster.pid")).getFirst().strip());
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read the postmaster's pid in " + dataDir, e);
        }
    }

    private long logSize() {
        try {
            return Files.exists(logFile) ? Files.size(logFile) : 0;
        } catch (IOException e) {
            return 0;
        }
    }

    /** The last lines the server logged since {@code fromByte}: the reason it did not start is there. */
    private String logTail(long fromByte) {
        try {
            if (!Files.exists(logFile)) {
                return "(no log written)";
            }
            byte[] all = Files.readAllBytes(logFile);
            int from = (int) Math.min(fromByte, all.length);
            List<String> lines = new String(all, from, all.length - from, StandardCharsets.UTF_8).lines().toList();
            return String.join("\n", lines.subList(Math.max(0, lines.size() - LOG_TAIL_LINES), lines.size()));
        } catch (IOException e) {
            return "(cannot read the log: " + e + ")";
        }
    }
}
