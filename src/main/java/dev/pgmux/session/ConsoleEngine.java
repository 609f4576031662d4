package dev.pgmux.session;

import dev.pgmux.AdminActions;
import dev.pgmux.AuthMode;
import dev.pgmux.BackendConfig;
import dev.pgmux.ClientAuthMethod;
import dev.pgmux.ConsoleConfig;
import dev.pgmux.Limits;
import dev.pgmux.Router;
import dev.pgmux.StaticRouter;
import dev.pgmux.console.ConsoleCommand;
import dev.pgmux.console.Holds;
import dev.pgmux.console.Shows;
import dev.pgmux.console.Table;
import dev.pgmux.pool.Pool;
import dev.pgmux.pool.PoolStats;
import dev.pgmux.pool.PooledServer;
import dev.pgmux.protocol.ErrorResponse;
import dev.pgmux.protocol.StartupPacket.StartupMessage;
import dev.pgmux.routing.ChainRouter;
import dev.pgmux.routing.HttpRouter;
import dev.pgmux.routing.PatternRouter;
import dev.pgmux.routing.PostgresTableRouter;
import io.netty.channel.EventLoop;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs console commands against the live proxy: the {@code SHOW} tables from what the sessions (read on their own
 * event loops) and pools show now, and the actions on pools, sessions and holds. One per proxy; every action is
 * logged with who ran it.
 */
final class ConsoleEngine {
    private static final Logger log = LoggerFactory.getLogger(ConsoleEngine.class);
    /** PgBouncer's {@code stats_period}: the averages of {@code SHOW STATS} cover the last such period. */
    static final long STATS_PERIOD_SECONDS = 60;
    private static final long POLL_MILLIS = 100;

    /**
     * The console's login, as a route with {@code auth: proxy} and SCRAM-SHA-256 whose credentials come from the
     * auth file (a SCRAM verifier or a plain password; an md5 line cannot answer SCRAM).
     */
    static final BackendConfig CONSOLE = BackendConfig.builder().host("console").port(1).auth(AuthMode.PROXY)
            .clientAuthMethod(ClientAuthMethod.SCRAM_SHA_256).build();

    /** What a command answers: a table or none, its tag, notices before it, and what to do once it is sent. */
    record Answer(Table table, String tag, List<String> notices, Runnable then) {
        static Answer of(Table table, String tag) {
            return new Answer(table, tag, List.of(), null);
        }

        static Answer done(String tag) {
            return new Answer(null, tag, List.of(), null);
        }
    }

    record Failure(String sqlState, String message) {
    }

    /** A command refused or failed, with the SQLSTATE the client gets. */
    static final class Refused extends RuntimeException {
        final String sqlState;

        Refused(String sqlState, String message) {
            super(message, null, false, false);
            this.sqlState = sqlState;
        }
    }

    private final ProxyContext proxy;
    private final AtomicBoolean sampling = new AtomicBoolean();
    /** Totals per backend at the last two samples, for the averages. */
    private volatile Map<String, long[]> lastSample = Map.of();
    private volatile Map<String, long[]> previousSample = Map.of();
    private volatile long lastSampleNanos;
    private volatile long previousSampleNanos;

    ConsoleEngine(ProxyContext proxy) {
        this.proxy = proxy;
    }

    static boolean isConsole(BackendConfig backend) {
        return backend == CONSOLE;
    }

    /**
     * What a login to a backend that DISABLE holds gets, as PostgreSQL answers for a database that does not allow
     * connections: the database the client asked for, nothing of the backend (the client is not authenticated yet).
     */
    static ErrorResponse disabled(String database) {
        return ErrorResponse.fatal("55000", "database \"" + database + "\" is not currently accepting connections");
    }

    /** The ParameterStatus messages of a console login, as a server reports them. */
    static Map<String, String> loginParameters(StartupMessage startup, boolean admin) {
        Map<String, String> p = new LinkedHashMap<>();
        p.put("server_version", serverVersion());
        p.put("server_encoding", "UTF8");
        p.put("client_encoding", "UTF8");
        p.put("DateStyle", "ISO, MDY");
        p.put("TimeZone", "UTC");
        p.put("IntervalStyle", "postgres");
        p.put("integer_datetimes", "on");
        p.put("standard_conforming_strings", "on");
        p.put("is_superuser", admin ? "on" : "off");
        p.put("session_authorization", startup.user());
        p.put("application_name", startup.parameters().getOrDefault("application_name", ""));
        return p;
    }

    /** pgmux's version, from the jar's manifest ({@code dev} when run from classes). */
    static String version() {
        String v = ConsoleEngine.class.getPackage().getImplementationVersion();
        return v == null ? "dev" : v;
    }

    /** A version number first, as clients parse it (PgBouncer reports {@code 1.25.2/bouncer}). */
    static String serverVersion() {
        String v = version();
        return (Character.isDigit(v.charAt(0)) ? v : "0.0") + "/pgmux";
    }

    static Failure failure(Throwable t) {
        Throwable cause = t instanceof CompletionException && t.getCause() != null ? t.getCause() : t;
        if (cause instanceof Refused r) {
            return new Failure(r.sqlState, r.getMessage());
        }
        log.error("console command failed", cause);
        return new Failure("XX000", "internal error: " + cause);
    }

    // ---------------------------------------------------------------- commands

    /**
     * Runs {@code command} for {@code user}; the answer comes on any thread.
     *
     * @param loop the client's event loop, for the commands that wait (PAUSE, WAIT_CLOSE)
     * @param who  the user and client address, for the log
     */
    CompletableFuture<Answer> run(ConsoleCommand command, String user, EventLoop loop, String who,
                                  java.util.function.BooleanSupplier cancelled) {
        ConsoleConfig console = proxy.console();
        boolean admin = console != null && console.isAdmin(user); // as configured now: a reload may have changed it
        startSampling(loop);
        if (command instanceof ConsoleCommand.Invalid i) {
            return refused("42601", invalid(i));
        }
        if (command.needsAdmin() && !admin) {
            log.warn("console command refused command=\"{}\" {} reason=\"stats user\"", command, who);
            return refused("42501", "admin access needed (user \"" + user + "\" is in stats_users only)");
        }
        try {
            return switch (command) {
                case ConsoleCommand.Show s -> show(s.what());
                case ConsoleCommand.Set s -> CompletableFuture.completedFuture(Answer.done("SET"));
                case ConsoleCommand.OnBackends b -> {
                    log.info("console command={} target={} {}", b.verb(), b.target(), who);
                    yield onBackends(b, loop, cancelled);
                }
                case ConsoleCommand.KillClient k -> {
                    log.info("console command=KILL_CLIENT id={} {}", k.id(), who);
                    yield killClient(k.id());
                }
                case ConsoleCommand.Reload r -> {
                    log.info("console command=RELOAD {}", who);
                    yield reload();
                }
                case ConsoleCommand.Shutdown s -> {
                    log.info("console command=SHUTDOWN{} {}", s.mode().isEmpty() ? "" : " " + s.mode(), who);
                    AdminActions actions = proxy.adminActions();
                    yield CompletableFuture.completedFuture(new Answer(null, "SHUTDOWN", List.of(),
                            actions == null ? null : actions::shutdown));
                }
                case ConsoleCommand.Empty e -> CompletableFuture.completedFuture(Answer.done(""));
                case ConsoleCommand.Invalid i -> throw new IllegalStateException("handled above");
            };
        } catch (Refused r) {
            return CompletableFuture.failedFuture(r);
        }
    }

    /** PgBouncer's words for a command it does not know. */
    static String invalid(ConsoleCommand.Invalid i) {
        return i.why() != null ? i.why() : "invalid command '" + i.text() + "', use SHOW HELP;";
    }

    private static <T> CompletableFuture<T> refused(String sqlState, String message) {
        return CompletableFuture.failedFuture(new Refused(sqlState, message));
    }

    private CompletableFuture<Answer> show(String what) {
        return switch (what) {
            case "HELP" -> CompletableFuture.completedFuture(new Answer(null, "SHOW", List.of(help()), null));
            case "VERSION" -> table(new Table(columns(what)).row("pgmux " + version()));
            case "STATE" -> {
                boolean paused = proxy.pools().holds().list().stream()
                        .anyMatch(h -> h.target() == null && h.kind() != Holds.Kind.DISABLE);
                yield table(new Table(columns(what)).row("active", paused ? "no" : "yes")
                        .row("paused", paused ? "yes" : "no").row("suspended", "no"));
            }
            case "CONFIG" -> table(config());
            case "ROUTES" -> table(routes());
            case "PINS" -> table(pins());
            case "CLIENTS", "SERVERS", "POOLS", "DATABASES", "STATS", "STATS_TOTALS", "STATS_AVERAGES", "TOTALS",
                 "LISTS", "USERS" -> sessions().thenApply(views -> Answer.of(fromSessions(what, views), "SHOW"));
            default -> refused("42601", "invalid command 'SHOW " + what.toLowerCase(Locale.ROOT)
                    + "', use SHOW HELP;");
        };
    }

    private static List<Table.Column> columns(String what) {
        return Shows.columns(what);
    }

    private static CompletableFuture<Answer> table(Table t) {
        return CompletableFuture.completedFuture(Answer.of(t, "SHOW"));
    }

    private static String help() {
        return "Console usage\n"
                + "\tSHOW HELP|CONFIG|DATABASES|POOLS|CLIENTS|SERVERS|USERS|VERSION|STATE|LISTS\n"
                + "\tSHOW STATS|STATS_TOTALS|STATS_AVERAGES|TOTALS\n"
                + "\tSHOW ROUTES|PINS\n"
                + "\tRELOAD\n"
                + "\tPAUSE [<db>]\n"
                + "\tRESUME [<db>]\n"
                + "\tDISABLE <db>\n"
                + "\tENABLE <db>\n"
                + "\tRECONNECT [<db>]\n"
                + "\tKILL [<db>]\n"
                + "\tKILL_CLIENT <client_id>\n"
                + "\tSHUTDOWN\n"
                + "\tWAIT_CLOSE [<db>]\n"
                + "<db>: a pool's name as SHOW POOLS lists it (user@database/host:port), a database, or a host";
    }

    // ---------------------------------------------------------------- what the sessions show

    /** Every logged-in session's view, each read on its own event loop. */
    private CompletableFuture<List<ConsoleViews.SessionView>> sessions() {
        Map<EventLoop, List<ClientSession>> byLoop = new HashMap<>();
        for (ClientSession s : proxy.sessions()) {
            byLoop.computeIfAbsent(s.channel().eventLoop(), l -> new ArrayList<>()).add(s);
        }
        List<CompletableFuture<List<ConsoleViews.SessionView>>> parts = new ArrayList<>(byLoop.size());
        byLoop.forEach((loop, list) -> parts.add(CompletableFuture.supplyAsync(() -> {
            List<ConsoleViews.SessionView> views = new ArrayList<>(list.size());
            for (ClientSession s : list) {
                ConsoleViews.SessionView v = ConsoleViews.view(s);
                if (v != null) {
                    views.add(v);
                }
            }
            return views;
        }, loop)));
        return CompletableFuture.allOf(parts.toArray(CompletableFuture[]::new)).thenApply(x -> {
            List<ConsoleViews.SessionView> all = new ArrayList<>();
            parts.forEach(p -> all.addAll(p.join()));
            all.sort(Comparator.comparingLong(v -> v.client().id()));
            return all;
        });
    }

    /** A pool, or the passthrough sessions of one backend, as SHOW POOLS and SHOW DATABASES list it. */
    private static final class Group {
        final Holds.Backend backend;
        final Pool pool;
        int clientsActive;
        int clientsWaiting;
        int serversActive;
        int serversIdle;
        int serversUsed;
        int serversLogin;
        long maxWaitMicros;

        Group(Holds.Backend backend, Pool pool) {
            this.backend = backend;
            this.pool = pool;
        }

        String mode() {
            return pool == null ? "passthrough" : pool.config().mode().configName();
        }

        int servers() {
            return serversActive + serversIdle + serversUsed + serversLogin;
        }

        int clients() {
            return clientsActive + clientsWaiting;
        }
    }

    private Map<String, Group> groups(List<ConsoleViews.SessionView> views) {
        Map<String, Group> groups = new TreeMap<>();
        long now = System.nanoTime();
        for (Pool p : proxy.pools().all()) {
            if (p.backend() == null) {
                continue;
            }
            Group g = groups.computeIfAbsent(p.backend().name(), n -> new Group(p.backend(), p));
            PoolStats st = p.stats();
            g.serversActive += st.serversActive();
            g.serversLogin += st.serversOpening();
            for (PooledServer idle : p.idleServers()) {
                if (now - idle.releasedNanos() > p.config().checkAfterIdle().toNanos()) {
                    g.serversUsed++;
                } else {
                    g.serversIdle++;
                }
            }
            long since = p.oldestWaitSince();
            g.maxWaitMicros = since == 0 ? 0 : TimeUnit.NANOSECONDS.toMicros(now - since);
        }
        for (ConsoleViews.SessionView v : views) {
            if (v.backend() == null) {
                continue;
            }
            Group g = groups.get(v.backend().name());
            if (g == null || (g.pool == null) != v.passthrough()) {
                if (!v.passthrough()) {
                    continue; // its pool was retired meanwhile
                }
                g = groups.computeIfAbsent(v.backend().name() + (g == null ? "" : " (passthrough)"),
                        n -> new Group(v.backend(), null));
            }
            if (v.waiting()) {
                g.clientsWaiting++;
                g.maxWaitMicros = Math.max(g.maxWaitMicros, v.client().waitMicros());
            } else {
                g.clientsActive++;
            }
            if (g.pool == null && v.server() != null) {
                if ("login".equals(v.serverState())) {
                    g.serversLogin++;
                } else {
                    g.serversActive++;
                }
            }
        }
        return groups;
    }

    private Table fromSessions(String what, List<ConsoleViews.SessionView> views) {
        return switch (what) {
            case "CLIENTS" -> Shows.connections(views.stream().map(ConsoleViews.SessionView::client).toList(), false);
            case "SERVERS" -> {
                List<Shows.Connection> rows = new ArrayList<>();
                for (ConsoleViews.SessionView v : views) {
                    if (v.server() != null) {
                        rows.add(v.server());
                    }
                }
                long now = System.nanoTime();
                for (Pool p : proxy.pools().all()) {
                    for (PooledServer idle : p.idleServers()) {
                        rows.add(ConsoleViews.idle(idle, now));
                    }
                }
                rows.sort(Comparator.comparingLong(Shows.Connection::id));
                yield Shows.connections(rows, true);
            }
            case "POOLS" -> pools(groups(views));
            case "DATABASES" -> databases(groups(views));
            case "LISTS" -> lists(views, groups(views));
            case "USERS" -> users(views);
            default -> stats(what, groups(views));
        };
    }

    private Table pools(Map<String, Group> groups) {
        Table t = new Table(columns("POOLS"));
        for (Group g : groups.values()) {
            t.row(g.backend.name(), g.backend.user(), g.clientsActive, g.clientsWaiting, 0, 0, g.serversActive, 0, 0,
                    g.serversIdle, g.serversUsed, 0, g.serversLogin, (int) (g.maxWaitMicros / 1_000_000),
                    (int) (g.maxWaitMicros % 1_000_000), g.mode(), loadBalance(g.backend.config()));
        }
        return t;
    }

    private static String loadBalance(BackendConfig b) {
        return b.hosts().size() > 1 ? b.loadBalanceHosts().name().toLowerCase(Locale.ROOT) : null;
    }

    private Table databases(Map<String, Group> groups) {
        Table t = new Table(columns("DATABASES"));
        Holds holds = proxy.pools().holds();
        for (Group g : groups.values()) {
            BackendConfig b = g.backend.config();
            var pool = b.pool();
            t.row(g.backend.name(), b.host(), b.port(), g.backend.database(), g.backend.user(),
                    g.pool == null ? 0 : pool.size(), g.pool == null ? 0 : pool.minIdle(), 0,
                    (int) pool.serverLifetime().toSeconds(), g.mode(), loadBalance(b),
                    proxy.limits().maxHostConnections(), g.servers(), g.pool == null ? 0 : pool.maxClients(),
                    g.clients(), holds.waits(g.backend) ? 1 : 0,
                    holds.heldAs(g.backend) == Holds.Kind.DISABLE ? 1 : 0);
        }
        return t;
    }

    private Table lists(List<ConsoleViews.SessionView> views, Map<String, Group> groups) {
        long login = views.stream().filter(v -> "login".equals(v.client().state())).count();
        long servers = groups.values().stream().mapToLong(Group::servers).sum();
        long users = views.stream().map(v -> v.client().user()).distinct().count();
        long pools = groups.values().stream().filter(g -> g.pool != null).count();
        Table t = new Table(columns("LISTS"));
        t.row("databases", groups.size()).row("users", (int) users).row("peers", 0).row("pools", (int) pools)
                .row("peer_pools", 0).row("free_clients", 0).row("used_clients", views.size())
                .row("login_clients", (int) login).row("free_servers", 0).row("used_servers", (int) servers)
                .row("dns_names", 0).row("dns_zones", 0).row("dns_queries", 0).row("dns_pending", 0);
        return t;
    }

    private Table users(List<ConsoleViews.SessionView> views) {
        Map<String, int[]> byUser = new TreeMap<>();
        for (ConsoleViews.SessionView v : views) {
            int[] n = byUser.computeIfAbsent(v.client().user(), u -> new int[2]);
            n[1]++;
            if (v.server() != null) {
                n[0]++;
            }
        }
        Table t = new Table(columns("USERS"));
        byUser.forEach((user, n) -> t.row(user, "", "", null, 0, n[0], 0, n[1]));
        return t;
    }

    // ---------------------------------------------------------------- statistics

    /** The totals of one pool in SHOW STATS order: assignments, transactions, queries, bytes in, bytes out, transaction, query and wait time (µs), parses by clients and servers, binds. */
    private static long[] totals(PoolStats s) {
        return new long[] {s.serverAssignments(), s.transactions(), s.queries(), s.bytesReceived(), s.bytesSent(),
                s.xactNanos() / 1000, s.queryNanos() / 1000, s.waitNanos() / 1000, 0, 0, 0};
    }

    private Map<String, long[]> allTotals() {
        Map<String, long[]> out = new TreeMap<>();
        for (Pool p : proxy.pools().all()) {
            out.put(p.name(), totals(p.stats()));
        }
        return out;
    }

    /** Starts sampling the totals every stats period, for the averages, on the first console use. */
    private void startSampling(EventLoop loop) {
        if (sampling.compareAndSet(false, true)) {
            lastSample = allTotals();
            lastSampleNanos = System.nanoTime();
            loop.scheduleAtFixedRate(() -> {
                previousSample = lastSample;
                previousSampleNanos = lastSampleNanos;
                lastSample = allTotals();
                lastSampleNanos = System.nanoTime();
            }, STATS_PERIOD_SECONDS, STATS_PERIOD_SECONDS, TimeUnit.SECONDS);
        }
    }

    /** Averages over the last complete stats period, PgBouncer's way: counts per second, times per event. */
    private long[] averages(String name) {
        long[] now = lastSample.get(name);
        long[] before = previousSample.get(name);
        long[] avg = new long[11];
        if (now == null || previousSampleNanos == 0) {
            return avg;
        }
        if (before == null) {
            before = new long[11];
        }
        double seconds = Math.max(1, (lastSampleNanos - previousSampleNanos) / 1e9);
        long[] d = new long[11];
        for (int i = 0; i < 11; i++) {
            d[i] = Math.max(0, now[i] - before[i]);
        }
        avg[0] = Math.round(d[0] / seconds);
        avg[1] = Math.round(d[1] / seconds);
        avg[2] = Math.round(d[2] / seconds);
        avg[3] = Math.round(d[3] / seconds);
        avg[4] = Math.round(d[4] / seconds);
        avg[5] = d[1] == 0 ? 0 : d[5] / d[1];
        avg[6] = d[2] == 0 ? 0 : d[6] / d[2];
        avg[7] = d[0] == 0 ? 0 : d[7] / d[0];
        avg[8] = Math.round(d[8] / seconds);
        avg[9] = Math.round(d[9] / seconds);
        avg[10] = Math.round(d[10] / seconds);
        return avg;
    }

    private Table stats(String what, Map<String, Group> groups) {
        Table t = new Table(columns(what));
        Map<String, long[]> totals = new TreeMap<>();
        for (Group g : groups.values()) {
            totals.put(g.backend.name(), g.pool == null ? new long[11] : totals(g.pool.stats()));
        }
        if (what.equals("TOTALS")) {
            long[] sum = new long[11];
            long[] avg = new long[11];
            for (var e : totals.entrySet()) {
                long[] a = averages(e.getKey());
                for (int i = 0; i < 11; i++) {
                    sum[i] += e.getValue()[i];
                    avg[i] += a[i];
                }
            }
            String[] names = {"server_assignment_count", "xact_count", "query_count", "client_bytes",
                    "server_bytes", "xact_time", "query_time", "wait_time", "ps_client_parse_count",
                    "ps_server_parse_count", "ps_bind_count"};
            for (int i = 0; i < names.length; i++) {
                t.row("total_" + names[i], sum[i]);
            }
            for (int i = 0; i < names.length; i++) {
                t.row("avg_" + names[i], avg[i]);
            }
            return t;
        }
        for (var e : totals.entrySet()) {
            long[] tot = e.getValue();
            long[] avg = averages(e.getKey());
            Object[] row = new Object[t.columns().size()];
            row[0] = e.getKey();
            int at = 1;
            if (!what.equals("STATS_AVERAGES")) {
                for (long v : tot) {
                    row[at++] = v;
                }
            }
            if (!what.equals("STATS_TOTALS")) {
                for (long v : avg) {
                    row[at++] = v;
                }
            }
            t.row(row);
        }
        return t;
    }

    private Table pins() {
        Table t = new Table(columns("PINS"));
        List<PoolStats> all = new ArrayList<>(proxy.pools().stats());
        all.sort(Comparator.comparing(PoolStats::name));
        for (PoolStats s : all) {
            s.pins().forEach((cause, n) -> t.row(s.name(), cause, n));
        }
        return t;
    }

    // ---------------------------------------------------------------- configuration and routes

    private Table config() {
        Table t = new Table(columns("CONFIG"));
        Limits l = proxy.limits();
        Limits d = Limits.DEFAULT;
        ConsoleConfig c = proxy.console();
        t.row("admin_users", c == null ? "" : String.join(",", new java.util.TreeSet<>(c.adminUsers())), "", "yes");
        t.row("stats_users", c == null ? "" : String.join(",", new java.util.TreeSet<>(c.statsUsers())), "", "yes");
        t.row("console_database", c == null ? "" : c.database(), ConsoleConfig.DEFAULT_DATABASE, "yes");
        t.row("hide_unknown_users", proxy.hideUnknownUsers() ? "true" : "false", "false", "yes");
        t.row("allow_cleartext_without_tls", proxy.cleartextWithoutTls() ? "true" : "false", "false", "yes");
        t.row("limits.max_client_connections", l.maxClientConnections(), d.maxClientConnections(), "yes");
        t.row("limits.max_connections_per_ip", l.maxConnectionsPerIp(), d.maxConnectionsPerIp(), "yes");
        t.row("limits.max_host_connections", l.maxHostConnections(), d.maxHostConnections(), "yes");
        t.row("timeouts.client_login", seconds(l.loginTimeout()), seconds(d.loginTimeout()), "yes");
        t.row("timeouts.backend_connect", seconds(l.backendConnectTimeout()), seconds(d.backendConnectTimeout()),
                "yes");
        t.row("timeouts.router", seconds(l.routerTimeout()), seconds(d.routerTimeout()), "yes");
        t.row("timeouts.shutdown", seconds(l.shutdownTimeout()), seconds(d.shutdownTimeout()), "yes");
        t.row("auth_query_cache_ttl", seconds(l.authQueryCacheTtl()), seconds(d.authQueryCacheTtl()), "yes");
        t.row("stats_period", STATS_PERIOD_SECONDS, STATS_PERIOD_SECONDS, "no");
        return t;
    }

    private static String seconds(java.time.Duration d) {
        return d.toMillis() % 1000 == 0 ? d.toSeconds() + "s" : d.toMillis() + "ms";
    }

    private Table routes() {
        Table t = new Table(columns("ROUTES"));
        addRoutes(t, proxy.router());
        return t;
    }

    private static void addRoutes(Table t, Router router) {
        switch (router) {
            case ChainRouter c -> c.routers().forEach(r -> addRoutes(t, r));
            case StaticRouter s -> {
                new TreeMap<>(s.routes()).forEach((user, b) -> route(t, user, "static", b));
                if (s.fallback() != null) {
                    route(t, "*", "static default", s.fallback());
                }
            }
            case PostgresTableRouter p -> new TreeMap<>(p.routes()).forEach((user, b) -> route(t, user, "table", b));
            case HttpRouter h -> h.cachedRoutes().forEach((key, b) -> route(t, key, "http cache", b));
            case PatternRouter p -> p.rules().forEach(rule -> t.row(rule.name(), "pattern", rule.backend().host(),
                    null, rule.backend().database(), rule.backend().user(), null, null, null));
            case null -> {
            }
            default -> t.row("*", router.getClass().getSimpleName(), null, null, null, null, null, null, null);
        }
    }

    private static void route(Table t, String name, String source, BackendConfig b) {
        t.row(name, source, b.address(), b.port(), b.database(), b.user(),
                b.auth().name().toLowerCase(Locale.ROOT), b.pool().pooled() ? b.pool().mode().configName() : "none",
                b.pool().pooled() ? b.pool().size() : 0);
    }

    // ---------------------------------------------------------------- actions

    private CompletableFuture<Answer> onBackends(ConsoleCommand.OnBackends b, EventLoop loop,
                                                 java.util.function.BooleanSupplier cancelled) {
        Holds holds = proxy.pools().holds();
        String target = b.target();
        String what = target == null ? "" : " \"" + target + "\"";
        switch (b.verb()) {
            case "PAUSE" -> {
                if (!holds.add(Holds.Kind.PAUSE, target)) {
                    throw new Refused("55000", "already paused" + what);
                }
                // Until no server is left; a RESUME meanwhile (another admin's) ends the wait with an error.
                return until(loop, cancelled, () -> {
                    if (holds.list().stream().noneMatch(h -> h.kind() == Holds.Kind.PAUSE
                            && java.util.Objects.equals(h.target(), target))) {
                        return CompletableFuture.failedFuture(new Refused("57014",
                                "canceling PAUSE" + what + ": it was lifted by RESUME meanwhile"));
                    }
                    return noServers(target);
                }).thenApply(x -> Answer.done("PAUSE"));
            }
            case "RESUME" -> {
                if (!holds.remove(target, Holds.Kind.PAUSE, Holds.Kind.KILL)) {
                    throw new Refused("55000", target == null ? "pooler is not paused" : "not paused:" + what
                            + " (RESUME takes the name PAUSE or KILL was given)");
                }
                return CompletableFuture.completedFuture(Answer.done("RESUME"));
            }
            case "DISABLE" -> {
                if (!holds.add(Holds.Kind.DISABLE, target)) {
                    throw new Refused("55000", "already disabled" + what);
                }
                return CompletableFuture.completedFuture(Answer.done("DISABLE"));
            }
            case "ENABLE" -> {
                if (!holds.remove(target, Holds.Kind.DISABLE)) {
                    throw new Refused("55000", "not disabled" + what);
                }
                return CompletableFuture.completedFuture(Answer.done("ENABLE"));
            }
            case "KILL" -> {
                holds.add(Holds.Kind.KILL, target);
                return sessions().thenApply(views -> {
                    for (ConsoleViews.SessionView v : views) {
                        if (!v.console() && v.backend() != null && Holds.matches(target, v.backend())) {
                            v.session().terminate();
                        }
                    }
                    return Answer.done("KILL");
                });
            }
            case "RECONNECT" -> {
                for (Pool p : proxy.pools().all()) {
                    if (p.backend() != null && Holds.matches(target, p.backend())) {
                        p.reconnect();
                    }
                }
                return CompletableFuture.completedFuture(Answer.done("RECONNECT"));
            }
            case "WAIT_CLOSE" -> {
                return until(loop, cancelled, () -> noServerToClose(target)).thenApply(x -> Answer.done("WAIT_CLOSE"));
            }
            default -> throw new Refused("42601", "invalid command '" + b.verb() + "', use SHOW HELP;");
        }
    }

    /** Whether no server connection of the backends {@code target} names is left (pooled ones or passthrough). */
    private CompletableFuture<Boolean> noServers(String target) {
        for (Pool p : proxy.pools().all()) {
            if (p.backend() != null && Holds.matches(target, p.backend()) && p.servers() > 0) {
                return CompletableFuture.completedFuture(false);
            }
        }
        return sessions().thenApply(views -> views.stream().noneMatch(v -> v.passthrough() && v.server() != null
                && Holds.matches(target, v.backend())));
    }

    /** Whether no server connection RECONNECT marked is left among the backends {@code target} names. */
    private CompletableFuture<Boolean> noServerToClose(String target) {
        for (Pool p : proxy.pools().all()) {
            if (p.backend() != null && Holds.matches(target, p.backend())
                    && p.idleServers().stream().anyMatch(PooledServer::closeNeeded)) {
                return CompletableFuture.completedFuture(false);
            }
        }
        return sessions().thenApply(views -> views.stream().noneMatch(v -> v.server() != null
                && v.server().closeNeeded() && Holds.matches(target, v.backend())));
    }

    /**
     * Completes once {@code check} says so, asking again every 100 ms on {@code loop}; stops asking once
     * {@code cancelled} (the client left).
     */
    private static CompletableFuture<Void> until(EventLoop loop, java.util.function.BooleanSupplier cancelled,
                                                 java.util.function.Supplier<CompletableFuture<Boolean>> check) {
        CompletableFuture<Void> done = new CompletableFuture<>();
        poll(loop, cancelled, check, done);
        return done;
    }

    private static void poll(EventLoop loop, java.util.function.BooleanSupplier cancelled,
                             java.util.function.Supplier<CompletableFuture<Boolean>> check, CompletableFuture<Void> done) {
        if (cancelled.getAsBoolean()) {
            done.cancel(false);
            return;
        }
        check.get().whenComplete((ok, error) -> {
            if (error != null) {
                done.completeExceptionally(error);
            } else if (ok) {
                done.complete(null);
            } else {
                loop.schedule(() -> poll(loop, cancelled, check, done), POLL_MILLIS, TimeUnit.MILLISECONDS);
            }
        });
    }

    private CompletableFuture<Answer> killClient(long id) {
        for (ClientSession s : proxy.sessions()) {
            if (s.id() == id) {
                s.terminate();
                return CompletableFuture.completedFuture(Answer.done("KILL_CLIENT"));
            }
        }
        throw new Refused("42704", "client not found: " + id);
    }

    private CompletableFuture<Answer> reload() {
        AdminActions actions = proxy.adminActions();
        if (actions == null) {
            throw new Refused("0A000", "RELOAD needs pgmux started with a config file");
        }
        return CompletableFuture.supplyAsync(() -> {
            try {
                String summary = actions.reload();
                return new Answer(null, "RELOAD", summary == null || summary.isEmpty() ? List.of()
                        : List.of(summary), null);
            } catch (Refused r) {
                throw r;
            } catch (Exception e) {
                throw new Refused("F0000", "the configuration was not reloaded: " + e.getMessage());
            }
        }, proxy.routerExecutor());
    }
}
