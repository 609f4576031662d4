package dev.pgmux.pool;

import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The names of the statements pgmux prepared on one server connection, least recently used first, up to a cap:
 * adding one past the cap evicts the oldest, which the caller then closes on the server.
 */
public final class ServerStatements {
    /** Statements kept prepared per server connection. */
    public static final int DEFAULT_CAPACITY = Integer.getInteger("pgmux.pool.statements", 500);

    private final int capacity;
    /** Bumped when the server may have dropped its statements behind pgmux's back: names are not reused. */
    private int generation;
    private final LinkedHashMap<String, Boolean> names = new LinkedHashMap<>(16, 0.75f, true);

    public ServerStatements(int capacity) {
        this.capacity = capacity;
    }

    /** Whether {@code name} is prepared; counts as a use. */
    public boolean has(String name) {
        return names.get(name) != null;
    }

    /**
     * Notes {@code name} as prepared.
     *
     * @return the name evicted to stay within the cap, or null
     */
    public String add(String name) {
        names.put(name, Boolean.TRUE);
        if (names.size() > capacity) {
            Iterator<Map.Entry<String, Boolean>> it = names.entrySet().iterator();
            String eldest = it.next().getKey();
            it.remove();
            return eldest;
        }
        return null;
    }

    public void remove(String name) {
        names.remove(name);
    }

    /**
     * The server may have dropped all its prepared statements (DISCARD ALL, DEALLOCATE ALL ran, or were tried):
     * pgmux prepares again under new names, so that a statement that did survive cannot clash with a new one.
     */
    public void invalidate() {
        names.clear();
        generation++;
    }

    /** The name on this server of the statement pgmux calls {@code base}. */
    public String nameFor(String base) {
        return generation == 0 ? base : base + "_" + generation;
    }

    public int size() {
        return names.size();
    }
}
