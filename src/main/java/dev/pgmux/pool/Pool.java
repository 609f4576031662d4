package dev.pgmux.pool;

import dev.pgmux.PoolConfig;
import dev.pgmux.protocol.ErrorResponse;
import dev.pgmux.protocol.SqlState;
import io.netty.channel.EventLoop;
import io.netty.util.concurrent.ScheduledFuture;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The server connections of one backend, backend user and database, shared by the clients of the routes that lead
 * there.
 *
 * <p>A server connection lives on one event loop and is handed only to clients on that loop, so a client and its
 * server never hop between threads. A client takes an idle connection of its loop with its {@link Tag}; else a new
 * one is opened on its loop while the pool is below its size (and the host below its cap); else an idle connection
 * of another tag or loop is closed to make room; else the client waits, first come first served, until a
 * connection comes back or its wait ends with SQLSTATE 53300. The size is shared out over the event loops (a loop
 * holds at most its share), so that a busy loop cannot keep the clients of another waiting; see {@link #release}.
 *
 * <p>Bookkeeping is under the pool's lock; servers and waiters are called outside it, on their own loops.
 */
public final class Pool {
    private static final Logger log = LoggerFactory.getLogger(Pool.class);
    /** Opens a server connection for a waiter, on the waiter's loop; reports to {@link #opened} or {@link #openFailed}. */
    public interface Opener {
        void open(Pool pool, Waiter waiter);
    }

    private record Waiting(Waiter waiter, long sinceNanos, ScheduledFuture<?> timer) {
    }

    private final String name;
    private final PoolConfig config;
    private final Opener opener;
    private final HostSlots hostSlots;
    private final String hostKey;
    private final Map<EventLoop, ArrayDeque<PooledServer>> idle = new HashMap<>();
    private final ArrayDeque<Waiting> waiters = new ArrayDeque<>();
    /** Connections counted against the size: opening, idle and in use; and per event loop. */
    private int open;
    private final Map<EventLoop, int[]> perLoop = new HashMap<>();
    private final int loops;
    private int opening;
    private int clients;
    private boolean closed;
    private boolean retired;
    private final LongAdder waits = new LongAdder();
    private final LongAdder waitNanos = new LongAdder();
    private final LongAdder transactions = new LongAdder();
    private final LongAdder queries = new LongAdder();
    private final Map<String, LongAdder> pins = new java.util.concurrent.ConcurrentHashMap<>();

    Pool(String name, PoolConfig config, Opener opener, HostSlots hostSlots, String hostKey, int loops) {
        this.loops = Math.max(1, loops);
        this.name = name;
        this.config = config;
        this.opener = opener;
        this.hostSlots = hostSlots;
        this.hostKey = hostKey;
    }

    /** {@code user@database/host:port}, for log lines and error messages. */
    public String name() {
        return name;
    }

    public PoolConfig config() {
        return config;
    }

    // ---------------------------------------------------------------- clients

    /** What {@link #admit} found. */
    enum Admission { IN, FULL, RETIRED }

    /** Counts a client in, unless the route's {@code max_clients} is reached or the pool was retired. */
    synchronized Admission admit() {
        if (retired) {
            return Admission.RETIRED;
        }
        if (config.maxClients() > 0 && clients >= config.maxClients()) {
            return Admission.FULL;
        }
        clients++;
        return Admission.IN;
    }

    /** Retires the pool if nothing is left in it: it then admits no one, and a new one takes its place. */
    synchronized boolean retireIfEmpty() {
        if (open == 0 && clients == 0 && waiters.isEmpty()) {
            retired = true;
        }
        return retired;
    }

    public synchronized void leave() {
        clients--;
    }

    // ---------------------------------------------------------------- taking and giving back

    /** Finds a server connection for {@code waiter}: now (on its loop), once one is opened, or when one comes back. */
    public void acquire(Waiter waiter) {
        PooledServer found;
        boolean openNew = false;
        List<PooledServer> toClose = new ArrayList<>(0);
        synchronized (this) {
            if (closed) {
                found = null;
            } else {
                found = takeIdle(waiter.loop(), waiter.tag(), toClose);
                if (found == null) {
                    openNew = reserveFree(waiter.loop()) || replaceIdle(waiter.loop(), toClose);
                    if (!openNew) {
                        long now = System.nanoTime();
                        ScheduledFuture<?> timer = waiter.loop().schedule(() -> timedOut(waiter),
                                config.waitTimeout().toNanos(), TimeUnit.NANOSECONDS);
                        waiters.add(new Waiting(waiter, now, timer));
                    }
                }
            }
        }
        closeAll(toClose);
        waits.increment();
        if (found != null) {
            waiter.onServer(found);
        } else if (openNew) {
            opener.open(this, waiter);
        } else if (closed) {
            waiter.onFailed(ErrorResponse.fatal(SqlState.CANNOT_CONNECT_NOW, "the proxy is shutting down")
                    .encode(io.netty.buffer.ByteBufAllocator.DEFAULT), "pool closed");
        }
    }

    /** The waiter left before it got a connection. */
    public void cancel(Waiter waiter) {
        synchronized (this) {
            for (Iterator<Waiting> it = waiters.iterator(); it.hasNext(); ) {
                Waiting w = it.next();
                if (w.waiter() == waiter) {
                    it.remove();
                    w.timer().cancel(false);
                    return;
                }
            }
        }
    }

    /**
     * A clean connection comes back (on its loop): to the oldest waiter of its loop and tag; else, in its place, a
     * new connection for the oldest waiter of its loop (another tag) or of a loop below its share; else it waits
     * idle. A loop whose waiters have no connection at all gets this one's place even before a waiter that could
     * take it as it is, so that no loop starves.
     */
    public void release(PooledServer server) {
        long now = System.nanoTime();
        server.connection().owner(new IdleOwner(server));
        Waiting handTo = null;
        Waiting openFor = null;
        boolean close = false;
        synchronized (this) {
            if (closed || expired(server, now)) {
                close = true;
                count(server.loop(), -1);
                hostSlots.release(hostKey);
                openFor = closed ? null : reserveForOldest();
            } else {
                Waiting starving = null;
                Waiting sameLoop = null;
                Waiting belowShare = null;
                for (Waiting w : waiters) {
                    EventLoop loop = w.waiter().loop();
                    if (loop == server.loop()) {
                        if (handTo == null && w.waiter().tag().equals(server.tag())) {
                            handTo = w;
                        }
                        if (sameLoop == null) {
                            sameLoop = w;
                        }
                    } else if (starving == null && servers(loop) == 0) {
                        starving = w;
                    } else if (belowShare == null && servers(loop) < share()) {
                        belowShare = w;
                    }
                }
                Waiting other = handTo == null ? (sameLoop != null ? sameLoop : starving != null ? starving : belowShare)
                        : starving;
                if (other != null) {
                    // This connection's place goes to a new one for that waiter, on its loop, with its tag.
                    handTo = null;
                    waiters.remove(other);
                    openFor = other;
                    close = true;
                    count(server.loop(), -1);
                    count(other.waiter().loop(), +1);
                    opening++;
                } else if (handTo != null) {
                    waiters.remove(handTo);
                } else {
                    server.released(now);
                    idle.computeIfAbsent(server.loop(), l -> new ArrayDeque<>()).addLast(server);
                }
            }
        }
        if (close) {
            server.connection().terminate();
        }
        if (handTo != null) {
            handTo.timer().cancel(false);
            waitNanos.add(now - handTo.sinceNanos());
            handTo.waiter().onServer(server);
        }
        if (openFor != null) {
            startOpening(openFor, now);
        }
    }

    /** A connection that cannot be reused (dirty, broken, or its client failed it): closed, and its place freed. */
    public void discard(PooledServer server, String why) {
        log.debug("pooled server discarded pool={} pid={} reason=\"{}\"", name, server.processId(), why);
        server.connection().closeAfterFlush(why); // what its client sent last still reaches it
        freed(server.loop());
    }

    /** An idle connection closed by its server. */
    void lost(PooledServer server, String why) {
        boolean wasIdle;
        synchronized (this) {
            ArrayDeque<PooledServer> list = idle.get(server.loop());
            wasIdle = list != null && list.remove(server);
        }
        if (wasIdle) {
            log.info("pooled server closed while idle pool={} pid={} reason=\"{}\"", name, server.processId(), why);
            freed(server.loop());
        }
    }

    /**
     * A connection just logged in for this pool (it then goes to {@link #opened}); from here on the pool hears it
     * while it is idle.
     */
    public PooledServer newServer(dev.pgmux.server.ServerConnection connection, EventLoop loop, Tag tag,
                                  List<Map.Entry<String, String>> parameters, int processId, byte[] secret) {
        PooledServer s = new PooledServer(this, connection, loop, tag, parameters, processId, secret);
        connection.owner(new IdleOwner(s));
        return s;
    }

    /** A connection opened for {@code waiter} is ready (on the waiter's loop). */
    public void opened(PooledServer server, Waiter waiter) {
        synchronized (this) {
            opening--;
        }
        if (stillWaiting(waiter)) {
            waiter.onServer(server);
        } else {
            release(server); // the waiter left meanwhile
        }
    }

    /** Opening a connection for {@code waiter} failed; {@code error} (an ErrorResponse frame) goes to the waiter. */
    public void openFailed(Waiter waiter, io.netty.buffer.ByteBuf error, String why) {
        synchronized (this) {
            opening--;
        }
        freed(waiter.loop());
        if (stillWaiting(waiter)) {
            waiter.onFailed(error, why);
        } else {
            error.release();
        }
    }

    /** The waiter of an opening is still there: its client did not leave (the opener asks the waiter). */
    private boolean stillWaiting(Waiter waiter) {
        return !(waiter instanceof Leaving l) || !l.left();
    }

    /** A waiter that can tell it left (its client closed) while a connection was being opened for it. */
    public interface Leaving {
        boolean left();
    }

    // ---------------------------------------------------------------- statistics

    public void countTransaction() {
        transactions.increment();
    }

    public void countQuery() {
        queries.increment();
    }

    public void countPin(String cause) {
        pins.computeIfAbsent(cause, c -> new LongAdder()).increment();
    }

    public synchronized PoolStats stats() {
        int idleCount = idle.values().stream().mapToInt(ArrayDeque::size).sum();
        Map<String, Long> pinCounts = new java.util.TreeMap<>();
        pins.forEach((k, v) -> pinCounts.put(k, v.sum()));
        return new PoolStats(name, config.mode().configName(), config.size(), clients, waiters.size(),
                open - idleCount - opening, idleCount, opening, waits.sum(), waitNanos.sum(), transactions.sum(),
                queries.sum(), pinCounts);
    }

    // ---------------------------------------------------------------- housekeeping

    /** Closes idle connections past their idle timeout or lifetime, keeping {@code min_pool_size} open. */
    void sweep(long now) {
        List<PooledServer> toClose = new ArrayList<>();
        synchronized (this) {
            for (ArrayDeque<PooledServer> list : idle.values()) {
                for (Iterator<PooledServer> it = list.iterator(); it.hasNext(); ) {
                    PooledServer s = it.next();
                    boolean idleTooLong = !config.idleTimeout().isZero()
                            && s.idleNanos(now) > config.idleTimeout().toNanos() && open > config.minIdle();
                    if (idleTooLong || expired(s, now)) {
                        it.remove();
                        count(s.loop(), -1);
                        hostSlots.release(hostKey);
                        toClose.add(s);
                    }
                }
            }
        }
        closeAll(toClose);
    }

    /** Closes every idle connection and fails every waiter; connections in use are closed as they come back. */
    void close() {
        List<PooledServer> toClose = new ArrayList<>();
        List<Waiting> failed;
        synchronized (this) {
            closed = true;
            for (ArrayDeque<PooledServer> list : idle.values()) {
                for (PooledServer s : list) {
                    toClose.add(s);
                    count(s.loop(), -1);
                    hostSlots.release(hostKey);
                }
                list.clear();
            }
            failed = new ArrayList<>(waiters);
            waiters.clear();
        }
        closeAll(toClose);
        for (Waiting w : failed) {
            w.timer().cancel(false);
            w.waiter().loop().execute(() -> w.waiter().onFailed(ErrorResponse.fatal(SqlState.CANNOT_CONNECT_NOW,
                    "the proxy is shutting down").encode(io.netty.buffer.ByteBufAllocator.DEFAULT), "pool closed"));
        }
    }

    // ---------------------------------------------------------------- inside the lock

    private PooledServer takeIdle(EventLoop loop, Tag tag, List<PooledServer> toClose) {
        ArrayDeque<PooledServer> list = idle.get(loop);
        if (list == null) {
            return null;
        }
        long now = System.nanoTime();
        // Most recently used first: its caches are warm, and the oldest ones age out.
        for (Iterator<PooledServer> it = list.descendingIterator(); it.hasNext(); ) {
            PooledServer s = it.next();
            if (expired(s, now)) {
                it.remove();
                count(s.loop(), -1);
                hostSlots.release(hostKey);
                toClose.add(s);
            } else if (s.tag().equals(tag)) {
                it.remove();
                return s;
            }
        }
        return null;
    }

    /** Counts a new connection on {@code loop} in if the pool, the loop's share and the host have room. */
    private boolean reserveFree(EventLoop loop) {
        if (open < config.size() && servers(loop) < share() && hostSlots.take(hostKey)) {
            count(loop, +1);
            opening++;
            return true;
        }
        return false;
    }

    /**
     * Makes room for a new connection on {@code loop} by closing an idle one that cannot serve it: another tag on
     * this loop, or one on another loop while this loop is below its share.
     */
    private boolean replaceIdle(EventLoop loop, List<PooledServer> toClose) {
        ArrayDeque<PooledServer> mine = idle.get(loop);
        PooledServer victim = mine == null ? null : mine.pollFirst();
        if (victim == null && servers(loop) < share()) {
            for (ArrayDeque<PooledServer> list : idle.values()) {
                if ((victim = list.pollFirst()) != null) {
                    break;
                }
            }
        }
        if (victim == null) {
            return false;
        }
        toClose.add(victim);
        count(victim.loop(), -1);
        count(loop, +1);
        opening++;
        return true;
    }

    /** After a connection left the count: the oldest waiter whose loop has room gets a new one (returned, to open). */
    private Waiting reserveForOldest() {
        for (Iterator<Waiting> it = waiters.iterator(); it.hasNext(); ) {
            Waiting w = it.next();
            if (reserveFree(w.waiter().loop())) {
                it.remove();
                return w;
            }
        }
        return null;
    }

    /** Server connections (opening, idle or in use) on {@code loop}. */
    private int servers(EventLoop loop) {
        int[] n = perLoop.get(loop);
        return n == null ? 0 : n[0];
    }

    private void count(EventLoop loop, int delta) {
        perLoop.computeIfAbsent(loop, l -> new int[1])[0] += delta;
        open += delta;
    }

    /**
     * The most connections one event loop may hold: the pool's size shared out over the loops, so that clients of
     * every loop get their part (clients are spread over the loops as they connect).
     */
    private int share() {
        return Math.max(1, (config.size() + loops - 1) / loops);
    }

    private boolean expired(PooledServer s, long now) {
        return !config.serverLifetime().isZero() && s.ageNanos(now) > config.serverLifetime().toNanos();
    }

    // ---------------------------------------------------------------- outside the lock

    private void freed(EventLoop loop) {
        Waiting openFor;
        synchronized (this) {
            count(loop, -1);
            hostSlots.release(hostKey);
            openFor = closed ? null : reserveForOldest();
        }
        if (openFor != null) {
            startOpening(openFor, System.nanoTime());
        }
    }

    private void startOpening(Waiting w, long now) {
        w.timer().cancel(false);
        waitNanos.add(now - w.sinceNanos());
        EventLoop loop = w.waiter().loop();
        if (loop.inEventLoop()) {
            opener.open(this, w.waiter());
        } else {
            loop.execute(() -> opener.open(this, w.waiter()));
        }
    }

    private void timedOut(Waiter waiter) {
        boolean removed = false;
        synchronized (this) {
            for (Iterator<Waiting> it = waiters.iterator(); it.hasNext(); ) {
                if (it.next().waiter() == waiter) {
                    it.remove();
                    removed = true;
                    break;
                }
            }
        }
        if (removed) {
            waitNanos.add(config.waitTimeout().toNanos());
            log.warn("client waited too long for a pooled server pool={} wait_ms={} pool_size={}", name,
                    config.waitTimeout().toMillis(), config.size());
            waiter.onFailed(ErrorResponse.fatal(SqlState.TOO_MANY_CONNECTIONS, "no server connection of pool \""
                    + name + "\" came free within " + config.waitTimeout().toMillis() + " ms",
                    "All " + config.size() + " server connections of the pool are in use (pool_size); raise"
                            + " pool_size or query_wait_timeout, or end long transactions sooner.")
                    .encode(io.netty.buffer.ByteBufAllocator.DEFAULT), "wait timeout");
        }
    }

    private static void closeAll(List<PooledServer> servers) {
        for (PooledServer s : servers) {
            if (s.loop().inEventLoop()) {
                s.connection().terminate();
            } else {
                s.loop().execute(() -> s.connection().terminate());
            }
        }
    }
}
