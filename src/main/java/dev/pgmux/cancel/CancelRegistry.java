package dev.pgmux.cancel;

import java.net.InetSocketAddress;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.util.Arrays;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Supplier;

/**
 * Maps the cancel keys pgmux gives clients to the backend sessions they stand for.
 *
 * <p>The process id a client sees is its backend's own, as PostgreSQL gives it: applications compare it with
 * {@code pg_backend_pid()} and with the process id of a NotificationResponse (to skip their own notifications).
 * The secret is pgmux's, from {@link SecureRandom} (4 bytes for protocol 3.0, 32 for 3.2), compared in constant
 * time, so a wrong secret and an unknown id are equally silent. Backends on different servers may share a process
 * id, so an id may stand for several entries, told apart by their secrets. Entries are removed when their session
 * ends.
 *
 * <p>In a cluster of instances ({@link dev.pgmux.Cluster}) bits 23 to 30 of the process id hold the instance id,
 * so that any instance can tell whose key a cancel request carries; the backend's process id fills the low 23 bits
 * (Linux process ids stay below 2^22 unless {@code pid_max} was raised; a larger one is replaced by a random id).
 */
public final class CancelRegistry {
    /** Secret length for protocol 3.2 clients (PostgreSQL 18 uses 32 bytes too). */
    public static final int LONG_SECRET = 32;

    /** Where a cancel must go: the backend's address and its own key. */
    public record Target(InetSocketAddress backend, int processId, byte[] secret) {
    }

    /**
     * The key given to a client, and what it maps to: a fixed target, or, for a pooled client whose server changes,
     * whichever {@code live} names at the moment of the cancel (null while it holds none).
     */
    public record Entry(int processId, byte[] secret, Target target, Supplier<Target> live) {
        Target now() {
            return live != null ? live.get() : target;
        }
    }

    private static final int INSTANCE_SHIFT = 23;
    private static final int LOW_BITS = (1 << INSTANCE_SHIFT) - 1;
    private static final Entry[] NONE = new Entry[0];

    private final ConcurrentHashMap<Integer, Entry[]> entries = new ConcurrentHashMap<>();
    private final SecureRandom random = new SecureRandom();
    private final int instanceId;

    /** A registry for a single instance: clients see their backends' process ids. */
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
        int pid;
        if (instanceId == 0) {
            pid = target.processId() > 0 ? target.processId() : random.nextInt(1, Integer.MAX_VALUE);
        } else {
            int low = target.processId() > 0 && target.processId() <= LOW_BITS ? target.processId()
                    : random.nextInt(1, LOW_BITS + 1);
            pid = instanceId << INSTANCE_SHIFT | low;
        }
        Entry entry = new Entry(pid, secret, target, null);
        entries.merge(pid, new Entry[] {entry}, CancelRegistry::concat);
        return entry;
    }

    /**
     * Registers a pooled client, whose cancel goes to the server {@code live} names when it arrives (nowhere while
     * it names none), and returns the key to hand the client: a process id of pgmux's choosing, since the client's
     * server changes.
     */
    public Entry registerLive(Supplier<Target> live, int secretLength) {
        byte[] secret = new byte[secretLength];
        random.nextBytes(secret);
        int low = random.nextInt(1, LOW_BITS + 1);
        int pid = instanceId == 0 ? low : instanceId << INSTANCE_SHIFT | low;
        Entry entry = new Entry(pid, secret, null, live);
        entries.merge(pid, new Entry[] {entry}, CancelRegistry::concat);
        return entry;
    }

    public void remove(Entry entry) {
        if (entry != null) {
            entries.computeIfPresent(entry.processId(), (pid, list) -> {
                Entry[] rest = Arrays.stream(list).filter(e -> e != entry).toArray(Entry[]::new);
                return rest.length == 0 ? null : rest;
            });
        }
    }

    /** The target for a client's key, or null when the id is unknown or no secret for it matches. */
    public Target lookup(int processId, byte[] secret) {
        Target found = null;
        for (Entry e : entries.getOrDefault(processId, NONE)) {
            // every entry is compared, so that the time taken says nothing about which one matched
            if (MessageDigest.isEqual(e.secret(), secret) && found == null) {
                found = e.now();
            }
        }
        return found;
    }

    /** Sessions registered. */
    public int size() {
        return entries.values().stream().mapToInt(list -> list.length).sum();
    }

    private static Entry[] concat(Entry[] a, Entry[] b) {
        Entry[] all = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, all, a.length, b.length);
        return all;
    }
}
