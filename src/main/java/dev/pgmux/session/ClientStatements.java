package dev.pgmux.session;

import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A transaction-pooled client's named prepared statements: each name the client chose maps to the Parse it sent
 * and to a name of pgmux's, unique in the proxy, under which pgmux prepares it on each server the client gets
 * (each client statement is its own server statement, so one client's statement never serves another whose text
 * happens to be the same: a plan is as fresh as the client's own Parse).
 */
final class ClientStatements {
    private static final AtomicLong NEXT = new AtomicLong();

    /** A client's statement: pgmux's name for it and what prepares it again (the Parse after its name). */
    record Prepared(String serverName, byte[] parse, SessionSet set) {
    }

    /** The start of every name pgmux gives a statement on a server. */
    static final String PREFIX = "pgmux_";
    /** A name pgmux never prepares: what a client's unknown {@link #PREFIX} name becomes, so it cannot reach ours. */
    static final String NONE = "pgmux-none";

    private final Map<String, Prepared> byName = new HashMap<>();

    /** Registers the client's Parse of {@code name} and returns pgmux's statement for it. */
    Prepared add(String name, byte[] parse, SessionSet set) {
        Prepared p = new Prepared(PREFIX + Long.toString(NEXT.incrementAndGet(), 36), parse, set);
        byName.put(name, p);
        return p;
    }

    Prepared get(String name) {
        return byName.get(name);
    }

    boolean has(String name) {
        return byName.containsKey(name);
    }

    Prepared remove(String name) {
        return byName.remove(name);
    }

    void put(String name, Prepared p) {
        byName.put(name, p);
    }

    void clear() {
        byName.clear();
    }

    int size() {
        return byName.size();
    }
}
