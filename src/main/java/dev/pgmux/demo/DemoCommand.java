package dev.pgmux.demo;

import dev.pgmux.BackendConfig;
import dev.pgmux.Limits;
import dev.pgmux.ProxyServer;
import dev.pgmux.StaticRouter;
import dev.pgmux.TcpPort;
import dev.pgmux.embedded.Binaries;
import dev.pgmux.embedded.LocalPostgres;
import java.io.IOException;
import java.io.PrintStream;
import java.net.BindException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code pgmux demo}: two throwaway PostgreSQL servers, A and B, and pgmux in front of them routing user
 * {@code alice} to A and {@code bob} to B. Each server has a database {@code lab} owned by its user and a table
 * {@code server_info} naming the server, so one query shows which backend answered. The banner on stdout says
 * exactly what to type; logs go to stderr. SIGINT/SIGTERM stop the proxy and both servers and delete their data.
 *
 * <p>The listen port is checked (and held) before the servers start: a taken port should cost the user no
 * wait, and no PostgreSQL server may grab it while they start.
 */
@Command(name = "demo", sortOptions = false,
        description = {
            "Starts two throwaway PostgreSQL " + DemoCommand.POSTGRES_VERSION + " servers and pgmux in front of them:"
                    + " user alice is routed to server A, user bob to server B. Prints the psql commands to try;"
                    + " Ctrl-C stops everything and deletes the servers' data.",
            "Needs the PostgreSQL binaries the build puts in target/postgres (./pgmux demo in a source checkout);"
                    + " elsewhere give -D" + Binaries.DIR_PROPERTY + "=DIR."
        })
public final class DemoCommand implements Callable<Integer> {

    static final String POSTGRES_VERSION = "17";
    static final String DATABASE = "lab";
    /** The demo's admin console user. */
    static final String ADMIN = "admin";
    /** Idle demo sessions end at once; a busy one gets this long before FATAL 57P01. */
    private static final Duration SHUTDOWN_TIMEOUT = Duration.ofSeconds(5);
    /** No 0/O, 1/l/I: the password is read off a terminal and typed again. Nothing needs escaping in a URI. */
    private static final String PASSWORD_ALPHABET = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    private static final int PASSWORD_LENGTH = 12;
    private static final SecureRandom RANDOM = new SecureRandom();
    private static final Logger log = LoggerFactory.getLogger(DemoCommand.class);

    @Option(names = "--port", paramLabel = "PORT", defaultValue = "5434",
            description = "Port pgmux listens on (0: any free port). Default: ${DEFAULT-VALUE}.")
    int port;

    @Option(names = "--listen-host", paramLabel = "HOST", defaultValue = "127.0.0.1",
            description = "Address pgmux listens on. Default: ${DEFAULT-VALUE}.")
    String listenHost;

    @Option(names = {"-h", "--help"}, usageHelp = true, description = "Show this help message and exit.")
    boolean help;

    public DemoCommand() {
    }

    /** One server of the demo: its label (A, B), the user routed to it and that user's password. */
    private record Backend(String label, String user, String password, LocalPostgres server) {

        String description() {
            return "server " + label + " (PostgreSQL " + server.version() + " on port " + server.port() + ")";
        }

        /** The folder LocalPostgres created for this server (data directory and log); gone after close. */
        Path directory() {
            return server.dataDir().getParent();
        }
    }

    @Override
    public Integer call() {
        long started = System.nanoTime();
        if (!TcpPort.isValidToListen(port)) {
            return fail("--port must be between 0 and " + TcpPort.MAX + ", not " + port);
        }
        Path binaries = binariesJar();
        if (!Files.isRegularFile(binaries)) {
            return fail("PostgreSQL " + POSTGRES_VERSION + " server binaries not found at " + binaries
                    + ". The demo needs them: run ./pgmux demo in a source checkout (the build provides them),"
                    + " or give -D" + Binaries.DIR_PROPERTY + "=DIR, DIR holding " + POSTGRES_VERSION
                    + "/postgres.jar (e.g. PGMUX_JAVA_OPTS=-D" + Binaries.DIR_PROPERTY + "=DIR bin/pgmux demo)");
        }

        Running running = new Running();
        Runtime.getRuntime().addShutdownHook(new Thread(running::close, "pgmux-demo-shutdown"));
        List<Backend> backends;
        int listenPort;
        try (ServerSocket reserved = reserve()) {
            listenPort = reserved.getLocalPort();
            backends = startBackends(running);
        } catch (IOException e) {
            return fail(cannotListen(listenAddress(port), e));
        } catch (RuntimeException e) {
            running.close();
            return fail("PostgreSQL did not start: " + e.getMessage());
        }

        Backend a = backends.get(0);
        Backend b = backends.get(1);
        StaticRouter router = StaticRouter.of(Map.of(
                a.user(), BackendConfig.of(LocalPostgres.HOST, a.server().port(), null),
                b.user(), BackendConfig.of(LocalPostgres.HOST, b.server().port(), null)));
        String listen = listenAddress(listenPort);
        // The admin console, for a user of the demo's own (its SCRAM verifier in a temporary auth file)
        String adminPassword = password();
        dev.pgmux.auth.AuthFile authFile;
        try {
            java.nio.file.Path users = java.nio.file.Files.createTempFile("pgmux-demo-users", ".txt");
            users.toFile().deleteOnExit(); // also when a Ctrl-C came before it was registered
            running.file(users);
            java.nio.file.Files.writeString(users, "\"" + ADMIN + "\" \""
                    + dev.pgmux.auth.ScramVerifier.generate(adminPassword.toCharArray()).text() + "\"\n");
            authFile = dev.pgmux.auth.AuthFile.read(users);
        } catch (IOException e) {
            running.close();
            return fail("cannot write the demo's auth file: " + e.getMessage());
        }
        ProxyServer proxy = new ProxyServer(listen, router)
                .withLimits(Limits.DEFAULT.withShutdownTimeout(SHUTDOWN_TIMEOUT))
                .withAuthFile(authFile)
                .withConsole(dev.pgmux.ConsoleConfig.of(java.util.Set.of(ADMIN), java.util.Set.of()));
        try {
            running.proxy(proxy.start());
        } catch (IOException e) {
            running.close();
            return fail(e.getMessage() + ": choose another port with --port");
        }
        log.info("demo ready listen={} ms={}", listen, (System.nanoTime() - started) / 1_000_000);
        printBanner(System.out, listen, listenPort, backends, adminPassword);

        try {
            proxy.awaitTermination();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        return 0;
    }

    private List<Backend> startBackends(Running running) {
        try (ExecutorService threads = Executors.newVirtualThreadPerTaskExecutor()) {
            CompletableFuture<Backend> a = CompletableFuture.supplyAsync(
                    () -> startBackend("A", "alice", running), threads);
            CompletableFuture<Backend> b = CompletableFuture.supplyAsync(
                    () -> startBackend("B", "bob", running), threads);
            try {
                return List.of(a.join(), b.join());
            } catch (CompletionException e) {
                // Wait for the other one too, so that closing finds it registered.
                CompletableFuture.allOf(a, b).exceptionally(t -> null).join();
                throw e.getCause() instanceof RuntimeException re ? re : e;
            }
        }
    }

    private static Backend startBackend(String label, String user, Running running) {
        String password = password();
        LocalPostgres server = LocalPostgres.builder()
                .version(POSTGRES_VERSION)
                .superuserPassword(password())
                .user(user, password, "scram-sha-256")
                .database(DATABASE, user)
                .start();
        running.add(server);
        Backend backend = new Backend(label, user, password, server);
        server.execute(DATABASE,
                "CREATE TABLE server_info(name text)",
                "INSERT INTO server_info VALUES ('" + backend.description() + "')",
                "GRANT SELECT ON server_info TO " + user);
        return backend;
    }

    private void printBanner(PrintStream out, String listen, int listenPort, List<Backend> backends,
                             String adminPassword) {
        String arrow = out.charset().newEncoder().canEncode('→') ? "→" : "->";
        String connectHost = connectHost();
        StringBuilder banner = new StringBuilder();
        banner.append("pgmux demo is running on ").append(listen).append(" (Ctrl-C to stop)\n");
        for (Backend backend : backends) {
            banner.append(String.format("  %-5s %s %s%n", backend.user(), arrow, backend.description()));
        }
        banner.append("  temporary data (deleted on exit): ")
                .append(String.join(", ", backends.stream().map(be -> be.directory().toString()).toList()))
                .append("\n\nTry (the first is pgmux's admin console: show pools, show servers, pause, resume ...):\n");
        banner.append("  psql \"postgresql://").append(ADMIN).append(':').append(adminPassword).append('@')
                .append(connectHost).append(':').append(listenPort).append("/pgmux\" -c \"show clients\"\n");
        for (Backend backend : backends) {
            banner.append("  psql \"postgresql://").append(backend.user()).append(':').append(backend.password())
                    .append('@').append(connectHost).append(':').append(listenPort).append('/').append(DATABASE)
                    .append("\" -c \"select * from server_info\"\n");
        }
        out.print(banner);
        out.flush();
    }

    private ServerSocket reserve() throws IOException {
        ServerSocket socket = new ServerSocket();
        try {
            // As the proxy's own bind does: a port left in TIME_WAIT by an earlier run is free.
            socket.setReuseAddress(true);
            socket.bind(bindAddress(port), 1);
            return socket;
        } catch (IOException e) {
            socket.close();
            throw e;
        }
    }

    private String cannotListen(String address, IOException e) {
        String reason = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
        if (e instanceof BindException && reason.contains("in use")) {
            return address + " is already in use: choose another port with --port" + suggestPort();
        }
        return "cannot listen on " + address + " (" + reason + "): choose another address with --listen-host"
                + " or another port with --port";
    }

    /** A free port next to the taken one, for the error message, or "" when none of them is free. */
    private String suggestPort() {
        for (int candidate = port + 1; candidate <= Math.min(port + 20, TcpPort.MAX); candidate++) {
            try (ServerSocket probe = new ServerSocket()) {
                probe.setReuseAddress(true);
                probe.bind(bindAddress(candidate), 1);
                return ", e.g. --port " + candidate;
            } catch (IOException taken) {
                // try the next one
            }
        }
        return "";
    }

    private InetSocketAddress bindAddress(int listenPort) {
        return listenHost.equals("*") ? new InetSocketAddress(listenPort)
                : new InetSocketAddress(unbracketed(listenHost), listenPort);
    }

    private String listenAddress(int listenPort) {
        String host = unbracketed(listenHost);
        return (host.contains(":") ? "[" + host + "]" : host) + ":" + listenPort;
    }

    /** Where a client on this machine connects: the listen address, or loopback when listening on all. */
    private String connectHost() {
        String host = unbracketed(listenHost);
        if (host.equals("*") || host.equals("0.0.0.0") || host.equals("::")) {
            return "127.0.0.1";
        }
        return host.contains(":") ? "[" + host + "]" : host;
    }

    private static String unbracketed(String host) {
        return host.startsWith("[") && host.endsWith("]") ? host.substring(1, host.length() - 1) : host;
    }

    /** Where {@link Binaries} will look, resolved the same way. */
    private static Path binariesJar() {
        return Path.of(System.getProperty(Binaries.DIR_PROPERTY, "target/postgres"), POSTGRES_VERSION, "postgres.jar")
                .toAbsolutePath().normalize();
    }

    private static String password() {
        StringBuilder password = new StringBuilder(PASSWORD_LENGTH);
        for (int i = 0; i < PASSWORD_LENGTH; i++) {
            password.append(PASSWORD_ALPHABET.charAt(RANDOM.nextInt(PASSWORD_ALPHABET.length())));
        }
        return password.toString();
    }

    private static int fail(String message) {
        System.err.println("pgmux demo: " + message);
        return 1;
    }

    /** What the demo has started so far; {@link #close()} stops it all, from the shutdown hook or on failure. */
    private static final class Running {
        private final List<LocalPostgres> servers = new ArrayList<>();
        private final List<java.nio.file.Path> files = new ArrayList<>();

        synchronized void file(java.nio.file.Path file) {
            files.add(file);
        }
        private ProxyServer proxy;
        private boolean closed;

        synchronized void add(LocalPostgres server) {
            servers.add(server);
        }

        synchronized void proxy(ProxyServer proxy) {
            this.proxy = proxy;
        }

        void close() {
            ProxyServer p;
            List<LocalPostgres> s;
            List<java.nio.file.Path> f;
            synchronized (this) {
                if (closed) {
                    return;
                }
                closed = true;
                p = proxy;
                s = List.copyOf(servers);
                f = List.copyOf(files);
            }
            for (java.nio.file.Path file : f) {
                try {
                    java.nio.file.Files.deleteIfExists(file);
                } catch (IOException e) {
                    log.warn("demo file not deleted file={} error={}", file, e.getMessage());
                }
            }
            if (p != null) {
                log.info("demo stopping");
                p.close();
            }
            // Both servers at once: each fast shutdown takes about a second.
            try (ExecutorService threads = Executors.newVirtualThreadPerTaskExecutor()) {
                for (LocalPostgres server : s) {
                    threads.submit(() -> {
                        try {
                            server.close();
                        } catch (RuntimeException e) {
                            log.warn("demo server did not stop server={} error={}", server, e.getMessage());
                        }
                    });
                }
            }
            if (p != null) {
                log.info("demo stopped, temporary data deleted");
            }
        }
    }
}
