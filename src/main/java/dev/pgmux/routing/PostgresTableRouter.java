package dev.pgmux.routing;

import dev.pgmux.BackendConfig;
import dev.pgmux.RouteRequest;
import dev.pgmux.Router;
import dev.pgmux.RoutingException;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Properties;
import org.postgresql.PGConnection;
import org.postgresql.PGNotification;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Routes by user name from a table in a control-plane PostgreSQL database, shared by every pgmux instance that
 * points at it (schema and operations: docs/ROUTING-TABLE.md; {@code pgmux init-routing-table} creates it).
 *
 * <pre>{@code
 * try (PostgresTableRouter router = PostgresTableRouter.builder()
 *         .dsn("postgresql://pgmux:secret@control:5432/control").build().start()) {
 *     new ProxyServer("0.0.0.0:5432", router).start();
 *     ...
 * }
 * }</pre>
 *
 * <p>{@link #route} reads an immutable map held in a volatile field and never touches the database, so a
 * control-plane outage costs no connection anything but route changes. One thread of the router's own keeps a
 * pgjdbc connection that LISTENs on the table's channel; the table's trigger NOTIFYs after every change, and
 * the thread then reloads the whole table and swaps the map. Its life:
 *
 * <pre>
 *   start(): connect, LISTEN, load ──► listening ──(notification)──► reload, swap ──► listening
 *                                          │  (idle for a while: SELECT 1, so a dead peer is noticed)
 *                                          ▼ (any error)
 *                        disconnected: serve from memory, retry after 0.5 s, 1 s, 2 s … 10 s
 *                                          │ (connected)
 *                                          ▼
 *                                   LISTEN, full reload (changes made meanwhile were never notified)
 * </pre>
 *
 * LISTEN is issued before each load: a change committed between the two is then both in the load and
 * notified, which costs a spare reload but loses nothing.
 */
public final class PostgresTableRouter implements Router, AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(PostgresTableRouter.class);

    /** How long one wait for notifications lasts; between waits the thread checks for close and heartbeats. */
    private static final int POLL_MILLIS = 1000;

    private final Dsn dsn;
    private final TableName table;
    private final Duration firstRetry;
    private final Duration maxRetry;
    private final Duration heartbeat;

    private volatile Map<String, BackendConfig> routes = Map.of();
    /** What was rejected at the last load, so that each bad row is logged once, not at every reload. */
    private Map<String, String> rejected = Map.of();
    private volatile boolean listening;
    private volatile boolean closed;
    private volatile boolean started;
    private Thread listener;
    /** The listener's connection, for {@link #close()} to cut if the thread does not stop by itself. */
    private volatile Connection connection;

    private PostgresTableRouter(Builder b) {
        this.dsn = b.dsn;
        this.table = b.table;
        this.firstRetry = b.firstRetry;
        this.maxRetry = b.maxRetry;
        this.heartbeat = b.heartbeat;
    }

    public static Builder builder() {
        return new Builder();
    }

    /**
     * Creates the routing table, its trigger functions and triggers where they are missing (the function bodies
     * are replaced when they differ), in one transaction, as {@code pgmux init-routing-table} does.
     *
     * @param dsn   libpq URI or jdbc:postgresql: URL of the control-plane database
     * @param table the table's name, {@code [schema.]name}; null for {@code pgmux_routes}
     * @return what was done, one line per object, for people to read
     * @throws IllegalArgumentException if the DSN or the table name is malformed
     * @throws SQLException             with a one-line message that names the DSN without its password
     */
    public static List<String> initTable(String dsn, String table) throws SQLException {
        Dsn parsed = Dsn.parse(dsn);
        TableName name = TableName.parse(table == null ? TableName.DEFAULT : table);
        Properties props = new Properties();
        props.setProperty("ApplicationName", "pgmux init-routing-table");
        props.setProperty("connectTimeout", "10");
        props.setProperty("loginTimeout", "15");
        Connection c;
        try {
            c = parsed.connect(props);
        } catch (SQLException e) {
            throw new SQLException("cannot connect to " + parsed + ": " + firstLine(e), e.getSQLState(), e);
        }
        try (c) {
            String version;
            try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery("SHOW server_version")) {
                rs.next();
                version = rs.getString(1);
            }
            List<String> done = new ArrayList<>();
            done.add("connected to " + parsed + " (PostgreSQL " + version + ")");
            done.addAll(TableSchema.create(c, name));
            return done;
        } catch (SQLException e) {
            throw new SQLException("cannot set up routing table " + name + " at " + parsed + ": " + firstLine(e)
                    + (e.getSQLState() == null ? "" : " (SQLSTATE " + e.getSQLState() + ")"), e.getSQLState(), e);
        }
    }

    /**
     * Connects, LISTENs and loads the table, then keeps following it on a thread of its own. Calling it again
     * does nothing.
     *
     * @return this router
     * @throws IllegalStateException if the first load fails (the message names the DSN without its password),
     *                               or if the router is closed
     */
    public synchronized PostgresTableRouter start() {
        if (closed) {
            throw new IllegalStateException("routing table router is closed");
        }
        if (started) {
            return this;
        }
        long t0 = System.nanoTime();
        Connection c = null;
        try {
            c = connectAndListen();
            reload(c, "loaded", t0);
        } catch (SQLException | RuntimeException e) {
            closeQuietly(c);
            String hint = "42P01".equals(e instanceof SQLException s ? s.getSQLState() : null)
                    ? " (create it with: pgmux init-routing-table --dsn ... --table " + table + ")" : "";
            throw new IllegalStateException("cannot load routes from table " + table + " at " + dsn + ": "
                    + firstLine(e) + hint, e);
        }
        connection = c;
        listening = true;
        started = true;
        Connection first = c;
        // A virtual thread: close() interrupts it, which closes its socket at once, even mid-read.
        listener = Thread.ofVirtual().name("pgmux-routes-" + table).start(() -> follow(first));
        return this;
    }

    /** Answers from the rows in memory; the table is followed on a thread of its own. */
    @Override
    public boolean mayBlock() {
        return false;
    }

    @Override
    public BackendConfig route(RouteRequest request) throws RoutingException {
        if (!started) {
            throw new IllegalStateException("routing table router used before start()");
        }
        BackendConfig backend = routes.get(request.user());
        if (backend == null) {
            throw RoutingException.noRoute(request.user());
        }
        return backend;
    }

    /** The routes in memory now: user name → backend. */
    public Map<String, BackendConfig> routes() {
        return routes;
    }

    /** Stops following the table; {@link #route} keeps answering from the last routes loaded. */
    @Override
    public void close() {
        Thread thread;
        synchronized (this) {
            if (closed) {
                return;
            }
            closed = true;
            thread = listener;
        }
        if (thread == null) {
            return;
        }
        thread.interrupt();
        try {
            if (!thread.join(Duration.ofSeconds(2))) {
                Connection c = connection;
                if (c != null) {
                    c.abort(Runnable::run); // a connect or query that ignored the interrupt
                }
                thread.join(Duration.ofSeconds(2));
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (SQLException e) {
            log.debug("routing table connection abort failed table={} error={}", table, e.getMessage());
        }
    }

    /** Whether the router holds a working LISTEN connection (false while reconnecting). */
    boolean listening() {
        return listening;
    }

    @Override
    public String toString() {
        return "PostgresTableRouter[" + table + " at " + dsn + "]";
    }

    // ---- the listener thread ------------------------------------------------------------------------------

    private void follow(Connection first) {
        Connection c = first;
        long retryNanos = firstRetry.toNanos();
        long lastHeard = System.nanoTime();
        long lostAt = 0;
        int attempts = 0;
        while (!closed) {
            try {
                if (c == null) {
                    attempts++;
                    long t0 = System.nanoTime();
                    Connection fresh = connectAndListen();
                    connection = fresh;
                    try {
                        reload(fresh, "reloaded after reconnect", t0);
                    } catch (SQLException | RuntimeException e) {
                        closeQuietly(fresh);
                        connection = null;
                        throw e;
                    }
                    c = fresh;
                    listening = true;
                    log.info("routing table reconnected table={} dsn={} attempts={} outage_ms={}", table, dsn,
                            attempts, (System.nanoTime() - lostAt) / 1_000_000);
                    retryNanos = firstRetry.toNanos();
                    attempts = 0;
                    lastHeard = System.nanoTime();
                }
                PGNotification[] notifications = c.unwrap(PGConnection.class).getNotifications(POLL_MILLIS);
                if (notifications != null && notifications.length > 0) {
                    // One reload covers every notification that arrived together.
                    log.debug("routing table notified table={} notifications={} first={}", table,
                            notifications.length, notifications[0].getParameter());
                    reload(c, "reloaded", System.nanoTime());
                    lastHeard = System.nanoTime();
                } else if (System.nanoTime() - lastHeard >= heartbeat.toNanos()) {
                    // A peer that vanished without a FIN or RST would otherwise look like a quiet table forever;
                    // the socket timeout bounds this query.
                    try (Statement st = c.createStatement()) {
                        st.execute("SELECT 1");
                    }
                    c.clearWarnings(); // notices on an idle connection pile up there otherwise
                    lastHeard = System.nanoTime();
                }
            } catch (SQLException | RuntimeException e) {
                if (closed) {
                    break;
                }
                if (c != null) {
                    lostAt = System.nanoTime();
                    listening = false;
                    log.warn("routing table connection lost table={} dsn={} error=\"{}\" serving_routes={}", table,
                            dsn, firstLine(e), routes.size());
                    closeQuietly(c);
                    c = null;
                    connection = null;
                } else {
                    log.warn("routing table reconnect failed table={} dsn={} attempt={} retry_in_ms={} error=\"{}\"",
                            table, dsn, attempts, retryNanos / 1_000_000, firstLine(e));
                }
                try {
                    Thread.sleep(Duration.ofNanos(retryNanos));
                } catch (InterruptedException interrupted) {
                    break; // close()
                }
                retryNanos = Math.min(retryNanos * 2, maxRetry.toNanos());
            }
        }
        listening = false;
        closeQuietly(c);
        connection = null;
    }

    private Connection connectAndListen() throws SQLException {
        Properties props = new Properties();
        props.setProperty("ApplicationName", "pgmux router " + table);
        props.setProperty("connectTimeout", "5");
        props.setProperty("loginTimeout", "10");
        // Bounds the heartbeat and the reload; getNotifications sets its own timeout while it waits.
        props.setProperty("socketTimeout", Long.toString(Math.max(5, heartbeat.toSeconds() + 5)));
        props.setProperty("tcpKeepAlive", "true");
        Connection c = dsn.connect(props);
        try (Statement st = c.createStatement()) {
            st.execute("LISTEN " + TableName.quote(table.channel()));
            return c;
        } catch (SQLException | RuntimeException e) {
            closeQuietly(c);
            throw e;
        }
    }

    /** Loads the whole table and swaps the map in; only the listener thread (or start) calls this. */
    private void reload(Connection c, String what, long t0) throws SQLException {
        TableRows.Loaded loaded;
        try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery(TableRows.selectAll(table))) {
            loaded = TableRows.read(rs, table);
        }
        Map<String, BackendConfig> before = routes;
        routes = loaded.routes();
        long ms = (System.nanoTime() - t0) / 1_000_000;
        int added = 0;
        int changed = 0;
        for (Map.Entry<String, BackendConfig> e : loaded.routes().entrySet()) {
            BackendConfig old = before.get(e.getKey());
            if (old == null) {
                added++;
            } else if (!old.equals(e.getValue())) {
                changed++;
            }
            if (!Objects.equals(old, e.getValue()) && log.isDebugEnabled()) {
                log.debug("route {} table={} user={} backend={}", old == null ? "added" : "changed", table,
                        e.getKey(), e.getValue().address());
            }
        }
        int removed = 0;
        for (String user : before.keySet()) {
            if (!loaded.routes().containsKey(user)) {
                removed++;
                log.debug("route removed table={} user={}", table, user);
            }
        }
        for (Map.Entry<String, String> r : loaded.rejected().entrySet()) {
            if (!r.getValue().equals(rejected.get(r.getKey()))) {
                log.warn("routing table row ignored table={} user={} reason=\"{}\"", table, r.getKey(), r.getValue());
            }
        }
        rejected = loaded.rejected();
        if (added + changed + removed > 0 || !what.equals("reloaded")) {
            log.info("routing table {} table={} routes={} added={} changed={} removed={} ignored={} ms={}", what,
                    table, loaded.routes().size(), added, changed, removed, loaded.rejected().size(), ms);
        } else {
            log.debug("routing table reloaded, no change table={} routes={} ms={}", table, loaded.routes().size(),
                    ms);
        }
    }

    private static void closeQuietly(Connection c) {
        if (c == null) {
            return;
        }
        try {
            c.close();
        } catch (SQLException | RuntimeException e) {
            // already broken: nothing to release
        }
    }

    /** An error's message up to its first line break; pgjdbc appends Detail/Where/Position lines. */
    private static String firstLine(Throwable e) {
        String m = e.getMessage();
        if (m == null) {
            return e.getClass().getSimpleName();
        }
        int nl = m.indexOf('\n');
        return (nl < 0 ? m : m.substring(0, nl)).strip();
    }

    /** Configures a {@link PostgresTableRouter}; the DSN is required. */
    public static final class Builder {
        private Dsn dsn;
        private TableName table = TableName.parse(TableName.DEFAULT);
        private Duration firstRetry = Duration.ofMillis(500);
        private Duration maxRetry = Duration.ofSeconds(10);
        private Duration heartbeat = Duration.ofSeconds(10);

        private Builder() {
        }

        /**
         * The control-plane database: {@code postgresql://user:password@host:port/database?sslmode=...} (libpq's
         * URI) or {@code jdbc:postgresql://host:port/database?user=...}. Without a password in it, pgjdbc reads
         * {@code ~/.pgpass} (or {@code PGPASSFILE}).
         *
         * @throws IllegalArgumentException if it is neither (the message does not repeat it)
         */
        public Builder dsn(String dsn) {
            this.dsn = Dsn.parse(dsn);
            return this;
        }

        /**
         * The table, {@code [schema.]name}, default {@code pgmux_routes}; plain identifiers only, folded to
         * lower case as PostgreSQL folds unquoted names.
         *
         * @throws IllegalArgumentException if it is not such a name
         */
        public Builder table(String table) {
            this.table = TableName.parse(table);
            return this;
        }

        /** First and longest wait between reconnect attempts (the wait doubles); 0.5 s and 10 s by default. */
        Builder reconnectDelays(Duration first, Duration max) {
            if (first.isNegative() || first.isZero() || max.compareTo(first) < 0) {
                throw new IllegalArgumentException("reconnect delays must be positive, first <= max");
            }
            this.firstRetry = first;
            this.maxRetry = max;
            return this;
        }

        /** How long the connection may stay quiet before a {@code SELECT 1} checks it; 10 s by default. */
        Builder heartbeat(Duration heartbeat) {
            if (heartbeat.isNegative() || heartbeat.isZero()) {
                throw new IllegalArgumentException("heartbeat must be positive");
            }
            this.heartbeat = heartbeat;
            return this;
        }

        /** @throws IllegalStateException if no DSN was given */
        public PostgresTableRouter build() {
            if (dsn == null) {
                throw new IllegalStateException("a routing table router needs a DSN");
            }
            return new PostgresTableRouter(this);
        }
    }
}
