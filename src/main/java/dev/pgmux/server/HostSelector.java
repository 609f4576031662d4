package dev.pgmux.server;

import dev.pgmux.BackendConfig;
import dev.pgmux.BackendConfig.Endpoint;
import dev.pgmux.RoleCheck;
import dev.pgmux.TargetSessionAttrs;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Predicate;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The order in which a session tries a backend's hosts, and what pgmux has seen of each host's role.
 *
 * <p>With pass-through authentication a session cannot move to another host once the client has answered the
 * server's password request (a SCRAM exchange cannot be replayed), so {@code target_session_attrs} cannot be
 * checked the way libpq does, by trying hosts until one fits. Instead every session reports the role its server
 * announced at the end of startup ({@code in_hot_standby}, {@code default_transaction_read_only}), and later
 * sessions try hosts that were seen in a fitting role first, hosts not seen (or not recently) next, and hosts seen
 * in another role last: a role can change (a standby promoted), and the check at the end of startup still decides.
 * With a {@link RoleCheck}, hosts of unknown role are asked before the client is sent anywhere.
 */
public final class HostSelector {
    private static final Logger log = LoggerFactory.getLogger(HostSelector.class);

    /** A role as the server reported it. */
    public record Role(boolean hotStandby, boolean readOnly) {
    }

    private record Seen(Role role, long atNanos) {
    }

    static final int MAX_HOSTS = 100_000;
    /** Role checks running at once; beyond, hosts stay unknown (and are tried in the route's order). */
    static final int MAX_PROBES = 64;
    private static final long PROBE_RETRY_NANOS = TimeUnit.SECONDS.toNanos(5);

    private final ConcurrentHashMap<Endpoint, Seen> seen = new ConcurrentHashMap<>();
    private final ConcurrentHashMap<Endpoint, CompletableFuture<Role>> probes = new ConcurrentHashMap<>();
    private final ConcurrentHashMap<Endpoint, Long> probeFailures = new ConcurrentHashMap<>();
    /** Round-robin turns, per host list (so that backends sharing the proxy do not share one rotation). */
    private final ConcurrentHashMap<List<Endpoint>, AtomicInteger> turns = new ConcurrentHashMap<>();
    private final long ttlNanos;

    /** @param ttlNanos how long an observed role counts as known */
    public HostSelector(long ttlNanos) {
        this.ttlNanos = ttlNanos;
    }

    /** Remembers the role a server reported. */
    public void observed(Endpoint host, Role role) {
        long now = System.nanoTime();
        putBounded(seen, host, new Seen(role, now), s -> now - s.atNanos() > ttlNanos);
    }

    /**
     * Puts an entry unless the map holds {@link #MAX_HOSTS} others that are all still in use: expired ones make
     * room first.
     */
    private static <V> void putBounded(Map<Endpoint, V> map, Endpoint key, V value, Predicate<V> expired) {
        if (map.size() >= MAX_HOSTS && !map.containsKey(key)) {
            map.values().removeIf(expired);
            if (map.size() >= MAX_HOSTS) {
                return;
            }
        }
        map.put(key, value);
    }

    /**
     * Remembers whether a server is a hot standby, from a session whose own settings made its
     * {@code default_transaction_read_only} say nothing about the server: what was known of that stays.
     */
    public void observedStandby(Endpoint host, boolean hotStandby) {
        Role before = known(host);
        observed(host, new Role(hotStandby, before != null && before.readOnly()));
    }

    /** The role last seen for a host, or null if none was seen within the TTL. */
    public Role known(Endpoint host) {
        Seen s = seen.get(host);
        return s == null || System.nanoTime() - s.atNanos() > ttlNanos ? null : s.role();
    }

    /**
     * The backend's hosts in the order to try them. With a role check, hosts of unknown role are checked first
     * (all at once, each for at most {@code timeout}); this blocks, so call it off event loops.
     *
     * @param check credentials to check hosts' roles with, or null to go by what sessions saw
     */
    public List<Endpoint> order(BackendConfig backend, RoleCheck check, Duration timeout) {
        if (check != null && backend.hosts().size() > 1 && backend.targetSessionAttrs() != TargetSessionAttrs.ANY) {
            checkUnknown(backend, check, timeout);
        }
        return order(backend);
    }

    private void checkUnknown(BackendConfig backend, RoleCheck check, Duration timeout) {
        List<CompletableFuture<Role>> pending = new ArrayList<>();
        for (Endpoint h : backend.hosts()) {
            Long failed = probeFailures.get(h);
            if (failed != null && System.nanoTime() - failed < PROBE_RETRY_NANOS) {
                continue; // a host that just failed its check is not asked again at every login
            }
            if (known(h) == null && (probes.size() < MAX_PROBES || probes.containsKey(h))) {
                pending.add(probes.computeIfAbsent(h, host -> {
                    CompletableFuture<Role> f = new CompletableFuture<>();
                    Thread.ofVirtual().name("pgmux-role-check").start(() -> {
                        try {
                            Role role = RoleProbe.probe(host, backend, check, timeout);
                            observed(host, role);
                            probeFailures.remove(host);
                            f.complete(role);
                        } catch (Exception e) {
                            rememberFailure(host);
                            log.warn("role check failed backend={} user={} error={}", host, check.user(), e.getMessage());
                            f.completeExceptionally(e);
                        } finally {
                            probes.remove(host, f);
                        }
                    });
                    return f;
                }));
            }
        }
        long deadline = System.nanoTime() + timeout.toNanos();
        for (CompletableFuture<Role> f : pending) {
            try {
                f.get(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
            } catch (ExecutionException | TimeoutException e) {
                // unknown it stays: tried after the hosts known to fit
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }

    private void rememberFailure(Endpoint host) {
        long now = System.nanoTime();
        putBounded(probeFailures, host, now, at -> now - at > PROBE_RETRY_NANOS);
    }

    private int nextTurn(List<Endpoint> hosts) {
        if (turns.size() >= MAX_HOSTS && !turns.containsKey(hosts)) {
            turns.clear(); // a new rotation for every list: fairness restarts, nothing breaks
        }
        return turns.computeIfAbsent(hosts, h -> new AtomicInteger()).getAndIncrement();
    }

    /** The backend's hosts in the order to try them, from what is known now. */
    public List<Endpoint> order(BackendConfig backend) {
        List<Endpoint> hosts = new ArrayList<>(backend.hosts());
        if (hosts.size() == 1) {
            return hosts;
        }
        switch (backend.loadBalanceHosts()) {
            case RANDOM -> Collections.shuffle(hosts, ThreadLocalRandom.current());
            case ROUND_ROBIN -> Collections.rotate(hosts, -Math.floorMod(nextTurn(backend.hosts()), hosts.size()));
            case DISABLE -> {
            }
        }
        TargetSessionAttrs attrs = backend.targetSessionAttrs();
        if (attrs == TargetSessionAttrs.ANY) {
            return hosts;
        }
        List<Endpoint> preferred = new ArrayList<>();
        List<Endpoint> unknown = new ArrayList<>();
        List<Endpoint> other = new ArrayList<>();
        for (Endpoint h : hosts) {
            Role r = known(h);
            if (r == null) {
                unknown.add(h);
            } else if (attrs.prefers(r.hotStandby(), r.readOnly())) {
                preferred.add(h);
            } else {
                other.add(h);
            }
        }
        preferred.addAll(unknown);
        preferred.addAll(other);
        return preferred;
    }

    /**
     * Records the role a host reported at the end of a login (its ParameterStatus values) and checks it against
     * the backend's {@code target_session_attrs}.
     *
     * @param sent the startup parameters the host was sent
     * @return null when the role is acceptable, else what was found (libpq's wording)
     */
    String checkRole(Endpoint host, BackendConfig backend, Map<String, String> sent, Map<String, String> reported) {
        String inHotStandby = reported.get("in_hot_standby");
        if (inHotStandby == null) {
            return null; // a server before PostgreSQL 14 reports neither: nothing to go by
        }
        Role role = new Role("on".equals(inHotStandby), "on".equals(reported.get("default_transaction_read_only")));
        // A client (or its route) can set default_transaction_read_only for its own session: then the value says
        // nothing about the host, and other sessions must not go by it. in_hot_standby no client can set.
        if (sent.containsKey("default_transaction_read_only") || sent.containsKey("options")
                || sent.containsKey("transaction_read_only")) {
            observedStandby(host, role.hotStandby());
        } else {
            observed(host, role);
        }
        var attrs = backend.targetSessionAttrs();
        if (attrs.accepts(role.hotStandby(), role.readOnly())) {
            return null;
        }
        return switch (attrs) {
            case READ_WRITE -> role.hotStandby() ? "server is in hot standby mode" : "session is read-only";
            case READ_ONLY -> "session is not read-only";
            case PRIMARY -> "server is in hot standby mode";
            default -> "server is not in hot standby mode";
        };
    }
}
