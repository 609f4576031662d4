package dev.pgmux.pool;

import java.util.Map;

/**
 * A pool at one moment.
 *
 * @param name           {@code user@database/hosts}
 * @param mode           session or transaction
 * @param size           its pool_size
 * @param clients        clients of the pool (logged in)
 * @param waiting        clients waiting for a server connection now
 * @param serversActive  server connections in use by a client
 * @param serversIdle    server connections waiting in the pool
 * @param serversOpening server connections being opened
 * @param waits          times a client asked for a server connection
 * @param waitNanos      total time clients waited for one
 * @param transactions   transactions completed (a ReadyForQuery with status idle after a client's requests)
 * @param queries        queries and Syncs forwarded
 * @param pins           clients pinned to their server, by cause
 * @param serverAssignments times a server connection was given to a client
 * @param bytesReceived  bytes received from the pool's clients (once logged in)
 * @param bytesSent      bytes sent to the pool's clients (once logged in)
 * @param xactNanos      total time of the transactions counted in {@code transactions}
 * @param queryNanos     total time of the queries, each from its first message to its ReadyForQuery
 */
public record PoolStats(String name, String mode, int size, int clients, int waiting, int serversActive,
                        int serversIdle, int serversOpening, long waits, long waitNanos, long transactions,
                        long queries, Map<String, Long> pins, long serverAssignments, long bytesReceived,
                        long bytesSent, long xactNanos, long queryNanos) {
    public PoolStats {
        pins = Map.copyOf(pins);
    }
}
