package dev.pgmux.embedded;

import java.io.File;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.SecureRandom;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A real PostgreSQL server on 127.0.0.1, created in a temporary directory: a copy of a data directory made
 * by initdb (once per machine, see {@link Template}), a free port, {@code pg_ctl start}, then the configured
 * roles and databases over JDBC.
 *
 * <pre>{@code
 * try (LocalPostgres pg = LocalPostgres.builder().version("17").user("alice", "pw", "scram-sha-256").start()) {
 *     DriverManager.getConnection(pg.jdbcUrl("postgres"), "alice", "pw");
 * }
 * }</pre>
 *
 * <p>Built for speed, not durability: fsync, synchronous_commit and full_page_writes are off and
 * shared_buffers is small, so that several servers fit on a small CI machine. Only TCP on 127.0.0.1 is
 * served (no Unix socket), and every TCP login needs a password unless a user was configured with
 * {@code trust}.
 *
 * <p>PostgreSQL refuses to run as root. When the JVM runs as root the server's programs run as
 * {@code nobody} (through {@code setpriv}, or {@code runuser} where setpriv is missing), and its directory
 * belongs to that user.
 *
 * <p>A JVM shutdown hook stops (immediate mode) and removes every server that was not closed, so no
 * postgres outlives the JVM that started it. Set {@code -Dpgmux.postgres.keep=true} to keep the data
 * directories (and their {@code server.log}) for a post-mortem.
 */
public final class LocalPostgres implements AutoCloseable {

    public static final String HOST = "127.0.0.1";
    public static final String SUPERUSER = "postgres";
    /** hba methods a configured user may have. */
    public static final Set<String> AUTH_METHODS = Set.of("scram-sha-256", "md5", "password", "trust");

    private static final Logger log = LoggerFactory.getLogger(LocalPostgres.class);
    private static final Duration COMMAND_TIMEOUT = Duration.ofSeconds(90);
    private static final int START_ATTEMPTS = 3;
    private static final int LOG_TAIL_LINES = 40;
    private static final Set<LocalPostgres> OPEN = ConcurrentHashMap.newKeySet();

    static {
        Runtime.getRuntime().addShutdownHook(new Thread(LocalPostgres::closeAllAtExit, "pgmux-postgres-exit"));
    }

    private enum State { RUNNING, STOPPED, CLOSED }

    private final Path binDir;
    private final ServerUser serverUser;
    private final Path baseDir;
    private final Template template;
    private final Path dataDir;
    private final Path logFile;
    private final String superuserPassword;
    // Written under the instance's monitor (start, stop, kill, restart); volatile so that reading them never
    // waits for a restart in progress.
    private volatile int port;
    private volatile String version = "";
    private volatile State state = State.STOPPED;

    private LocalPostgres(Path binDir, ServerUser serverUser, Template template, Path baseDir,
                          String superuserPassword) {
        this.binDir = binDir;
        this.serverUser = serverUser;
        this.template = template;
        this.baseDir = baseDir;
        this.dataDir = baseDir.resolve("data");
        this.logFile = baseDir.resolve("server.log");
        this.superuserPassword = superuserPassword;
    }

    public static Builder builder() {
        return new Builder();
    }

    public String host() {
        return HOST;
    }

    public int port() {
        return port;
    }

    /** The server's own version string ({@code SHOW server_version}), such as {@code "17.7"}. */
    public String version() {
        return version;
    }

    public String superuserPassword() {
        return superuserPassword;
    }

    public String jdbcUrl(String database) {
        return "jdbc:postgresql://" + HOST + ":" + port() + "/" + database;
    }

    public Path dataDir() {
        return dataDir;
    }

    /** The server's log ({@code pg_ctl -l}); it lives next to the data directory and survives restarts. */
    public Path logFile() {
        return logFile;
    }

    public boolean isRunning() {
        return state == State.RUNNING;
    }

    /** A new pgjdbc connection with pgjdbc's defaults (sslmode=prefer). */
    public Connection connect(String database, String user, String password) throws SQLException {
        Properties props = new Properties();
        props.setProperty("user", user);
        if (password != null) {
            props.setProperty("password", password);
        }
        props.setProperty("connectTimeout", "10");
        return DriverManager.getConnection(jdbcUrl(database), props);
    }

    /** Runs statements as the superuser in one session, without TLS. */
    public void execute(String database, String... statements) {
        try (Connection c = connectPlain(database, SUPERUSER, superuserPassword);
             Statement st = c.createStatement()) {
            for (String sql : statements) {
                st.execute(sql);
            }
        } catch (SQLException e) {
            throw new IllegalStateException("SQL failed on " + this + ": " + e.getMessage(), e);
        }
    }

    /** Stops the server ({@code pg_ctl -m fast stop}); the data directory stays, {@link #restart()} starts it again. */
    public synchronized void stop() {
        if (state != State.RUNNING) {
            return;
        }
        try {
            pgCtl("-m", "fast", "-w", "-t", "60", "stop");
        } catch (CommandFailure e) {
            if (Files.exists(dataDir.resolve("postmaster.pid"))) {
                throw e;
            }
            // already gone: it finished a shutdown begun by beginSmartShutdown()
        }
        state = State.STOPPED;
    }

    /**
     * Begins a smart shutdown and returns at once: the server waits for its sessions to end and meanwhile refuses
     * new ones with 57P03 ("the database system is shutting down"), before any authentication. {@link #restart()}
     * ends it and starts the server again.
     */
    public synchronized void beginSmartShutdown() {
        if (state == State.RUNNING) {
            pgCtl("-m", "smart", "-W", "stop");
        }
    }

    /** Stops the server if it runs, then starts it again on the same port (also after {@link #kill()}). */
    public synchronized void restart() {
        requireNotClosed();
        stop();
        startOn(port);
    }

    /**
     * SIGKILLs the postmaster and all its children — a crash, for fault tests: clients see their connections
     * drop without an ErrorResponse. {@link #restart()} brings the server back (with crash recovery).
     */
    public synchronized void kill() {
        if (state != State.RUNNING) {
            return;
        }
        long pid = postmasterPid();
        ProcessHandle postmaster = ProcessHandle.of(pid).orElse(null);
        List<ProcessHandle> processes = new ArrayList<>();
        if (postmaster != null) {
            // Children run in sessions of their own (PostgreSQL calls setsid), so there is no group to kill.
            // Freeze the postmaster first so that it cannot fork a backend between the list and the kill.
            run(List.of("kill", "-STOP", Long.toString(pid)), baseDir, Duration.ofSeconds(10));
            waitFor(() -> "TtZX".indexOf(procState(pid)) >= 0, Duration.ofSeconds(5)); // kill(2) only queues it
            processes.add(postmaster);
            postmaster.children().forEach(processes::add);
        }
        processes.forEach(ProcessHandle::destroyForcibly);
        for (ProcessHandle p : processes) {
            // A zombie counts as gone: it holds no socket or shared memory any more.
            waitFor(() -> !p.isAlive() || "ZX".indexOf(procState(p.pid())) >= 0, Duration.ofSeconds(10));
        }
        try {
            // The dead postmaster may linger as a zombie when nobody reaps orphans (PID 1 in some
            // containers); a new postmaster would see its pid alive in postmaster.pid and refuse to start.
            Files.deleteIfExists(dataDir.resolve("postmaster.pid"));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        state = State.STOPPED;
    }

    /**
     * A hot standby of this server: a copy of its data directory, taken while it is stopped for a moment, that
     * starts in standby mode (read-only sessions, {@code in_hot_standby = on}) on a port of its own, with the
     * same users, passwords and databases. It does not stream from this server; {@link #promote()} makes it a
     * primary.
     */
    public synchronized LocalPostgres standby() {
        requireNotClosed();
        LocalPostgres copy;
        try {
            Path tmp = Path.of(System.getProperty("java.io.tmpdir")).toAbsolutePath();
            copy = new LocalPostgres(binDir, serverUser, template, newServerDir(tmp, "pgmux-pg-", serverUser),
                    superuserPassword);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        OPEN.add(copy);
        try {
            boolean wasRunning = state == State.RUNNING;
            stop();
            try {
                runAsServer(List.of("cp", "-a", dataDir.toString(), copy.dataDir.toString()), copy.baseDir);
            } finally {
                if (wasRunning) {
                    startOn(port);
                }
            }
            Files.deleteIfExists(copy.dataDir.resolve("postmaster.pid"));
            Path signal = copy.dataDir.resolve("standby.signal");
            Files.writeString(signal, "");
            serverUser.own(signal);
            copy.version = version;
            synchronized (copy) {
                copy.startOnFreePort();
            }
            return copy;
        } catch (IOException | RuntimeException e) {
            copy.close();
            throw e instanceof RuntimeException re ? re : new UncheckedIOException((IOException) e);
        }
    }

    /** Ends standby mode ({@code pg_ctl promote}): the server becomes a primary that accepts writes. */
    public synchronized void promote() {
        pgCtl("-w", "-t", "60", "promote");
    }

    /** Stops the server and deletes its directory. */
    @Override
    public synchronized void close() {
        if (state == State.CLOSED) {
            return;
        }
        try {
            stop();
        } finally {
            state = State.CLOSED;
            OPEN.remove(this);
            deleteBaseDir();
        }
    }

    @Override
    public String toString() {
        return "LocalPostgres[" + version + " " + HOST + ":" + port + " " + dataDir + "]";
    }

    private void requireNotClosed() {
        if (state == State.CLOSED) {
            throw new IllegalStateException("closed: " + this);
        }
    }

    // ---- starting ----------------------------------------------------------------------------------------

    private void createDataDir(Builder b) throws IOException {
        // cp -a as the server user: the copy keeps the modes PostgreSQL insists on and belongs to that user.
        runAsServer(List.of("cp", "-a", template.data().toString(), dataDir.toString()), baseDir);
        Files.writeString(dataDir.resolve("pg_hba.conf"), hba(b.users), StandardCharsets.UTF_8,
                StandardOpenOption.TRUNCATE_EXISTING, StandardOpenOption.WRITE);

        Map<String, String> settings = new LinkedHashMap<>();
        settings.put("listen_addresses", HOST);
        settings.put("unix_socket_directories", "");
        settings.put("fsync", "off");
        settings.put("synchronous_commit", "off");
        settings.put("full_page_writes", "off");
        settings.put("shared_buffers", "32MB");
        settings.put("max_connections", "300");
        settings.put("password_encryption", "scram-sha-256");
        if (b.tlsCert != null) {
            copyPrivate(b.tlsCert, dataDir.resolve("server.crt"));
            copyPrivate(b.tlsKey, dataDir.resolve("server.key"));
            settings.put("ssl", "on");
            settings.put("ssl_cert_file", "server.crt");
            settings.put("ssl_key_file", "server.key");
        }
        settings.putAll(b.settings);
        // Appended to postgresql.conf rather than postgresql.auto.conf: a test's ALTER SYSTEM RESET ALL
        // must not switch off TLS or the listen address.
        StringBuilder conf = new StringBuilder("\n# LocalPostgres\n");
        settings.forEach((name, value) -> conf.append(name).append(" = ").append(quote(value)).append('\n'));
        Files.writeString(dataDir.resolve("postgresql.conf"), conf, StandardCharsets.UTF_8, StandardOpenOption.APPEND);
    }

    /** A fresh directory that only the server user may enter. */
    private static Path newServerDir(Path parent, String prefix, ServerUser serverUser) throws IOException {
        serverUser.requireReachable(parent);
        Path dir = Files.createTempDirectory(parent, prefix);
        Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwx------"));
        serverUser.own(dir);
        return dir;
    }

    /** Per-user lines first (first match wins), then a password for everyone else. */
    private static String hba(List<User> users) {
        StringBuilder hba = new StringBuilder("# Written by LocalPostgres. TYPE DATABASE USER ADDRESS METHOD\n");
        for (User u : users) {
            for (String address : List.of("127.0.0.1/32", "::1/128")) {
                hba.append("host all \"").append(u.name()).append("\" ").append(address).append(' ')
                        .append(u.method()).append('\n');
            }
        }
        for (String address : List.of("127.0.0.1/32", "::1/128")) {
            hba.append("host all all ").append(address).append(" scram-sha-256\n");
            hba.append("host replication all ").append(address).append(" scram-sha-256\n");
        }
        return hba.toString();
    }

    /** The key must be private to the server user, or PostgreSQL refuses to load it. */
    private void copyPrivate(Path from, Path to) throws IOException {
        Files.copy(from, to, StandardCopyOption.REPLACE_EXISTING);
        Files.setPosixFilePermissions(to, PosixFilePermissions.fromString("rw-------"));
        serverUser.own(to);
    }

    /** Starts on a free port, choosing another one when the chosen port was taken in the meantime. */
    private void startOnFreePort() {
        for (int attempt = 1; ; attempt++) {
            try {
                startOn(freePort());
                return;
            } catch (StartFailure e) {
                if (!e.portTaken || attempt == START_ATTEMPTS) {
                    throw e;
                }
                log.atDebug().addKeyValue("port", port).log("port taken before postgres bound it, trying another");
            }
        }
    }

    private void startOn(int port) {
        this.port = port;
        long logSize = logSize();
        try {
            pgCtl("-l", logFile.toString(), "-w", "-t", "60", "-o", "-p " + port, "start");
        } catch (CommandFailure e) {
            try {
                // pg_ctl gives up after its timeout while a slow postmaster may still come up: stop it.
                pgCtl("-m", "immediate", "-w", "-t", "10", "stop");
            } catch (CommandFailure expected) {
                // no server running: the usual case
            }
            String tail = logTail(logSize);
            boolean portTaken = tail.contains("could not bind") || tail.contains("could not create any TCP/IP sockets");
            throw new StartFailure("PostgreSQL did not start on " + HOST + ":" + port + " (" + dataDir + "): "
                    + e.getMessage() + "\n--- " + logFile + " ---\n" + tail, portTaken);
        }
        state = State.RUNNING;
    }

    private static int freePort() {
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getByName(HOST))) {
            return s.getLocalPort();
        } catch (IOException e) {
            throw new UncheckedIOException("no free TCP port on " + HOST, e);
        }
    }

    /** Roles and databases go through SQL rather than initdb so that each gets exactly its own options. */
    private void createRolesAndDatabases(Builder b) throws SQLException {
        try (Connection c = connectPlain("postgres", SUPERUSER, template.password());
             Statement st = c.createStatement()) {
            st.execute("ALTER ROLE " + SUPERUSER + " PASSWORD " + quote(superuserPassword));
            try (ResultSet rs = st.executeQuery("SHOW server_version")) {
                rs.next();
                version = rs.getString(1);
            }
            for (User u : b.users) {
                String create = "CREATE ROLE " + ident(u.name()) + " LOGIN";
                if (u.password() == null) {
                    st.execute(create);
                    continue;
                }
                // md5 logins need the password stored as md5 (a SCRAM secret cannot answer an MD5
                // challenge); PostgreSQL 18 deprecates this and warns, which is fine for a test server.
                st.execute("SET password_encryption = " + quote(u.method().equals("md5") ? "md5" : "scram-sha-256"));
                st.execute(create + " PASSWORD " + quote(u.password()));
            }
            st.execute("RESET password_encryption");
            for (Database d : b.databases) {
                st.execute("CREATE DATABASE " + ident(d.name()) + (d.owner() == null ? "" : " OWNER " + ident(d.owner())));
            }
        }
    }

    private Connection connectPlain(String database, String user, String password) throws SQLException {
        Properties props = new Properties();
        props.setProperty("user", user);
        props.setProperty("password", password);
        props.setProperty("sslmode", "disable");
        props.setProperty("connectTimeout", "10");
        props.setProperty("ApplicationName", "LocalPostgres");
        return DriverManager.getConnection(jdbcUrl(database), props);
    }

    // ---- processes ---------------------------------------------------------------------------------------

    private void pgCtl(String... args) {
        List<String> cmd = new ArrayList<>(List.of(binDir.resolve("pg_ctl").toString(), "-D", dataDir.toString()));
        cmd.addAll(List.of(args));
        runAsServer(cmd, baseDir);
    }

    private void runAsServer(List<String> command, Path workDir) {
        run(serverUser.wrap(command), workDir, COMMAND_TIMEOUT);
    }

    /**
     * Runs a command in {@code workDir} (a directory the server user can enter: some programs look at their
     * working directory), failing with its output on a non-zero exit.
     */
    private static String run(List<String> command, Path workDir, Duration timeout) {
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

    private long postmasterPid() {
        try {
            return Long.parseLong(Files.readAllLines(dataDir.resolve("postmaster.pid")).getFirst().strip());
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read the postmaster's pid in " + dataDir, e);
        }
    }

    private static void waitFor(BooleanSupplier condition, Duration timeout) {
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
    private static char procState(long pid) {
        try {
            String stat = Files.readString(Path.of("/proc", Long.toString(pid), "stat"));
            // Format: "pid (comm) S ...": comm may hold spaces and parentheses, so look after the last ')'.
            return stat.charAt(stat.lastIndexOf(')') + 2);
        } catch (IOException | RuntimeException e) {
            return 'X';
        }
    }

    // ---- logs and files ----------------------------------------------------------------------------------

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

    private void deleteBaseDir() {
        if (Boolean.getBoolean("pgmux.postgres.keep")) {
            log.atInfo().addKeyValue("dir", baseDir).log("keeping postgres directory");
            return;
        }
        try {
            Binaries.deleteTree(baseDir);
        } catch (IOException e) {
            log.atWarn().addKeyValue("dir", baseDir).setCause(e).log("cannot delete postgres directory");
        }
    }

    /** A value for postgresql.conf or SQL: every setting type accepts the quoted form. */
    private static String quote(String value) {
        return "'" + value.replace("'", "''") + "'";
    }

    private static String ident(String name) {
        return "\"" + name.replace("\"", "\"\"") + "\"";
    }

    private static void closeAllAtExit() {
        List<Thread> threads = new ArrayList<>();
        for (LocalPostgres pg : OPEN) {
            // Immediate mode: nothing here needs a clean shutdown, and the JVM is waiting.
            threads.add(Thread.ofPlatform().start(() -> {
                synchronized (pg) {
                    try {
                        if (pg.state == State.RUNNING) {
                            pg.pgCtl("-m", "immediate", "-w", "-t", "10", "stop");
                        }
                    } catch (RuntimeException e) {
                        // Not the logger: logging may already be shut down by its own hook.
                        System.err.println("could not stop " + pg + ": " + e.getMessage());
                    }
                    pg.state = State.CLOSED;
                    pg.deleteBaseDir();
                }
            }));
        }
        for (Thread t : threads) {
            try {
                t.join(15_000);
            } catch (InterruptedException e) {
                return;
            }
        }
    }

    private static final class CommandFailure extends IllegalStateException {
        CommandFailure(String message) {
            super(message);
        }
    }

    /** Thrown by {@link Builder#start()} and {@link #restart()}; the message ends with the server log's tail. */
    private static final class StartFailure extends IllegalStateException {
        final boolean portTaken;

        StartFailure(String message, boolean portTaken) {
            super(message);
            this.portTaken = portTaken;
        }
    }

    // ---- configuration -----------------------------------------------------------------------------------

    record User(String name, String password, String method) {}

    record Database(String name, String owner) {}

    /** Collects what the server needs; {@link #start()} creates it. */
    public static final class Builder {
        private String version = "17";
        private String superuserPassword = "postgres";
        private final List<User> users = new ArrayList<>();
        private final List<Database> databases = new ArrayList<>();
        private final Map<String, String> settings = new LinkedHashMap<>();
        private Path tlsCert;
        private Path tlsKey;

        private Builder() {}

        /** Major version, {@code "17"} or {@code "18"}; see {@link Binaries#forVersion(String)}. */
        public Builder version(String major) {
            this.version = Objects.requireNonNull(major);
            return this;
        }

        /** Password of the superuser {@value LocalPostgres#SUPERUSER}, who always logs in with scram-sha-256. */
        public Builder superuserPassword(String password) {
            this.superuserPassword = Objects.requireNonNull(password);
            return this;
        }

        /**
         * A LOGIN role whose TCP logins use {@code method} (scram-sha-256, md5, password or trust). The password
         * is stored as md5 for md5 and as SCRAM otherwise; it may be null for trust.
         */
        public Builder user(String name, String password, String method) {
            if (!AUTH_METHODS.contains(method)) {
                throw new IllegalArgumentException("auth method must be one of " + AUTH_METHODS + ": " + method);
            }
            if (password == null && !method.equals("trust")) {
                throw new IllegalArgumentException("user " + name + " needs a password for " + method);
            }
            if (name.isEmpty() || name.contains("\"") || name.chars().anyMatch(Character::isISOControl)) {
                throw new IllegalArgumentException("user name cannot go into pg_hba.conf: " + name);
            }
            users.add(new User(name, password, method));
            return this;
        }

        /** {@code CREATE DATABASE name OWNER owner}; owner may be null (the superuser). */
        public Builder database(String name, String owner) {
            databases.add(new Database(Objects.requireNonNull(name), owner));
            return this;
        }

        /** Turns on TLS with this PEM certificate (chain) and key; they are copied into the data directory. */
        public Builder tls(Path cert, Path key) {
            this.tlsCert = Objects.requireNonNull(cert);
            this.tlsKey = Objects.requireNonNull(key);
            return this;
        }

        /** Any postgresql.conf setting; overrides the defaults. The port is chosen by {@link #start()}. */
        public Builder setting(String name, String value) {
            if (name.equals("port")) {
                throw new IllegalArgumentException("the port is chosen at start");
            }
            settings.put(name, Objects.requireNonNull(value));
            return this;
        }

        /** Creates, starts and populates the server; on failure nothing is left behind. */
        public LocalPostgres start() {
            long t0 = System.nanoTime();
            Path bin = Binaries.forVersion(version);
            ServerUser serverUser = ServerUser.current();
            LocalPostgres pg;
            try {
                serverUser.requireReachable(bin);
                Template template = Template.forBinaries(bin, serverUser);
                Path tmp = Path.of(System.getProperty("java.io.tmpdir")).toAbsolutePath();
                pg = new LocalPostgres(bin, serverUser, template, newServerDir(tmp, "pgmux-pg-", serverUser),
                        superuserPassword);
            } catch (IOException e) {
                throw new UncheckedIOException("cannot prepare PostgreSQL " + version + ": " + e.getMessage(), e);
            }
            OPEN.add(pg);
            try {
                long t1 = System.nanoTime();
                pg.createDataDir(this);
                long t2 = System.nanoTime();
                synchronized (pg) {
                    pg.startOnFreePort();
                }
                long t3 = System.nanoTime();
                pg.createRolesAndDatabases(this);
                long t4 = System.nanoTime();
                log.atInfo()
                        .addKeyValue("version", pg.version())
                        .addKeyValue("port", pg.port())
                        .addKeyValue("dir", pg.baseDir)
                        .addKeyValue("ms", (t4 - t0) / 1_000_000)
                        .addKeyValue("binariesAndTemplateMs", (t1 - t0) / 1_000_000)
                        .addKeyValue("copyMs", (t2 - t1) / 1_000_000)
                        .addKeyValue("pgCtlStartMs", (t3 - t2) / 1_000_000)
                        .addKeyValue("setupMs", (t4 - t3) / 1_000_000)
                        .log("local postgres started");
                return pg;
            } catch (IOException | SQLException | RuntimeException e) {
                try {
                    pg.close();
                } catch (RuntimeException suppressed) {
                    e.addSuppressed(suppressed);
                }
                if (e instanceof RuntimeException re) {
                    throw re;
                }
                throw new IllegalStateException("cannot set up PostgreSQL " + version + ": " + e.getMessage(), e);
            }
        }
    }

    /**
     * A pristine data directory made by initdb, copied for each new server: a copy takes about a tenth of
     * initdb's time. Like the binaries it is kept under java.io.tmpdir across JVMs, one per binaries and
     * server user, next to the file holding its superuser's password — random, and replaced by the
     * configured one right after start. All copies share one system identifier, which independent servers
     * never compare. The template itself is never started.
     */
    private record Template(Path data, String password) {

        private static final Map<Path, Template> CACHE = new ConcurrentHashMap<>();
        private static final Map<Path, Object> LOCKS = new ConcurrentHashMap<>();
        /**
         * -N (no sync): these directories never need to survive a power cut, and syncing is most of initdb's
         * time on a slow disk. 1 MB WAL segments instead of 16: the first segment is most of what each new
         * server copies.
         */
        private static final List<String> INITDB_OPTIONS = List.of("-U", SUPERUSER, "--auth=scram-sha-256",
                "-E", "UTF8", "--no-locale", "-N", "--no-instructions", "--wal-segsize=1");

        static Template forBinaries(Path binDir, ServerUser serverUser) throws IOException {
            // As in Binaries: one monitor per binaries for this JVM's threads, a FileLock for other JVMs.
            synchronized (LOCKS.computeIfAbsent(binDir, k -> new Object())) {
                Template cached = CACHE.get(binDir);
                if (cached == null) {
                    cached = loadOrCreate(binDir, serverUser);
                    CACHE.put(binDir, cached);
                }
                return cached;
            }
        }

        private static Template loadOrCreate(Path binDir, ServerUser serverUser) throws IOException {
            Path binaries = binDir.getParent();
            // The options' hash in the name: a template made with other options is not reused.
            Path root = binaries.resolveSibling(binaries.getFileName() + "-initdb-"
                    + Integer.toHexString(INITDB_OPTIONS.hashCode()) + "-uid" + serverUser.uid());
            if (!Files.isDirectory(root)) {
                try (FileChannel channel = FileChannel.open(root.resolveSibling(root.getFileName() + ".lock"),
                        StandardOpenOption.CREATE, StandardOpenOption.WRITE)) {
                    channel.lock(); // released when the channel closes
                    if (!Files.isDirectory(root)) {
                        create(binDir, serverUser, root);
                    }
                }
            }
            return new Template(root.resolve("data"), Files.readString(root.resolve("password")).strip());
        }

        private static void create(Path binDir, ServerUser serverUser, Path root) throws IOException {
            Path staging = newServerDir(root.getParent(), root.getFileName() + ".staging-", serverUser);
            try {
                Path password = staging.resolve("password");
                byte[] random = new byte[18];
                new SecureRandom().nextBytes(random);
                Files.writeString(password, Base64.getUrlEncoder().encodeToString(random) + "\n");
                Files.setPosixFilePermissions(password, PosixFilePermissions.fromString("rw-------"));
                serverUser.own(password);
                List<String> initdb = new ArrayList<>(List.of(binDir.resolve("initdb").toString(),
                        "-D", staging.resolve("data").toString(), "--pwfile=" + password));
                initdb.addAll(INITDB_OPTIONS);
                run(serverUser.wrap(initdb), staging, COMMAND_TIMEOUT);
                // Appears complete or not at all, for JVMs that look without the lock.
                Files.move(staging, root, StandardCopyOption.ATOMIC_MOVE);
            } finally {
                Binaries.deleteTree(staging);
            }
        }
    }

    /**
     * Who runs initdb, pg_ctl and postgres: the JVM's own user, or {@code nobody} when the JVM is root
     * (PostgreSQL refuses uid 0).
     */
    private record ServerUser(List<String> prefix, int uid, int gid, String name) {

        boolean switches() {
            return !prefix.isEmpty();
        }

        private static final Set<PosixFilePermission> TRAVERSE = Set.of(PosixFilePermission.OTHERS_EXECUTE);

        private static final class Holder {
            static final ServerUser CURRENT = detect();
        }

        static ServerUser current() {
            return Holder.CURRENT;
        }

        private static ServerUser detect() {
            String ownUid = output("id", "-u");
            boolean root = "root".equals(System.getProperty("user.name")) || "0".equals(ownUid);
            if (!root) {
                return new ServerUser(List.of(), Integer.parseInt(ownUid), Integer.parseInt(output("id", "-g")),
                        System.getProperty("user.name"));
            }
            int uid = Integer.parseInt(output("id", "-u", "nobody"));
            Optional<Path> setpriv = onPath("setpriv");
            if (setpriv.isPresent()) {
                // nogroup where it exists (Debian), else nobody's own group.
                String nogroup = output("getent", "group", "nogroup");
                int gid = nogroup.isEmpty()
                        ? Integer.parseInt(output("id", "-g", "nobody"))
                        : Integer.parseInt(nogroup.split(":")[2]);
                return new ServerUser(List.of(setpriv.get().toString(), "--reuid=" + uid, "--regid=" + gid,
                        "--clear-groups", "--"), uid, gid, "nobody");
            }
            Path runuser = onPath("runuser").orElseThrow(() -> new IllegalStateException(
                    "running as root, but neither setpriv nor runuser is on the PATH to run PostgreSQL as nobody"));
            int gid = Integer.parseInt(output("id", "-g", "nobody"));
            return new ServerUser(List.of(runuser.toString(), "-u", "nobody", "--"), uid, gid, "nobody");
        }

        List<String> wrap(List<String> command) {
            List<String> all = new ArrayList<>(prefix);
            all.addAll(command);
            return all;
        }

        void own(Path path) throws IOException {
            if (switches()) {
                Files.setAttribute(path, "unix:uid", uid);
                Files.setAttribute(path, "unix:gid", gid);
            }
        }

        /** The server user must be able to traverse every parent of the binaries and of its data directory. */
        void requireReachable(Path dir) throws IOException {
            if (!switches()) {
                return;
            }
            for (Path p = dir.toRealPath(); p != null; p = p.getParent()) {
                if (!Files.getPosixFilePermissions(p).containsAll(TRAVERSE)
                        && !Integer.valueOf(uid).equals(Files.getAttribute(p, "unix:uid"))) {
                    throw new IllegalStateException("PostgreSQL runs as " + name + " (the JVM is root), who cannot"
                            + " enter " + p + " on the way to " + dir + ": use a java.io.tmpdir every user can reach");
                }
            }
        }

        private static Optional<Path> onPath(String program) {
            String path = Objects.requireNonNullElse(System.getenv("PATH"), "") + ":/usr/bin:/bin:/usr/sbin:/sbin";
            for (String dir : path.split(":")) {
                if (!dir.isEmpty() && Files.isExecutable(Path.of(dir, program))) {
                    return Optional.of(Path.of(dir, program));
                }
            }
            return Optional.empty();
        }

        /** A short command's trimmed stdout, or "" when it fails (getent for a missing group exits 2). */
        private static String output(String... command) {
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
    }
}
