package dev.pgmux.embedded;

import dev.pgmux.embedded.PgCtl.StartFailure;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A real PostgreSQL server on 127.0.0.1, created in a temporary directory: a copy of a data directory made
 * by initdb (once per machine, see {@link Template}), a free port, {@code pg_ctl start} ({@link PgCtl}), then
 * the configured roles and databases over JDBC ({@link ServerSetup}).
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
 * belongs to that user ({@link ServerUser}).
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
    private static final int START_ATTEMPTS = 3;
    private static final Set<LocalPostgres> OPEN = ConcurrentHashMap.newKeySet();

    static {
        Runtime.getRuntime().addShutdownHook(new Thread(LocalPostgres::closeAllAtExit, "pgmux-postgres-exit"));
    }

    private enum State { RUNNING, STOPPED, CLOSED }

    private final Path binDir;
    private final ServerUser serverUser;
    private final Path baseDir;
    private final Template template;
    private final PgCtl pgCtl;
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
        this.pgCtl = new PgCtl(binDir, serverUser, baseDir);
        this.superuserPassword = superuserPassword;
    }

    /** A new server in a fresh directory under java.io.tmpdir, registered for the exit hook; not started. */
    private static LocalPostgres create(Path binDir, ServerUser serverUser, Template template,
                                        String superuserPassword) throws IOException {
        Path tmp = Path.of(System.getProperty("java.io.tmpdir")).toAbsolutePath();
        LocalPostgres pg = new LocalPostgres(binDir, serverUser, template, serverUser.newDir(tmp, "pgmux-pg-"),
                superuserPassword);
        OPEN.add(pg);
        return pg;
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
        return pgCtl.dataDir();
    }

    /** The server's log ({@code pg_ctl -l}); it lives next to the data directory and survives restarts. */
    public Path logFile() {
        return pgCtl.logFile();
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
        pgCtl.stopFast();
        state = State.STOPPED;
    }

    /**
     * Begins a smart shutdown and returns at once: the server waits for its sessions to end and meanwhile refuses
     * new ones with 57P03 ("the database system is shutting down"), before any authentication. {@link #restart()}
     * ends it and starts the server again.
     */
    public synchronized void beginSmartShutdown() {
        if (state == State.RUNNING) {
            pgCtl.beginSmartStop();
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
        pgCtl.kill();
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
            copy = create(binDir, serverUser, template, superuserPassword);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        try {
            boolean wasRunning = state == State.RUNNING;
            stop();
            try {
                serverUser.run(List.of("cp", "-a", dataDir().toString(), copy.dataDir().toString()), copy.baseDir);
            } finally {
                if (wasRunning) {
                    startOn(port);
                }
            }
            Files.deleteIfExists(copy.dataDir().resolve("postmaster.pid"));
            Path signal = copy.dataDir().resolve("standby.signal");
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
        pgCtl.promote();
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
        return "LocalPostgres[" + version + " " + HOST + ":" + port + " " + dataDir() + "]";
    }

    private void requireNotClosed() {
        if (state == State.CLOSED) {
            throw new IllegalStateException("closed: " + this);
        }
    }

    // ---- starting ----------------------------------------------------------------------------------------

    /** Builder.start(): creates, starts and populates the server; on failure nothing is left behind. */
    private static LocalPostgres start(ServerSpec spec) {
        long t0 = System.nanoTime();
        Path bin = Binaries.forVersion(spec.version());
        ServerUser serverUser = ServerUser.current();
        LocalPostgres pg;
        try {
            serverUser.requireReachable(bin);
            pg = create(bin, serverUser, Template.forBinaries(bin, serverUser), spec.superuserPassword());
        } catch (IOException e) {
            throw new UncheckedIOException("cannot prepare PostgreSQL " + spec.version() + ": " + e.getMessage(), e);
        }
        try {
            long t1 = System.nanoTime();
            ServerSetup.writeDataDir(spec, pg.template, serverUser, pg.baseDir, pg.dataDir());
            long t2 = System.nanoTime();
            synchronized (pg) {
                pg.startOnFreePort();
            }
            long t3 = System.nanoTime();
            try (Connection c = pg.connectPlain("postgres", SUPERUSER, pg.template.password())) {
                pg.version = ServerSetup.createRolesAndDatabases(c, spec);
            }
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
            throw new IllegalStateException("cannot set up PostgreSQL " + spec.version() + ": " + e.getMessage(), e);
        }
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
        pgCtl.start(port);
        state = State.RUNNING;
    }

    private static int freePort() {
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getByName(HOST))) {
            return s.getLocalPort();
        } catch (IOException e) {
            throw new UncheckedIOException("no free TCP port on " + HOST, e);
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

    private static void closeAllAtExit() {
        List<Thread> threads = new ArrayList<>();
        for (LocalPostgres pg : OPEN) {
            // Immediate mode: nothing here needs a clean shutdown, and the JVM is waiting.
            threads.add(Thread.ofPlatform().start(() -> {
                synchronized (pg) {
                    try {
                        if (pg.state == State.RUNNING) {
                            pg.pgCtl.stopImmediate();
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

    // ---- the builder -------------------------------------------------------------------------------------

    /** Collects what the server needs; {@link #start()} creates it. */
    public static final class Builder {
        private String version = "17";
        private String superuserPassword = "postgres";
        private final List<ServerSpec.User> users = new ArrayList<>();
        private final List<ServerSpec.Database> databases = new ArrayList<>();
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
            users.add(new ServerSpec.User(name, password, method));
            return this;
        }

        /** {@code CREATE DATABASE name OWNER owner}; owner may be null (the superuser). */
        public Builder database(String name, String owner) {
            databases.add(new ServerSpec.Database(Objects.requireNonNull(name), owner));
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
            return LocalPostgres.start(new ServerSpec(version, superuserPassword, users, databases, settings,
                    tlsCert, tlsKey));
        }
    }
}
