package dev.pgmux.pool;

import dev.pgmux.BackendConfig;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.IntSupplier;

/**
 * The pools of one proxy, one per backend, backend user and database; created at a pooled route's first client.
 */
public final class Pools {
    /** A pool's identity: the backend as configured (hosts, TLS, credentials, pool settings), user and database. */
    private record Key(BackendConfig backend, String user, String database) {
    }

    private final ConcurrentHashMap<Key, Pool> pools = new ConcurrentHashMap<>();
    private final HostSlots hostSlots;
    private final Pool.Opener opener;
    private volatile int loops = 1;
    private final dev.pgmux.console.Holds holds = new dev.pgmux.console.Holds();
    /** The names given to pools, so that two pools made at once never get the same one. */
    private final java.util.Map<String, Boolean> names = new java.util.HashMap<>();

    /** @param maxHostConnections the cap on pooled connections per backend host, read at each opening (0: none) */
    public Pools(Pool.Opener opener, IntSupplier maxHostConnections) {
        this.opener = opener;
        this.hostSlots = new HostSlots(maxHostConnections);
        holds.onChange(() -> pools.values().forEach(p -> p.pause(holds.waits(p.backend()))));
    }

    /** The console's holds (PAUSE, KILL, DISABLE) on backends, pooled or not. */
    public dev.pgmux.console.Holds holds() {
        return holds;
    }

    /** The pools now. */
    public List<Pool> all() {
        return List.copyOf(pools.values());
    }

    /** The number of event loops clients are spread over (a pool shares its size out over them). */
    public void loops(int loops) {
        this.loops = loops;
    }

    /**
     * Counts a client of {@code backend}, logged in to the backend as {@code user} on {@code database}, into its pool.
     *
     * @return the pool, or null when the pool has its {@code max_clients} already
     */
    public Pool admit(BackendConfig backend, String user, String database) {
        Key key = new Key(backend, user, database);
        while (true) {
            Pool p = pools.computeIfAbsent(key, k -> {
                String name = uniqueName(user + "@" + database + "/" + backend.address());
                Pool created = new Pool(name, backend.pool(), opener, hostSlots, backend.address(), loops,
                        new dev.pgmux.console.Holds.Backend(name, user, database, backend));
                if (!holds.isEmpty() && holds.waits(created.backend())) {
                    created.pause(true);
                }
                return created;
            });
            // A hold added or lifted while the pool was being made may have missed it (it was not in the map yet).
            boolean held = !holds.isEmpty() && holds.waits(p.backend());
            if (held != p.paused()) {
                p.pause(held);
            }
            switch (p.admit()) {
                case IN -> {
                    return p;
                }
                case FULL -> {
                    return null;
                }
                case RETIRED -> forget(key, p); // swept meanwhile: a new one takes its place
            }
        }
    }

    /**
     * {@code base}, or, while a pool of another key (the same backend user, database and hosts with other settings,
     * such as a session and a transaction pool) has that name, {@code base#2}, {@code base#3}, ...
     */
    private String uniqueName(String base) {
        synchronized (names) {
            String name = base;
            for (int i = 2; names.containsKey(name); i++) {
                name = base + "#" + i;
            }
            names.put(name, Boolean.TRUE);
            return name;
        }
    }

    /** A retired pool's name is free again. */
    private void forget(Key key, Pool p) {
        if (pools.remove(key, p)) {
            synchronized (names) {
                names.remove(p.name());
            }
        }
    }

    public List<PoolStats> stats() {
        List<PoolStats> all = new ArrayList<>();
        for (Pool p : pools.values()) {
            all.add(p.stats());
        }
        return all;
    }

    /** Ends the waits past their pools' {@code query_wait_timeout} (53300). Any thread; runs often. */
    public void expireWaits() {
        long now = System.nanoTime();
        for (Pool p : pools.values()) {
            p.expire(now);
        }
    }

    /** Closes what has aged out; forgets pools with nothing left in them. */
    public void sweep() {
        long now = System.nanoTime();
        for (var e : pools.entrySet()) {
            e.getValue().sweep(now);
            if (e.getValue().retireIfEmpty()) {
                forget(e.getKey(), e.getValue());
            }
        }
    }

    /** Closes all idle connections and fails all waiters (shutdown). */
    public void close() {
        for (Pool p : pools.values()) {
            p.close();
        }
    }
}
