package dev.pgmux.session;

import dev.pgmux.Limits;
import dev.pgmux.ProxyStats;
import dev.pgmux.RoleCheck;
import dev.pgmux.Router;
import dev.pgmux.cancel.CancelRegistry;
import dev.pgmux.tls.BackendTls;
import dev.pgmux.tls.ServerTls;
import dev.pgmux.transport.Transport;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;

/**
 * What all sessions of one proxy share: configuration (swappable while running, for reloads), the cancel
 * registry, counters and the set of live sessions (for a graceful shutdown).
 */
public final class ProxyContext {
    private volatile Router router;
    private volatile Limits limits;
    private volatile RoleCheck roleCheck;
    private volatile boolean hideUnknownUsers;
    private volatile java.util.Map<Character, String> passwordFailureLocation = java.util.Map.of();
    private final byte[] mockSecret = new byte[32];
    private volatile ServerTls serverTls;
    private final BackendTls backendTls = new BackendTls();
    private final CancelRegistry cancels;
    private volatile Map<Integer, InetSocketAddress> peers = Map.of();
    private final HostSelector hostSelector = new HostSelector(TimeUnit.SECONDS.toNanos(30));
    private final Transport transport;
    private final ExecutorService routerExecutor;
    private final Set<Session> sessions = ConcurrentHashMap.newKeySet();
    private final ConcurrentHashMap<InetAddress, AtomicInteger> perIp = new ConcurrentHashMap<>();
    private final AtomicLong current = new AtomicLong();
    private final AtomicLong accepted = new AtomicLong();
    private final AtomicLong rejected = new AtomicLong();
    private final AtomicLong cancelCount = new AtomicLong();
    private final AtomicLong established = new AtomicLong();
    private final AtomicLong connectFailures = new AtomicLong();
    private final LongAdder bytesFromClients = new LongAdder();
    private final LongAdder bytesToClients = new LongAdder();
    private volatile boolean draining;

    public ProxyContext(Router router, Limits limits, ServerTls serverTls, Transport transport,
                        ExecutorService routerExecutor) {
        this(router, limits, serverTls, transport, routerExecutor, 0);
    }

    /** @param instanceId this instance's id in a cluster (1 to 255), or 0 for none: it goes into cancel keys */
    public ProxyContext(Router router, Limits limits, ServerTls serverTls, Transport transport,
                        ExecutorService routerExecutor, int instanceId) {
        this.cancels = new CancelRegistry(instanceId);
        new java.security.SecureRandom().nextBytes(mockSecret);
        this.router = router;
        this.limits = limits;
        this.serverTls = serverTls;
        this.transport = transport;
        this.routerExecutor = routerExecutor;
    }

    public Router router() {
        return router;
    }

    public void router(Router router) {
        this.router = router;
    }

    public Limits limits() {
        return limits;
    }

    public void limits(Limits limits) {
        this.limits = limits;
    }

    /** Whether a user without a route gets a failing password exchange rather than "no route" (28000). */
    public boolean hideUnknownUsers() {
        return hideUnknownUsers;
    }

    public void hideUnknownUsers(boolean hide) {
        this.hideUnknownUsers = hide;
    }

    /**
     * The source location fields (F, L, R) of the last "password authentication failed" a backend sent, for the
     * same error when pgmux fails a hidden unknown user; empty until one was seen.
     */
    java.util.Map<Character, String> passwordFailureLocation() {
        return passwordFailureLocation;
    }

    void passwordFailureLocation(java.util.Map<Character, String> location) {
        this.passwordFailureLocation = location;
    }

    /**
     * How long real logins take, as clients see it, for hidden unknown users' answers to take as long: from the
     * start of connecting to the server's first authentication request, and from a client's authentication message
     * to the server's answer. Moving averages (1/8 weight to each new sample), in nanoseconds.
     */
    private final java.util.concurrent.atomic.AtomicLong loginLatency = new java.util.concurrent.atomic.AtomicLong(3_000_000);
    /** [0]: answer to the client's first SASL message; [1]: answer to its final message (the proof). */
    private final java.util.concurrent.atomic.AtomicLongArray authRoundTrip =
            new java.util.concurrent.atomic.AtomicLongArray(new long[] {1_000_000, 3_000_000});

    void recordLoginLatency(long nanos) {
        loginLatency.accumulateAndGet(nanos, ProxyContext::average);
    }

    void recordAuthRoundTrip(int step, long nanos) {
        authRoundTrip.accumulateAndGet(step, nanos, ProxyContext::average);
    }

    long loginLatency() {
        return loginLatency.get();
    }

    long authRoundTrip(int step) {
        return authRoundTrip.get(step);
    }

    private static long average(long mean, long sample) {
        long capped = Math.min(sample, 1_000_000_000L); // one slow login must not slow every later one
        return mean + (capped - mean) / 8;
    }

    /** This proxy's secret for the salts of {@link MockScram}: the same salt for a name on every attempt. */
    byte[] mockSecret() {
        return mockSecret;
    }

    public RoleCheck roleCheck() {
        return roleCheck;
    }

    public void roleCheck(RoleCheck roleCheck) {
        this.roleCheck = roleCheck;
    }

    public ServerTls serverTls() {
        return serverTls;
    }

    public void serverTls(ServerTls serverTls) {
        this.serverTls = serverTls;
    }

    BackendTls backendTls() {
        return backendTls;
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

    Transport transport() {
        return transport;
    }

    ExecutorService routerExecutor() {
        return routerExecutor;
    }

    public Set<Session> sessions() {
        return sessions;
    }

    public boolean draining() {
        return draining;
    }

    public void startDraining() {
        draining = true;
    }

    public ProxyStats stats() {
        return new ProxyStats(current.get(), accepted.get(), rejected.get(), cancelCount.get(), established.get(),
                connectFailures.get(), bytesFromClients.sum(), bytesToClients.sum());
    }

    /** Counts a new connection; returns the number from the same address, this one included. */
    int opened(InetAddress address) {
        accepted.incrementAndGet();
        current.incrementAndGet();
        return address == null ? 1 : perIp.computeIfAbsent(address, a -> new AtomicInteger()).incrementAndGet();
    }

    long currentConnections() {
        return current.get();
    }

    void closed(InetAddress address) {
        current.decrementAndGet();
        if (address != null) {
            perIp.computeIfPresent(address, (a, n) -> n.decrementAndGet() <= 0 ? null : n);
        }
    }

    void rejected() {
        rejected.incrementAndGet();
    }

    void established() {
        established.incrementAndGet();
    }

    void backendConnectFailed() {
        connectFailures.incrementAndGet();
    }

    void fromClient(int bytes) {
        bytesFromClients.add(bytes);
    }

    void toClient(int bytes) {
        bytesToClients.add(bytes);
    }

    void cancelReceived() {
        cancelCount.incrementAndGet();
    }
}
