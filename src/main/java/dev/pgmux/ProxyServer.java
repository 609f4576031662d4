package dev.pgmux;

import dev.pgmux.auth.AuthFile;
import dev.pgmux.listen.ClientChannels;
import dev.pgmux.listen.Listeners;
import dev.pgmux.metrics.ProxyMetrics;
import dev.pgmux.session.ProxyContext;
import dev.pgmux.session.ClientSession;
import dev.pgmux.tls.ServerTls;
import dev.pgmux.transport.Transport;
import io.netty.channel.EventLoopGroup;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A PostgreSQL routing proxy listening on one or more addresses.
 *
 * <pre>{@code
 * try (var proxy = new ProxyServer("127.0.0.1:5434", router).withTls(tls)) {
 *     proxy.start();
 *     proxy.awaitTermination();
 * }
 * }</pre>
 *
 * {@link #close()} shuts down gracefully: it stops accepting, ends each session at its first idle moment, and
 * after {@link Limits#shutdownTimeout()} ends the rest with FATAL 57P01.
 *
 * <p>The TCP listeners set {@code SO_REUSEPORT} where the transport has it (Linux): a second proxy of the same user
 * binds the same addresses while this one runs, which is how a rolling restart hands over without refusing anyone.
 */
public final class ProxyServer implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(ProxyServer.class);
    /** How long an {@link Authenticator} may take by default. */
    public static final Duration DEFAULT_AUTHENTICATOR_TIMEOUT = Duration.ofSeconds(5);

    private final List<String> listen;
    private Router router;
    private TlsConfig tlsConfig;
    private Limits limits = Limits.DEFAULT;
    private RoleCheck roleCheck;
    private Cluster cluster;
    private boolean hideUnknownUsers;
    /** Read by sessions on their event loops; replaced whole on reload. */
    private volatile AuthFile authFile;
    private Authenticator authenticator;
    private Duration authenticatorTimeout = DEFAULT_AUTHENTICATOR_TIMEOUT;
    private boolean cleartextWithoutTls;
    private int threads = Runtime.getRuntime().availableProcessors();
    private Transport transport = Transport.best();
    private Listeners.UnixSockets unixSockets;
    private ProxyProtocol proxyProtocol;
    private volatile ConsoleConfig console;
    private AdminActions adminActions;

    private final ProxyMetrics metrics = new ProxyMetrics();
    private ProxyContext context;
    private EventLoopGroup bossGroup;
    private EventLoopGroup workerGroup;
    private ExecutorService routerExecutor;
    private ScheduledExecutorService housekeeping;
    private ClientChannels clientChannels;
    private Listeners listeners;
    private final CountDownLatch terminated = new CountDownLatch(1);
    private volatile boolean closing;

    /**
     * Turns on the admin console ({@code psql -d pgmux}, {@code SHOW POOLS}, {@code PAUSE}, ...) for the users
     * {@code console} lists, authenticated against the auth file; null turns it off.
     */
    public ProxyServer withConsole(ConsoleConfig console) {
        this.console = console;
        return this;
    }

    /** Replaces the console's settings of a running proxy (reload); null turns it off for new logins. */
    public void console(ConsoleConfig console) {
        this.console = console;
        if (context != null) {
            context.console(console);
        }
    }

    /**
     * What the console's RELOAD and SHUTDOWN do. Without this, RELOAD is refused and SHUTDOWN closes the proxy
     * gracefully ({@link #close()}).
     */
    public ProxyServer withAdminActions(AdminActions actions) {
        this.adminActions = actions;
        return this;
    }

    /** @param listen {@code host:port}, {@code [v6]:port}, {@code *:port} (all interfaces); port 0 picks a free one */
    public ProxyServer(String listen, Router router) {
        this(List.of(listen), router);
    }

    public ProxyServer(List<String> listen, Router router) {
        if (listen.isEmpty()) {
            throw new IllegalArgumentException("no listen address");
        }
        listen.forEach(ProxyServer::parseAddress);
        this.listen = List.copyOf(listen);
        this.router = Objects.requireNonNull(router, "router");
    }

    public ProxyServer withTls(TlsConfig tls) {
        this.tlsConfig = tls;
        return this;
    }

    public ProxyServer withLimits(Limits limits) {
        this.limits = Objects.requireNonNull(limits, "limits");
        return this;
    }

    /** Credentials to check backend hosts' roles with, for {@link TargetSessionAttrs} (null: none). */
    public ProxyServer withRoleCheck(RoleCheck roleCheck) {
        this.roleCheck = roleCheck;
        return this;
    }

    /**
     * Makes this instance one of several behind a load balancer: its cancel keys carry its id, and cancel requests
     * for the other instances' keys are passed on to them (see {@link Cluster}).
     */
    public ProxyServer withCluster(Cluster cluster) {
        this.cluster = cluster;
        return this;
    }

    /**
     * Answers a user without a route as PostgreSQL answers a user it does not know: a SCRAM exchange that ends
     * with FATAL 28P01 {@code password authentication failed for user "NAME"}, so that clients cannot find out
     * which user names have routes. Off by default: such users get FATAL 28000 {@code no route for user "NAME"}.
     */
    public ProxyServer withHiddenUnknownUsers(boolean hide) {
        this.hideUnknownUsers = hide;
        return this;
    }

    /**
     * The users and passwords (or verifiers) of a PgBouncer-style auth file, for routes with {@link AuthMode#PROXY}
     * whose clients pgmux authenticates itself (null: none).
     */
    public ProxyServer withAuthFile(AuthFile authFile) {
        this.authFile = authFile;
        return this;
    }

    /**
     * Reads a PgBouncer-style auth file now (see {@link AuthFile}); {@link #authFile(AuthFile)} replaces it later.
     *
     * @throws IOException              if it cannot be read
     * @throws IllegalArgumentException if it is not in the format (the message names the line)
     */
    public ProxyServer withAuthFile(Path file) throws IOException {
        return withAuthFile(AuthFile.read(file));
    }

    /**
     * An application's hook into the logins of {@link AuthMode#PROXY} routes (null: none), called on a virtual
     * thread for up to {@link #DEFAULT_AUTHENTICATOR_TIMEOUT}; see {@link Authenticator}.
     */
    public ProxyServer withAuthenticator(Authenticator authenticator) {
        return withAuthenticator(authenticator, DEFAULT_AUTHENTICATOR_TIMEOUT);
    }

    /** As {@link #withAuthenticator(Authenticator)}; a call that takes longer than {@code timeout} fails the login. */
    public ProxyServer withAuthenticator(Authenticator authenticator, Duration timeout) {
        if (timeout.isZero() || timeout.isNegative()) {
            throw new IllegalArgumentException("the authenticator timeout must be positive");
        }
        this.authenticator = authenticator;
        this.authenticatorTimeout = timeout;
        if (context != null) {
            context.authenticator(authenticator, timeout);
        }
        return this;
    }

    /**
     * Lets routes with {@link ClientAuthMethod#PASSWORD} ask clients without TLS for their password, which then
     * crosses the network in cleartext. Off by default: such clients get FATAL 28000 before they send it.
     */
    public ProxyServer withCleartextWithoutTls(boolean allow) {
        cleartextWithoutTls(allow);
        return this;
    }

    /** Switches {@link #withCleartextWithoutTls} for new connections, as a config reload does. */
    public void cleartextWithoutTls(boolean allow) {
        this.cleartextWithoutTls = allow;
        if (context != null) {
            context.cleartextWithoutTls(allow);
        }
    }

    /** Event loop threads for client and backend connections (default: one per CPU). */
    public ProxyServer withThreads(int threads) {
        if (threads < 1) {
            throw new IllegalArgumentException("threads must be >= 1");
        }
        this.threads = threads;
        return this;
    }

    /**
     * Also listens on a Unix-domain socket {@code dir/.s.PGSQL.PORT} for each listen port, named as PostgreSQL
     * names its own, so that {@code psql -h dir -p PORT} connects; the socket files get mode {@code 0777}. Clients
     * there have no address ({@link RouteRequest#clientAddress()} is null) and no TLS.
     */
    public ProxyServer withUnixSocketDir(Path dir) {
        return withUnixSocketDir(dir, Listeners.UnixSockets.DEFAULT_MODE);
    }

    /**
     * As {@link #withUnixSocketDir(Path)}, with the socket files' mode ({@code 0660}: only the owner and its group
     * may connect), as PostgreSQL's {@code unix_socket_permissions}.
     */
    public ProxyServer withUnixSocketDir(Path dir, int mode) {
        this.unixSockets = dir == null ? null : new Listeners.UnixSockets(dir, mode);
        return this;
    }

    /**
     * Makes connections from trusted load balancers start with a PROXY protocol header whose address is the client's
     * (null: none; see {@link ProxyProtocol}).
     */
    public ProxyServer withProxyProtocol(ProxyProtocol proxyProtocol) {
        proxyProtocol(proxyProtocol);
        return this;
    }

    /** Replaces the trusted load balancers for new connections, as a config reload does (null: none). */
    public void proxyProtocol(ProxyProtocol proxyProtocol) {
        this.proxyProtocol = proxyProtocol;
        if (clientChannels != null) {
            clientChannels.proxyProtocol(proxyProtocol);
        }
    }

    /** Uses the NIO transport even where io_uring or epoll is available. */
    public ProxyServer withNioTransport() {
        this.transport = Transport.nio();
        return this;
    }

    /**
     * Binds the listen addresses and returns once the proxy accepts connections.
     *
     * @throws IOException if an address cannot be bound (the message names it) or the TLS files are unusable
     */
    public synchronized ProxyServer start() throws IOException {
        if (context != null) {
            throw new IllegalStateException("already started");
        }
        ServerTls serverTls = tlsConfig == null ? null : newServerTls(tlsConfig);
        newGroups();
        routerExecutor = Executors.newVirtualThreadPerTaskExecutor();
        context = new ProxyContext(router, limits, serverTls, transport, routerExecutor,
                Cluster.instanceIdOf(cluster), metrics);
        context.roleCheck(roleCheck);
        context.pools().loops(threads);
        context.authFile(this::authFile);
        context.authenticator(authenticator, authenticatorTimeout);
        context.cleartextWithoutTls(cleartextWithoutTls);
        context.hideUnknownUsers(hideUnknownUsers);
        context.console(console);
        context.adminActions(adminActions != null ? adminActions : new AdminActions() {
            @Override
            public String reload() {
                throw new UnsupportedOperationException("RELOAD needs pgmux started with a config file");
            }

            @Override
            public void shutdown() {
                Thread.ofPlatform().name("pgmux-shutdown").start(() -> close());
            }
        });
        if (cluster != null) {
            context.peers(resolvePeers(cluster));
        }
        housekeeping = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "pgmux-housekeeping");
            t.setDaemon(true);
            return t;
        });
        housekeeping.scheduleWithFixedDelay(() -> {
            ServerTls tls = context.serverTls();
            if (tls != null) {
                tls.reloadIfChanged();
            }
        }, 2, 2, TimeUnit.SECONDS);
        housekeeping.scheduleWithFixedDelay(() -> context.pools().sweep(), 1, 1, TimeUnit.SECONDS);
        housekeeping.scheduleWithFixedDelay(() -> context.pools().expireWaits(), 100, 100, TimeUnit.MILLISECONDS);
        clientChannels = new ClientChannels(context, proxyProtocol);
        try {
            listeners = Listeners.bind(transport, bossGroup, workerGroup, clientChannels,
                    listen.stream().map(ProxyServer::parseAddress).toList(), unixSockets);
        } catch (IOException e) {
            shutdownResources();
            throw e;
        }
        log.info("pgmux listening on {}{} transport={} threads={} tls={} proxy_protocol={}", addresses(),
                unixSockets == null ? "" : " and " + listeners.unixSocketPaths(), transport.name(), threads,
                serverTls == null ? "off" : serverTls.required() ? "required" : "on",
                proxyProtocol == null ? "off" : proxyProtocol.trusted());
        return this;
    }

    /**
     * The event loops. io_uring's availability check sets up a ring of one entry; the loops' own rings are larger and
     * may still be refused (a kernel that counts them against a low locked-memory limit): then epoll it is.
     */
    private void newGroups() {
        try {
            startGroups();
        } catch (RuntimeException e) {
            if (bossGroup != null) {
                bossGroup.shutdownGracefully(0, 0, TimeUnit.SECONDS);
            }
            Transport fallback = Transport.byName("epoll");
            if (fallback.name().equals(transport.name())) {
                throw e;
            }
            log.warn("transport {} could not start ({}); using {}", transport.name(), e.toString(), fallback.name());
            transport = fallback;
            startGroups();
        }
    }

    private void startGroups() {
        bossGroup = transport.newGroup(1, "pgmux-accept");
        workerGroup = transport.newGroup(threads, "pgmux-io");
    }

    private static ServerTls newServerTls(TlsConfig config) throws IOException {
        try {
            return new ServerTls(config);
        } catch (SSLException | IllegalArgumentException e) {
            throw new IOException("TLS setup failed: " + e.getMessage(), e);
        }
    }

    /** The port of the first listen address (useful with port 0). */
    public int port() {
        return addresses().get(0).getPort();
    }

    public synchronized List<InetSocketAddress> addresses() {
        return listeners == null ? List.of() : listeners.tcpAddresses();
    }

    /** The Unix-domain socket files listened on (none without {@link #withUnixSocketDir}). */
    public synchronized List<Path> unixSocketPaths() {
        return listeners == null ? List.of() : listeners.unixSocketPaths();
    }

    public ProxyStats stats() {
        ProxyContext ctx = context;
        return ctx == null ? new ProxyStats(0, 0, 0, 0) : ctx.stats();
    }

    /**
     * The latency histograms and error counts of this proxy's sessions; {@link dev.pgmux.metrics.ProxyCollector}
     * turns them, {@link #stats()} and {@link #poolStats()} into Prometheus metrics.
     */
    public ProxyMetrics metrics() {
        return metrics;
    }

    /** The server connection pools of pooled routes, now (empty before start). */
    public List<dev.pgmux.pool.PoolStats> poolStats() {
        ProxyContext ctx = context;
        return ctx == null ? List.of() : ctx.pools().stats();
    }

    /** Replaces the router for new connections; running sessions keep their backend. */
    public void router(Router router) {
        this.router = Objects.requireNonNull(router, "router");
        if (context != null) {
            context.router(router);
        }
    }

    /** Replaces the limits for new connections. */
    public void limits(Limits limits) {
        this.limits = Objects.requireNonNull(limits, "limits");
        if (context != null) {
            context.limits(limits);
        }
    }

    /**
     * Replaces the cluster's peer addresses. The instance id is part of the keys already handed out, so it cannot
     * change while running.
     *
     * @throws IllegalArgumentException if the instance id differs from the running one
     */
    public void cluster(Cluster cluster) {
        int running = Cluster.instanceIdOf(this.cluster);
        int next = Cluster.instanceIdOf(cluster);
        if (context != null && running != next) {
            throw new IllegalArgumentException("the instance id applies only at start (running: " + running
                    + ", new: " + next + ")");
        }
        this.cluster = cluster;
        if (context != null) {
            context.peers(cluster == null ? Map.of() : resolvePeers(cluster));
        }
    }

    /** Resolves the peers' addresses now, so that a cancel request never waits for DNS; unknown names are left out. */
    private static Map<Integer, InetSocketAddress> resolvePeers(Cluster cluster) {
        Map<Integer, InetSocketAddress> peers = new HashMap<>();
        cluster.peers().forEach((id, address) -> {
            if (id == cluster.instanceId()) {
                return;
            }
            BackendConfig.Endpoint e = BackendConfig.Endpoint.parse(address, 5432);
            InetSocketAddress resolved = new InetSocketAddress(e.host(), e.port());
            if (resolved.isUnresolved()) {
                log.warn("cluster peer {} address {} does not resolve: its cancel requests are dropped", id, address);
            } else {
                peers.put(id, resolved);
            }
        });
        return peers;
    }

    /** Switches {@link #withHiddenUnknownUsers} for new connections. */
    public void hideUnknownUsers(boolean hide) {
        this.hideUnknownUsers = hide;
        if (context != null) {
            context.hideUnknownUsers(hide);
        }
    }

    /** Replaces the role check credentials for new connections (null: none). */
    public void roleCheck(RoleCheck roleCheck) {
        this.roleCheck = roleCheck;
        if (context != null) {
            context.roleCheck(roleCheck);
        }
    }

    /** Replaces the auth file for new logins (null: none), as a config reload does. */
    public void authFile(AuthFile authFile) {
        this.authFile = authFile;
    }

    /**
     * The auth file in effect, or null: what a login to a {@link AuthMode#PROXY} route checks the client against
     * when the route has no {@link BackendConfig#clientCredential()}. Ask it at each login rather than keep it: a
     * reload replaces it. Never blocks; callable from any thread.
     */
    public AuthFile authFile() {
        return authFile;
    }

    /** Replaces the client TLS settings for new connections (null: no TLS). */
    public void tls(TlsConfig tls) throws IOException {
        this.tlsConfig = tls;
        if (context != null) {
            context.serverTls(tls == null ? null : newServerTls(tls));
        }
    }

    /** Shuts down gracefully within {@link Limits#shutdownTimeout()}. */
    @Override
    public void close() {
        close(limits.shutdownTimeout());
    }

    /**
     * Stops accepting, lets each session run until it is idle (no query in flight, outside a transaction), and
     * ends those still busy after {@code deadline} with FATAL 57P01. Returns when everything is closed.
     */
    public void close(Duration deadline) {
        synchronized (this) {
            if (closing || context == null) {
                closing = true;
                terminated.countDown();
                return;
            }
            closing = true;
        }
        if (listeners != null) {
            listeners.close();
        }
        context.startDraining();
        int open = context.sessions().size();
        if (open > 0) {
            log.info("shutting down: waiting up to {} ms for {} sessions", deadline.toMillis(), open);
        }
        context.sessions().forEach(ClientSession::drain);
        long end = System.nanoTime() + deadline.toNanos();
        waitForSessions(end);
        if (!context.sessions().isEmpty()) {
            log.info("shutdown deadline reached: terminating {} sessions", context.sessions().size());
            context.sessions().forEach(ClientSession::terminate);
            waitForSessions(System.nanoTime() + TimeUnit.SECONDS.toNanos(2));
        }
        shutdownResources();
        log.info("pgmux stopped");
        terminated.countDown();
    }

    private void waitForSessions(long endNanos) {
        while (!context.sessions().isEmpty() && System.nanoTime() < endNanos) {
            try {
                Thread.sleep(20);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }

    private void shutdownResources() {
        context.pools().close();
        if (housekeeping != null) {
            housekeeping.shutdownNow();
        }
        if (bossGroup != null) {
            bossGroup.shutdownGracefully(0, 2, TimeUnit.SECONDS).syncUninterruptibly();
        }
        if (workerGroup != null) {
            workerGroup.shutdownGracefully(0, 2, TimeUnit.SECONDS).syncUninterruptibly();
        }
        if (routerExecutor != null) {
            routerExecutor.shutdownNow();
        }
    }

    /** Blocks until {@link #close()} has finished. */
    public void awaitTermination() throws InterruptedException {
        terminated.await();
    }

    static InetSocketAddress parseAddress(String address) {
        String a = address.trim();
        int colon = a.lastIndexOf(':');
        if (colon < 0) {
            throw new IllegalArgumentException("listen address needs host:port: " + address);
        }
        String host = a.substring(0, colon);
        int port;
        try {
            port = Integer.parseInt(a.substring(colon + 1));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("bad port in listen address: " + address);
        }
        if (!TcpPort.isValidToListen(port)) {
            throw new IllegalArgumentException("port out of range in listen address: " + address);
        }
        if (host.startsWith("[") && host.endsWith("]")) {
            host = host.substring(1, host.length() - 1);
        }
        if (host.isEmpty() || host.equals("*")) {
            return new InetSocketAddress(port);
        }
        return new InetSocketAddress(host, port);
    }

}
