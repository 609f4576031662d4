package dev.pgmux;

/**
 * A snapshot of a {@link ProxyServer}'s counters, all since start except {@code current}.
 *
 * @param current                client connections open now
 * @param accepted               client connections accepted
 * @param rejected               connections refused by a limit, a routing error, TLS policy, a protocol error or a
 *                               backend that could not be reached
 * @param cancels                cancel requests received
 * @param sessions               sessions that reached the backend and finished logging in
 * @param backendConnectFailures attempts to reach a backend host that failed (one per host tried)
 * @param bytesFromClients       bytes relayed from clients to backends after their startup messages
 * @param bytesToClients         bytes relayed from backends to clients once sessions were established
 */
public record ProxyStats(long current, long accepted, long rejected, long cancels, long sessions,
                         long backendConnectFailures, long bytesFromClients, long bytesToClients) {

    /** Connection counters only. */
    public ProxyStats(long current, long accepted, long rejected, long cancels) {
        this(current, accepted, rejected, cancels, 0, 0, 0, 0);
    }
}
