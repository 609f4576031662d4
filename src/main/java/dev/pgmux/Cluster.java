package dev.pgmux;

import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;

/**
 * Several pgmux instances behind one load balancer, for cancel requests. A client's CancelRequest arrives on a new
 * connection, which the load balancer may send to another instance than the one holding the session. Each
 * instance therefore puts its id into the cancel keys it hands out (the process id's bits 23 to 30), and passes a
 * cancel request for another instance's key on to that instance, whose address it finds here.
 *
 * @param instanceId this instance's id, 1 to 255, different on every instance
 * @param peers      every instance's id and the address it accepts PostgreSQL clients on ({@code host:port}); this
 *                   instance may be listed too
 */
public record Cluster(int instanceId, Map<Integer, String> peers) {
    /** Instance ids fit in 8 bits. */
    public static final int MAX_INSTANCE_ID = 255;

    public Cluster {
        checkId(instanceId);
        peers = Map.copyOf(Objects.requireNonNull(peers, "peers"));
        peers.forEach((id, address) -> {
            checkId(id);
            Objects.requireNonNull(address, "peer address");
        });
        peers = java.util.Collections.unmodifiableMap(new TreeMap<>(peers));
    }

    /** The instance id of {@code cluster}, or 0 for none (a single instance). */
    public static int instanceIdOf(Cluster cluster) {
        return cluster == null ? 0 : cluster.instanceId();
    }

    private static void checkId(int id) {
        if (id < 1 || id > MAX_INSTANCE_ID) {
            throw new IllegalArgumentException("instance id must be between 1 and " + MAX_INSTANCE_ID + ", not " + id);
        }
    }
}
