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
 * <p>The process id is random too. A later multi-instance setup can reserve its high bits for an instance id.
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

    private final ConcurrentHashMap<Integer, Entry> entries = new ConcurrentHashMap<>();
    private final SecureRandom random = new SecureRandom();

    /** Registers a backend session and returns the key to hand the client. */
    public Entry register(Target target, int secretLength) {
        byte[] secret = new byte[secretLength];
        random.nextBytes(secret);
        while (true) {
            int pid = random.nextInt(1, Integer.MAX_VALUE);
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
