package dev.pgmux;

/**
 * A snapshot of a {@link ProxyServer}'s connection counters.
 *
 * @param current  client connections open now
 * @param accepted client connections accepted since start
 * @param rejected connections refused by a limit, a routing error, TLS policy or a protocol error
 * @param cancels  cancel requests received
 */
public record ProxyStats(long current, long accepted, long rejected, long cancels) {
}
