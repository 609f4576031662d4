package dev.pgmux;

import java.time.Duration;

/**
 * Resource limits and timeouts of a {@link ProxyServer}.
 *
 * @param maxClientConnections client connections at once (0: unlimited); beyond it, FATAL 53300
 * @param maxConnectionsPerIp  client connections at once from one address (0: unlimited); beyond it, FATAL 53300
 * @param loginTimeout         from accept to the end of authentication; a client that trickles its startup is closed
 * @param backendConnectTimeout TCP connect (and TLS handshake) to a backend
 * @param routerTimeout        how long a {@link Router} may take
 * @param shutdownTimeout      how long {@link ProxyServer#close()} lets running sessions finish
 * @param authQueryCacheTtl    how long a credential an auth query found is used before it is looked up again (0:
 *                             looked up at every login, and no answer kept for an outage)
 * @param maxHostConnections   pooled server connections at once to one backend host, across all pools (0:
 *                             unlimited); a pool at this cap makes its clients wait as if it were full
 */
public record Limits(int maxClientConnections, int maxConnectionsPerIp, Duration loginTimeout,
                     Duration backendConnectTimeout, Duration routerTimeout, Duration shutdownTimeout,
                     Duration authQueryCacheTtl, int maxHostConnections) {

    /** The default of {@link #authQueryCacheTtl}. */
    public static final Duration DEFAULT_AUTH_QUERY_CACHE_TTL = Duration.ofSeconds(60);

    public static final Limits DEFAULT = new Limits(10_000, 0, Duration.ofSeconds(15), Duration.ofSeconds(5),
            Duration.ofSeconds(5), Duration.ofSeconds(30), DEFAULT_AUTH_QUERY_CACHE_TTL, 0);

    public Limits {
        if (maxClientConnections < 0 || maxConnectionsPerIp < 0 || maxHostConnections < 0) {
            throw new IllegalArgumentException("connection limits must be >= 0");
        }
        positive(loginTimeout, "loginTimeout");
        positive(backendConnectTimeout, "backendConnectTimeout");
        positive(routerTimeout, "routerTimeout");
        if (shutdownTimeout == null || shutdownTimeout.isNegative()) {
            throw new IllegalArgumentException("shutdownTimeout must be >= 0");
        }
        if (authQueryCacheTtl == null || authQueryCacheTtl.isNegative()) {
            throw new IllegalArgumentException("authQueryCacheTtl must be >= 0");
        }
    }

    /** Limits without a cap on pooled server connections per host. */
    public Limits(int maxClientConnections, int maxConnectionsPerIp, Duration loginTimeout,
                  Duration backendConnectTimeout, Duration routerTimeout, Duration shutdownTimeout,
                  Duration authQueryCacheTtl) {
        this(maxClientConnections, maxConnectionsPerIp, loginTimeout, backendConnectTimeout, routerTimeout,
                shutdownTimeout, authQueryCacheTtl, 0);
    }

    /** Limits with the default {@link #authQueryCacheTtl}. */
    public Limits(int maxClientConnections, int maxConnectionsPerIp, Duration loginTimeout,
                  Duration backendConnectTimeout, Duration routerTimeout, Duration shutdownTimeout) {
        this(maxClientConnections, maxConnectionsPerIp, loginTimeout, backendConnectTimeout, routerTimeout,
                shutdownTimeout, DEFAULT_AUTH_QUERY_CACHE_TTL);
    }

    public Limits withAuthQueryCacheTtl(Duration d) {
        return new Limits(maxClientConnections, maxConnectionsPerIp, loginTimeout, backendConnectTimeout, routerTimeout,
                shutdownTimeout, d, maxHostConnections);
    }

    private static void positive(Duration d, String name) {
        if (d == null || d.isZero() || d.isNegative()) {
            throw new IllegalArgumentException(name + " must be positive");
        }
    }

    public Limits withMaxClientConnections(int n) {
        return new Limits(n, maxConnectionsPerIp, loginTimeout, backendConnectTimeout, routerTimeout, shutdownTimeout,
                authQueryCacheTtl, maxHostConnections);
    }

    public Limits withMaxConnectionsPerIp(int n) {
        return new Limits(maxClientConnections, n, loginTimeout, backendConnectTimeout, routerTimeout, shutdownTimeout,
                authQueryCacheTtl, maxHostConnections);
    }

    public Limits withLoginTimeout(Duration d) {
        return new Limits(maxClientConnections, maxConnectionsPerIp, d, backendConnectTimeout, routerTimeout, shutdownTimeout,
                authQueryCacheTtl, maxHostConnections);
    }

    public Limits withBackendConnectTimeout(Duration d) {
        return new Limits(maxClientConnections, maxConnectionsPerIp, loginTimeout, d, routerTimeout, shutdownTimeout,
                authQueryCacheTtl, maxHostConnections);
    }

    public Limits withRouterTimeout(Duration d) {
        return new Limits(maxClientConnections, maxConnectionsPerIp, loginTimeout, backendConnectTimeout, d, shutdownTimeout,
                authQueryCacheTtl, maxHostConnections);
    }

    public Limits withShutdownTimeout(Duration d) {
        return new Limits(maxClientConnections, maxConnectionsPerIp, loginTimeout, backendConnectTimeout, routerTimeout, d,
                authQueryCacheTtl, maxHostConnections);
    }

    public Limits withMaxHostConnections(int n) {
        return new Limits(maxClientConnections, maxConnectionsPerIp, loginTimeout, backendConnectTimeout, routerTimeout,
                shutdownTimeout, authQueryCacheTtl, n);
    }
}
