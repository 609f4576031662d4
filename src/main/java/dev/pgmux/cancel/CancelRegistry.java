package dev.pgmux.cancel;

import java.net.InetSocketAddress;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Maps the cancel keys pgmux gives clients to the backend sessions they stand for. Keys come from
 * {@link SecureRandom}; the process id is the map key and the secret is compared in constant time, so a wrong
 * secret and an unknown id are equally silent. Entries are removed when their session ends.
 *
 * <p>The process id is random too. In a cluster of instances ({@link dev.pgmux.Cluster}) its bits 23 to 30 hold
 * the instance id, so that any instance can tell whose key a cancel request carries; 23 random bits remain.
 */
public final class CancelRegistry {
    /** Secret length for protocol 3.2 clients (PostgreSQL 18 uses 32 bytes too). */
    public static final int LONG_SECRET = 32;

    /** Where a cancel must go: the backend's address and its own key. */
    public record Target(InetSocketAddress backend, int processId, byte[] secret) {
    }

    /** The key given to a client, and what it maps to. */
    public record Entry(int processId, byte[] secret, Target target) {
    }

    private static final int INSTANCE_SHIFT = 23;

    private final ConcurrentHashMap<Integer, Entry> entries = new ConcurrentHashMap<>();
    private final SecureRandom random = new SecureRandom();
    private final int instanceId;

    /** A registry for a single instance: process ids are random in 1 to 2^31 - 1. */
    public CancelRegistry() {
        this(0);
    }

    /** @param instanceId this instance's id in a cluster (1 to 255), or 0 for none */
    public CancelRegistry(int instanceId) {
        if (instanceId < 0 || instanceId > 255) {
            throw new IllegalArgumentException("instance id out of range: " + instanceId);
        }
        this.instanceId = instanceId;
    }

    public int instanceId() {
        return instanceId;
    }

    /** The instance a process id was handed out by (0 for a registry without an instance id). */
    public static int instanceOf(int processId) {
        return (processId >>> INSTANCE_SHIFT) & 0xFF;
    }

    /** Registers a backend session and returns the key to hand the client. */
    public Entry register(Target target, int secretLength) {
        byte[] secret = new byte[secretLength];
        random.nextBytes(secret);
        while (true) {
            int pid = instanceId == 0 ? random.nextInt(1, Integer.MAX_VALUE)
                    : instanceId << INSTANCE_SHIFT | random.nextInt(1 << INSTANCE_SHIFT);
            Entry entry = new Entry(pid, secret, target);
            if (entries.putIfAbsent(pid, entry) == null) {
                return entry;
            }
        }
    }

    public void remove(Entry entry) {
        if (entry != null) {
            entries.remove(entry.processId(), entry);
        }
    }

    /** The target for a client's key, or null when the id is unknown or the secret does not match. */
    public Target lookup(int processId, byte[] secret) {
        Entry e = entries.get(processId);
        if (e == null || !MessageDigest.isEqual(e.secret(), secret)) {
            return null;
        }
        return e.target();
    }

    public int size() {
        return entries.size();
    }
}
