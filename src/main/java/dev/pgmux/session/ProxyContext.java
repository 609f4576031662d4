package dev.pgmux.session;

import dev.pgmux.Authenticator;
import dev.pgmux.Limits;
import dev.pgmux.ProxyStats;
import dev.pgmux.RoleCheck;
import dev.pgmux.Router;
import dev.pgmux.auth.AuthFile;
import dev.pgmux.cancel.CancelRegistry;
import dev.pgmux.metrics.ProxyMetrics;
import dev.pgmux.server.HostSelector;
import dev.pgmux.server.ServerContext;
import dev.pgmux.tls.BackendTls;
import dev.pgmux.tls.ServerTls;
import dev.pgmux.transport.Transport;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

/**
 * What all sessions of one proxy share, in parts that change together: the configuration (one snapshot, replaced
 * whole on reload), the counters and measurements, the open-connection slots, the cluster's peers, the cancel registry, the
 * servers' shared context, the hidden users' timing, and the set of live sessions (for a graceful shutdown).
 */
public final class ProxyContext {

    /** The reloadable configuration, read whole by each session step. */
    record Settings(Router router, Limits limits, RoleCheck roleCheck, boolean hideUnknownUsers, ServerTls serverTls) {
    }

    /** The auth file (PgBouncer's format) for routes with {@code auth: proxy}, read at each login (reloads replace it). */
    private volatile Supplier<AuthFile> authFile = () -> null;

    /** The application's authentication hook and how long one call may take. */
    record Hook(Authenticator authenticator, Duration timeout) {
    }

    private volatile Hook hook;
    /** Whether clients without TLS may be asked for a cleartext password. */
    private volatile boolean cleartextWithoutTls;

    private volatile Settings settings;
    private volatile Map<Integer, InetSocketAddress> peers = Map.of();
    private volatile boolean draining;
    private final Counters counters = new Counters();
    private final ProxyMetrics metrics;
    private final ClientSlots clients = new ClientSlots();
    private final LoginTiming loginTiming = new LoginTiming();
    private final CancelRegistry cancels;
    private final HostSelector hostSelector = new HostSelector(TimeUnit.SECONDS.toNanos(30));
    private final ServerContext servers;
    private final Transport transport;
    private final ExecutorService routerExecutor;
    private final CredentialLookup.Cache credentialCache = new CredentialLookup.Cache();
    private final Set<ClientSession> sessions = ConcurrentHashMap.newKeySet();
    private volatile dev.pgmux.ConsoleConfig console;
    private volatile dev.pgmux.AdminActions adminActions;
    private final ConsoleEngine consoleEngine = new ConsoleEngine(this);
    private final dev.pgmux.pool.Pools pools = new dev.pgmux.pool.Pools(PooledLogin.opener(this),
            () -> this.settings.limits().maxHostConnections());

    public ProxyContext(Router router, Limits limits, ServerTls serverTls, Transport transport,
                        ExecutorService routerExecutor) {
        this(router, limits, serverTls, transport, routerExecutor, 0);
    }

    /** @param instanceId this instance's id in a cluster (1 to 255), or 0 for none: it goes into cancel keys */
    public ProxyContext(Router router, Limits limits, ServerTls serverTls, Transport transport,
                        ExecutorService routerExecutor, int instanceId) {
        this(router, limits, serverTls, transport, routerExecutor, instanceId, new ProxyMetrics());
    }

    /** @param metrics where the sessions' measurements go */
    public ProxyContext(Router router, Limits limits, ServerTls serverTls, Transport transport,
                        ExecutorService routerExecutor, int instanceId, ProxyMetrics metrics) {
        this.metrics = metrics;
        this.settings = new Settings(router, limits, null, false, serverTls);
        this.cancels = new CancelRegistry(instanceId);
        this.transport = transport;
        this.routerExecutor = routerExecutor;
        this.servers = new ServerContext(transport, new BackendTls(), hostSelector,
                () -> this.settings.limits().backendConnectTimeout(), counters::connectFailed);
    }

    /** The admin console's settings, or null for no console. */
    public dev.pgmux.ConsoleConfig console() {
        return console;
    }

    public void console(dev.pgmux.ConsoleConfig console) {
        this.console = console;
    }

    /** What RELOAD and SHUTDOWN do on the console, or null for the defaults. */
    public dev.pgmux.AdminActions adminActions() {
        return adminActions;
    }

    public void adminActions(dev.pgmux.AdminActions actions) {
        this.adminActions = actions;
    }

    ConsoleEngine consoleEngine() {
        return consoleEngine;
    }

    /** The server connection pools of pooled routes. */
    public dev.pgmux.pool.Pools pools() {
        return pools;
    }

    public Router router() {
        return settings.router();
    }

    public void router(Router router) {
        Settings s = settings;
        settings = new Settings(router, s.limits(), s.roleCheck(), s.hideUnknownUsers(), s.serverTls());
    }

    public Limits limits() {
        return settings.limits();
    }

    public void limits(Limits limits) {
        Settings s = settings;
        settings = new Settings(s.router(), limits, s.roleCheck(), s.hideUnknownUsers(), s.serverTls());
    }

    public RoleCheck roleCheck() {
        return settings.roleCheck();
    }

    public void roleCheck(RoleCheck roleCheck) {
        Settings s = settings;
        settings = new Settings(s.router(), s.limits(), roleCheck, s.hideUnknownUsers(), s.serverTls());
    }

    /** Whether a user without a route gets a failing password exchange rather than "no route" (28000). */
    public boolean hideUnknownUsers() {
        return settings.hideUnknownUsers();
    }

    public void hideUnknownUsers(boolean hide) {
        Settings s = settings;
        settings = new Settings(s.router(), s.limits(), s.roleCheck(), hide, s.serverTls());
    }

    public ServerTls serverTls() {
        return settings.serverTls();
    }

    public void serverTls(ServerTls serverTls) {
        Settings s = settings;
        settings = new Settings(s.router(), s.limits(), s.roleCheck(), s.hideUnknownUsers(), serverTls);
    }

    /** The auth file now in force, or null. */
    public AuthFile authFile() {
        return authFile.get();
    }

    /** Where the auth file in force comes from (the proxy's, which reloads replace). */
    public void authFile(Supplier<AuthFile> source) {
        this.authFile = source;
    }

    /** Sets the authentication hook for logins to routes with {@code auth: proxy} (null: none). */
    public void authenticator(Authenticator authenticator, Duration timeout) {
        this.hook = authenticator == null ? null : new Hook(authenticator, timeout);
    }

    /** The authentication hook, or null. */
    Hook hook() {
        return hook;
    }

    public void cleartextWithoutTls(boolean allow) {
        this.cleartextWithoutTls = allow;
    }

    /** Whether routes with {@code client_auth_method: password} may ask clients without TLS for their password. */
    boolean cleartextWithoutTls() {
        return cleartextWithoutTls;
    }

    /** What sessions have seen of backend hosts' roles, and the order to try hosts in. */
    public HostSelector hostSelector() {
        return hostSelector;
    }

    /** Sets the other instances' addresses, by instance id (resolved already: cancels must not wait for DNS). */
    public void peers(Map<Integer, InetSocketAddress> peers) {
        this.peers = Map.copyOf(peers);
    }

    /** The address of the instance with this id, or null. */
    InetSocketAddress peer(int instanceId) {
        return peers.get(instanceId);
    }

    public CancelRegistry cancels() {
        return cancels;
    }

    public Set<ClientSession> sessions() {
        return sessions;
    }

    public boolean draining() {
        return draining;
    }

    public void startDraining() {
        draining = true;
    }

    public ProxyStats stats() {
        return counters.stats(clients);
    }

    Transport transport() {
        return transport;
    }

    ExecutorService routerExecutor() {
        return routerExecutor;
    }

    /** The answers of auth queries ({@link CredentialLookup}). */
    CredentialLookup.Cache credentialCache() {
        return credentialCache;
    }

    ServerContext servers() {
        return servers;
    }

    Counters counters() {
        return counters;
    }

    /** The latency histograms and error counts of this proxy. */
    public ProxyMetrics metrics() {
        return metrics;
    }

    ClientSlots clients() {
        return clients;
    }

    LoginTiming loginTiming() {
        return loginTiming;
    }
}
