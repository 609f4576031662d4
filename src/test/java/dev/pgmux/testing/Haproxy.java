package dev.pgmux.testing;

import java.io.IOException;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

/**
 * Debian's haproxy in TCP mode in front of a pgmux port, sending PROXY protocol v2 headers ({@code send-proxy-v2}):
 * the load balancer of the tests, where it is installed. Started in the foreground, stopped on close.
 */
public final class Haproxy implements AutoCloseable {
    private final Process process;
    private final int port;

    private Haproxy(Process process, int port) {
        this.process = process;
        this.port = port;
    }

    /** The haproxy program, or null where it is not installed (Debian puts it in /usr/sbin). */
    public static String command() {
        for (String d : System.getenv().getOrDefault("PATH", "").split(":")) {
            if (!d.isEmpty() && Files.isExecutable(Path.of(d, "haproxy"))) {
                return "haproxy";
            }
        }
        return Files.isExecutable(Path.of("/usr/sbin/haproxy")) ? "/usr/sbin/haproxy" : null;
    }

    /** Starts haproxy on a free loopback port, forwarding to {@code 127.0.0.1:backendPort}; returns once it listens. */
    public static Haproxy inFrontOf(int backendPort, Path dir) throws IOException {
        int port;
        try (ServerSocket s = new ServerSocket(0)) {
            port = s.getLocalPort();
        }
        Path config = dir.resolve("haproxy.cfg");
        Files.writeString(config, """
                global
                    maxconn 100
                defaults
                    mode tcp
                    timeout connect 5s
                    timeout client 60s
                    timeout server 60s
                frontend postgres
                    bind 127.0.0.1:%d
                    default_backend pgmux
                backend pgmux
                    server pgmux 127.0.0.1:%d send-proxy-v2
                """.formatted(port, backendPort));
        Path log = dir.resolve("haproxy.log");
        Process p = new ProcessBuilder(command(), "-db", "-f", config.toString()).redirectErrorStream(true)
                .redirectOutput(log.toFile()).start();
        Haproxy haproxy = new Haproxy(p, port);
        try {
            Await.until(Duration.ofSeconds(20), () -> "haproxy listening: " + read(log), haproxy::listening);
        } catch (AssertionError e) {
            haproxy.close();
            throw e;
        }
        return haproxy;
    }

    public int port() {
        return port;
    }

    private boolean listening() {
        // haproxy connects to pgmux for this probe too, sends its header and closes: harmless.
        try (Socket s = new Socket("127.0.0.1", port)) {
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    private static String read(Path file) {
        try {
            return Files.readString(file);
        } catch (IOException e) {
            return e.toString();
        }
    }

    @Override
    public void close() {
        process.destroy();
        try {
            process.waitFor(10, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
