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
 */
public record Limits(int maxClientConnections, int maxConnectionsPerIp, Duration loginTimeout,
                     Duration backendConnectTimeout, Duration routerTimeout, Duration shutdownTimeout) {

    public static final Limits DEFAULT = new Limits(10_000, 0, Duration.ofSeconds(15), Duration.ofSeconds(5),
            Duration.ofSeconds(5), Duration.ofSeconds(30));

    public Limits {
        if (maxClientConnections < 0 || maxConnectionsPerIp < 0) {
            throw new IllegalArgumentException("connection limits must be >= 0");
        }
        positive(loginTimeout, "loginTimeout");
        positive(backendConnectTimeout, "backendConnectTimeout");
        positive(routerTimeout, "routerTimeout");
        if (shutdownTimeout == null || shutdownTimeout.isNegative()) {
            throw new IllegalArgumentException("shutdownTimeout must be >= 0");
        }
    }

    private static void positive(Duration d, String name) {
        if (d == null || d.isZero() || d.isNegative()) {
            throw new IllegalArgumentException(name + " must be positive");
        }
    }

    public Limits withMaxClientConnections(int n) {
        return new Limits(n, maxConnectionsPerIp, loginTimeout, backendConnectTimeout, routerTimeout, shutdownTimeout);
    }

    public Limits withMaxConnectionsPerIp(int n) {
        return new Limits(maxClientConnections, n, loginTimeout, backendConnectTimeout, routerTimeout, shutdownTimeout);
    }

    public Limits withLoginTimeout(Duration d) {
        return new Limits(maxClientConnections, maxConnectionsPerIp, d, backendConnectTimeout, routerTimeout, shutdownTimeout);
    }

    public Limits withBackendConnectTimeout(Duration d) {
        return new Limits(maxClientConnections, maxConnectionsPerIp, loginTimeout, d, routerTimeout, shutdownTimeout);
    }

    public Limits withRouterTimeout(Duration d) {
        return new Limits(maxClientConnections, maxConnectionsPerIp, loginTimeout, backendConnectTimeout, d, shutdownTimeout);
    }

    public Limits withShutdownTimeout(Duration d) {
        return new Limits(maxClientConnections, maxConnectionsPerIp, loginTimeout, backendConnectTimeout, routerTimeout, d);
    }
}
