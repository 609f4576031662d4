package dev.pgmux.console;

import dev.pgmux.BackendConfig;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * The holds the console put on backends: {@code PAUSE} and {@code KILL} make new work wait (a pooled client for a
 * server, a passthrough login before its server is connected) until {@code RESUME}; {@code DISABLE} refuses new
 * logins until {@code ENABLE}. A hold names its backends by a target ({@link #matches}), or all of them.
 */
public final class Holds {

    public enum Kind { PAUSE, KILL, DISABLE }

    /** @param target what it names, or null for every backend */
    public record Hold(Kind kind, String target) {
    }

    /**
     * A backend as the console names it.
     *
     * @param name     {@code user@database/host:port}: a pool's name, or a passthrough backend's
     * @param user     the user on the backend
     * @param database the database on the backend
     */
    public record Backend(String name, String user, String database, BackendConfig config) {
    }

    private final List<Hold> holds = new CopyOnWriteArrayList<>();
    private final List<Runnable> waiting = new CopyOnWriteArrayList<>();
    /** Called after each change, to update what the pools cache. */
    private volatile Runnable onChange = () -> {
    };

    public void onChange(Runnable r) {
        this.onChange = r;
    }

    /**
     * Whether {@code target} names {@code backend}: its name exactly, its database or user on the backend, its host
     * list as written ({@code h1:5432,h2:5432}), or one of its hosts (with or without the port).
     */
    public static boolean matches(String target, Backend backend) {
        if (target == null || target.equals(backend.name()) || target.equals(backend.database())
                || target.equals(backend.user())) {
            return true;
        }
        BackendConfig c = backend.config();
        if (target.equals(c.address())) {
            return true;
        }
        for (BackendConfig.Endpoint h : c.hosts()) {
            if (target.equals(h.host()) || target.equals(h.host() + ":" + h.port())) {
                return true;
            }
        }
        return false;
    }

    /** The hold that applies to {@code backend}, DISABLE first, or null. */
    public Kind heldAs(Backend backend) {
        Kind found = null;
        for (Hold h : holds) {
            if (matches(h.target(), backend)) {
                if (h.kind() == Kind.DISABLE) {
                    return Kind.DISABLE;
                }
                found = h.kind();
            }
        }
        return found;
    }

    /** Whether new work for {@code backend} waits (PAUSE or KILL). */
    public boolean waits(Backend backend) {
        for (Hold h : holds) {
            if (h.kind() != Kind.DISABLE && matches(h.target(), backend)) {
                return true;
            }
        }
        return false;
    }

    public boolean isEmpty() {
        return holds.isEmpty();
    }

    /** Adds a hold; false when the same one is there already. */
    public synchronized boolean add(Kind kind, String target) {
        for (Hold h : holds) {
            if (h.kind() == kind && Objects.equals(h.target(), target)) {
                return false;
            }
        }
        holds.add(new Hold(kind, target));
        onChange.run();
        return true;
    }

    /**
     * Lifts the holds of {@code kinds} on exactly {@code target} (null: the holds on everything); false when there
     * was none. Work waiting on them is resumed (each waiter checks again whether it still waits).
     */
    public boolean remove(String target, Kind... kinds) {
        boolean removed = false;
        synchronized (this) {
            for (Hold h : holds) {
                for (Kind k : kinds) {
                    if (h.kind() == k && Objects.equals(h.target(), target)) {
                        removed |= holds.remove(h);
                    }
                }
            }
            if (removed) {
                onChange.run();
            }
        }
        if (removed) {
            List<Runnable> resume = new ArrayList<>(waiting);
            waiting.removeAll(resume);
            resume.forEach(Runnable::run);
        }
        return removed;
    }

    public List<Hold> list() {
        return List.copyOf(holds);
    }

    /** Runs {@code resume} at the next {@link #remove}; it must check again and may wait again. */
    public void await(Runnable resume) {
        waiting.add(resume);
    }

    /** Forgets a waiter that left. */
    public void forget(Runnable resume) {
        waiting.remove(resume);
    }
}
