package dev.pgmux.pool;

import dev.pgmux.PoolConfig;
import dev.pgmux.protocol.ErrorResponse;
import dev.pgmux.protocol.SqlState;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.channel.EventLoop;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.LongAdder;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The server connections of one backend, backend user and database, shared by the clients of the routes that lead
 * there.
 *
 * <p>A server connection lives on one event loop and is handed only to clients on that loop, so a client and its
 * server never hop between threads. A client takes an idle connection of its loop with its {@link Tag}; else a new
 * one is opened on its loop while the pool is below its size, the loop below its share of that size and the host
 * below its cap; else an idle connection of another tag (or of another loop, while this one is below its share) is
 * closed to make room; else the client waits, first come first served on its loop, until a connection comes back or
 * its wait ends with SQLSTATE 53300 ({@link #expire}). See {@link #release} for where a connection goes back.
 *
 * <p>Bookkeeping is under the pool's lock, and costs the same however many clients wait; servers and waiters are
 * called outside it, on their own loops.
 */
public final class Pool {
    private static final Logger log = LoggerFactory.getLogger(Pool.class);
    /** How long a client waits for a connection of its own loop before an idle one of another loop is replaced. */
    static final long STEAL_AFTER_NANOS = java.util.concurrent.TimeUnit.MILLISECONDS.toNanos(50);

    /** Opens a server connection for a waiter, on the waiter's loop; reports to {@link #opened} or {@link #openFailed}. */
    public interface Opener {
        void open(Pool pool, Waiter waiter);
    }

    /** A waiter that can tell it left (its client closed) while a connection was being opened for it. */
    public interface Leaving {
        boolean left();
    }

    private record Waiting(Waiter waiter, long sinceNanos) {
    }

    /** What the pool has on one event loop: its connections (counted, and those idle) and its waiting clients. */
    private static final class LoopPart {
        final ArrayDeque<PooledServer> idle = new ArrayDeque<>();
        final ArrayDeque<Waiting> waiting = new ArrayDeque<>();
        int servers;
    }

    /** What {@link #admit} found. */
    enum Admission { IN, FULL, RETIRED }

    private final String name;
    private final PoolConfig config;
    private final Opener opener;
    private final HostSlots hostSlots;
    private final String hostKey;
    private final int loops;
    private final Map<EventLoop, LoopPart> parts = new HashMap<>();
    /** Connections counted against the size: opening, idle and in use. */
    private int open;
    private int opening;
    private int idleCount;
    private int waitingCount;
    private int clients;
    private boolean closed;
    private boolean retired;
    /** PAUSE or KILL on the console: clients wait, servers are closed as they come back. */
    private volatile boolean paused;
    /** RECONNECT on the console: servers opened before this are closed as they come back. */
    private volatile long closeBefore = Long.MIN_VALUE;
    /** The tag of the last client admitted, shared with the next ones that have an equal tag. */
    private volatile Tag lastTag;
    private final dev.pgmux.console.Holds.Backend backend;
    private final LongAdder waits = new LongAdder();
    private final LongAdder waitNanos = new LongAdder();
    private final LongAdder transactions = new LongAdder();
    private final LongAdder queries = new LongAdder();
    private final Map<String, LongAdder> pins = new ConcurrentHashMap<>();
    private final LongAdder assignments = new LongAdder();
    private final LongAdder bytesReceived = new LongAdder();
    private final LongAdder bytesSent = new LongAdder();
    private final LongAdder xactNanos = new LongAdder();
    private final LongAdder queryNanos = new LongAdder();

    Pool(String name, PoolConfig config, Opener opener, HostSlots hostSlots, String hostKey, int loops) {
        this(name, config, opener, hostSlots, hostKey, loops, null);
    }

    Pool(String name, PoolConfig config, Opener opener, HostSlots hostSlots, String hostKey, int loops,
         dev.pgmux.console.Holds.Backend backend) {
        this.backend = backend;
        this.name = name;
        this.config = config;
        this.opener = opener;
        this.hostSlots = hostSlots;
        this.hostKey = hostKey;
        this.loops = Math.max(1, loops);
    }

    /** {@code user@database/host:port}, for log lines and error messages. */
    public String name() {
        return name;
    }

    public PoolConfig config() {
        return config;
    }

    // ---------------------------------------------------------------- clients

    /**
     * {@code tag}, or the equal one this pool handed out last: the clients of a pool usually all have the same tag,
     * and one instance makes the comparisons on every taking and giving back an identity check (with tags that
     * alternate, comparisons fall back to comparing the parameters, as before).
     */
    public Tag canonical(Tag tag) {
        Tag last = lastTag;
        if (last != null && last.equals(tag)) {
            return last;
        }
        lastTag = tag;
        return tag;
    }

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

    public synchronized void leave() {
        clients--;
    }

    /** Retires the pool if nothing is left in it: it then admits no one, and a new one takes its place. */
    synchronized boolean retireIfEmpty() {
        if (open == 0 && clients == 0 && waitingCount == 0) {
            retired = true;
        }
        return retired;
    }

    // ---------------------------------------------------------------- taking and giving back

    /** Finds a server connection for {@code waiter}: now (on its loop), once one is opened, or when one comes back. */
    public void acquire(Waiter waiter) {
        if (!stillWaiting(waiter)) {
            return;
        }
        waits.increment();
        PooledServer found = null;
        boolean openNew = false;
        List<PooledServer> toClose = new ArrayList<>(0);
        synchronized (this) {
            if (!closed && paused) {
                part(waiter.loop()).waiting.addLast(new Waiting(waiter, System.nanoTime()));
                waitingCount++;
            } else if (!closed) {
                LoopPart part = part(waiter.loop());
                found = takeIdle(part, waiter.tag(), toClose);
                if (found == null) {
                    openNew = reserveFree(waiter.loop(), part)
                            || replaceIdle(waiter.loop(), part, part.servers == 0, toClose);
                    if (!openNew) {
                        part.waiting.addLast(new Waiting(waiter, System.nanoTime()));
                        waitingCount++;
                    }
                }
            }
        }
        closeAll(toClose);
        if (found != null && found.idleNanos(System.nanoTime()) > config.checkAfterIdle().toNanos()) {
            PooledServer checked = found;
            // idle long enough to have been dropped by a firewall or a restart unnoticed: checked first
            ServerCheck.run(checked, () -> waiter.onServer(checked), () -> acquire(waiter));
        } else if (found != null) {
            waiter.onServer(found);
        } else if (openNew) {
            opener.open(this, waiter);
        } else if (closed) {
            waiter.onFailed(shuttingDown(), "pool closed");
        }
    }

    /** The waiter left before it got a connection. */
    public synchronized void cancel(Waiter waiter) {
        LoopPart part = parts.get(waiter.loop());
        if (part != null && part.waiting.removeIf(w -> w.waiter() == waiter)) {
            waitingCount--;
        }
    }

    /**
     * A clean connection comes back (on its loop). It goes to the oldest waiter of its loop and tag. A loop whose
     * waiters have no connection at all gets its place first (a new connection there), so that no loop starves;
     * with no waiter of its tag on its loop, its place goes to a waiter of its loop with another tag, or of a loop
     * below its share. Else it waits idle.
     */
    public void release(PooledServer server) {
        long now = System.nanoTime();
        server.connection().owner(server.idleOwner());
        Waiting handTo = null;
        Waiting openFor = null;
        boolean close = false;
        synchronized (this) {
            LoopPart mine = part(server.loop());
            if (closed || paused || expired(server, now)) {
                close = true;
                count(mine, -1);
                hostSlots.release(hostKey);
                openFor = closed ? null : reserveForOldest();
            } else {
                LoopPart starving = otherLoopWaiting(mine, 0);
                handTo = takeWaiting(mine, server.tag());
                if (handTo != null && starving != null
                        && starving.waiting.peekFirst().sinceNanos() < handTo.sinceNanos()) {
                    // first come, first served: the starving loop's client came first
                    mine.waiting.addFirst(handTo);
                    waitingCount++;
                    handTo = null;
                } else if (handTo != null) {
                    starving = null;
                }
                LoopPart target = handTo != null ? null
                        : starving != null ? starving
                        : !mine.waiting.isEmpty() ? mine
                        : otherLoopWaiting(mine, share());
                if (target != null) {
                    // This connection's place goes to a new one for that waiter, on its loop, with its tag.
                    openFor = target.waiting.pollFirst();
                    waitingCount--;
                    close = true;
                    count(mine, -1);
                    count(target, +1);
                    opening++;
                } else if (handTo == null) {
                    server.released(now);
                    mine.idle.addLast(server);
                    idleCount++;
                }
            }
        }
        if (close) {
            server.connection().terminate();
        }
        if (handTo != null) {
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
            LoopPart part = parts.get(server.loop());
            wasIdle = part != null && part.idle.remove(server);
            if (wasIdle) {
                idleCount--;
            }
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
        connection.owner(s.idleOwner());
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
    public void openFailed(Waiter waiter, ByteBuf error, String why) {
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

    private static boolean stillWaiting(Waiter waiter) {
        return !(waiter instanceof Leaving l) || !l.left();
    }

    // ---------------------------------------------------------------- statistics

    public void countQuery() {
        queries.increment();
    }

    public void countPin(String cause) {
        pins.computeIfAbsent(cause, c -> new LongAdder()).increment();
    }

    /** A server connection was given to a client. */
    public void countAssignment() {
        assignments.increment();
    }

    /** Bytes from a client of the pool. */
    public void countReceived(long bytes) {
        bytesReceived.add(bytes);
    }

    /** Bytes to a client of the pool. */
    public void countSent(long bytes) {
        bytesSent.add(bytes);
    }

    /** A transaction ended after {@code nanos} (it is counted too). */
    public void countTransaction(long nanos) {
        transactions.increment();
        xactNanos.add(nanos);
    }

    /** A query was answered after {@code nanos}. */
    public void countQueryTime(long nanos) {
        queryNanos.add(nanos);
    }

    public synchronized PoolStats stats() {
        Map<String, Long> pinCounts = new java.util.TreeMap<>();
        pins.forEach((k, v) -> pinCounts.put(k, v.sum()));
        return new PoolStats(name, config.mode().configName(), config.size(), clients, waitingCount,
                open - idleCount - opening, idleCount, opening, waits.sum(), waitNanos.sum(), transactions.sum(),
                queries.sum(), pinCounts, assignments.sum(), bytesReceived.sum(), bytesSent.sum(), xactNanos.sum(),
                queryNanos.sum());
    }

    // ---------------------------------------------------------------- housekeeping

    /**
     * Ends the waits older than {@code query_wait_timeout} with SQLSTATE 53300, and opens a connection for the
     * oldest waiter if room came free where no release announced it (another pool gave back a host slot of
     * {@code max_host_connections}). Any thread.
     */
    void expire(long now) {
        List<Waiting> late = new ArrayList<>(0);
        long limit = config.waitTimeout().toNanos();
        Waiting openFor;
        List<Waiting> replacing = new ArrayList<>(0);
        List<PooledServer> toClose = new ArrayList<>(0);
        synchronized (this) {
            openFor = closed || waitingCount == 0 ? null : reserveForOldest();
            // A client of a loop whose own connections are all busy (usually one comes back within a millisecond,
            // cheaper than a new one) gets, once it has waited a while, the place of an idle one of another loop.
            for (LoopPart part : closed || paused ? List.<LoopPart>of() : parts.values()) {
                Waiting head = part.waiting.peekFirst();
                if (head != null && now - head.sinceNanos() > STEAL_AFTER_NANOS
                        && replaceIdle(head.waiter().loop(), part, true, toClose)) {
                    part.waiting.pollFirst();
                    waitingCount--;
                    replacing.add(head);
                }
            }
            for (LoopPart part : parts.values()) {
                for (Iterator<Waiting> it = part.waiting.iterator(); it.hasNext(); ) {
                    Waiting w = it.next();
                    if (now - w.sinceNanos() < limit) {
                        break; // first come, first served: the rest came later
                    }
                    it.remove();
                    waitingCount--;
                    late.add(w);
                }
            }
        }
        if (openFor != null) {
            startOpening(openFor, now);
        }
        closeAll(toClose);
        for (Waiting w : replacing) {
            startOpening(w, now);
        }
        for (Waiting w : late) {
            waitNanos.add(now - w.sinceNanos());
            log.warn("client waited too long for a pooled server pool={} wait_ms={} pool_size={}", name,
                    config.waitTimeout().toMillis(), config.size());
            w.waiter().loop().execute(() -> w.waiter().onFailed(ErrorResponse.fatal(SqlState.TOO_MANY_CONNECTIONS,
                    "no server connection of pool \"" + name + "\" came free within "
                            + config.waitTimeout().toMillis() + " ms",
                    "All " + config.size() + " server connections of the pool are in use (pool_size); raise"
                            + " pool_size or query_wait_timeout, or end long transactions sooner.")
                    .encode(ByteBufAllocator.DEFAULT), "wait timeout"));
        }
    }

    /** Closes idle connections past their idle timeout or lifetime, keeping {@code min_pool_size} open. */
    void sweep(long now) {
        List<PooledServer> toClose = new ArrayList<>();
        synchronized (this) {
            for (LoopPart part : parts.values()) {
                for (Iterator<PooledServer> it = part.idle.iterator(); it.hasNext(); ) {
                    PooledServer s = it.next();
                    boolean idleTooLong = !config.idleTimeout().isZero()
                            && s.idleNanos(now) > config.idleTimeout().toNanos() && open > config.minIdle();
                    if (idleTooLong || expired(s, now)) {
                        it.remove();
                        idleCount--;
                        count(part, -1);
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
        List<Waiting> failed = new ArrayList<>();
        synchronized (this) {
            closed = true;
            takeAllIdle(toClose);
            for (LoopPart part : parts.values()) {
                failed.addAll(part.waiting);
                waitingCount -= part.waiting.size();
                part.waiting.clear();
            }
        }
        closeAll(toClose);
        for (Waiting w : failed) {
            w.waiter().loop().execute(() -> w.waiter().onFailed(shuttingDown(), "pool closed"));
        }
    }

    // ---------------------------------------------------------------- the console's actions

    /** The backend as the console names it (null for pools made without one, in tests). */
    public dev.pgmux.console.Holds.Backend backend() {
        return backend;
    }

    public boolean paused() {
        return paused;
    }

    /**
     * PAUSE (or KILL): from now on clients wait, idle servers are closed now and servers in use when they come
     * back; {@code false} lifts it, and the waiting clients get servers again.
     */
    public void pause(boolean pause) {
        List<PooledServer> toClose = new ArrayList<>();
        List<Waiting> openFor = new ArrayList<>();
        synchronized (this) {
            if (paused == pause) {
                return;
            }
            paused = pause;
            if (pause) {
                takeAllIdle(toClose);
            } else {
                Waiting w;
                while (!closed && (w = reserveForOldest()) != null) {
                    openFor.add(w);
                }
            }
        }
        closeAll(toClose);
        long now = System.nanoTime();
        for (Waiting w : openFor) {
            startOpening(w, now);
        }
    }

    /** RECONNECT: every server open now is closed once it is idle (now, for those idle already). */
    public void reconnect() {
        closeBefore = System.nanoTime();
        sweep(closeBefore);
    }

    /** Whether a server opened at {@code createdNanos} is to be closed when it comes back (RECONNECT). */
    boolean closeNeeded(long createdNanos) {
        return createdNanos - closeBefore <= 0 && closeBefore != Long.MIN_VALUE;
    }

    /** Server connections counted now: opening, idle and in use (a PAUSE is done when none is left). */
    public synchronized int servers() {
        return open;
    }

    public synchronized List<PooledServer> idleServers() {
        List<PooledServer> all = new ArrayList<>(idleCount);
        for (LoopPart part : parts.values()) {
            all.addAll(part.idle);
        }
        return all;
    }

    /** Since when the longest-waiting client waits ({@link System#nanoTime()}), or 0 when none waits. */
    public synchronized long oldestWaitSince() {
        long oldest = 0;
        for (LoopPart part : parts.values()) {
            Waiting head = part.waiting.peekFirst();
            if (head != null && (oldest == 0 || head.sinceNanos() - oldest < 0)) {
                oldest = head.sinceNanos();
            }
        }
        return oldest;
    }

    // ---------------------------------------------------------------- inside the lock

    private LoopPart part(EventLoop loop) {
        return parts.computeIfAbsent(loop, l -> new LoopPart());
    }

    /** Every idle connection of every loop, taken out of the pool (their places freed) into {@code toClose}. */
    private void takeAllIdle(List<PooledServer> toClose) {
        for (LoopPart part : parts.values()) {
            for (PooledServer s : part.idle) {
                toClose.add(s);
                count(part, -1);
                hostSlots.release(hostKey);
            }
            idleCount -= part.idle.size();
            part.idle.clear();
        }
    }

    private PooledServer takeIdle(LoopPart part, Tag tag, List<PooledServer> toClose) {
        long now = System.nanoTime();
        // Most recently used first: its caches are warm, and the oldest ones age out.
        for (Iterator<PooledServer> it = part.idle.descendingIterator(); it.hasNext(); ) {
            PooledServer s = it.next();
            if (expired(s, now)) {
                it.remove();
                idleCount--;
                count(part, -1);
                hostSlots.release(hostKey);
                toClose.add(s);
            } else if (s.tag().equals(tag)) {
                it.remove();
                idleCount--;
                return s;
            }
        }
        return null;
    }

    /** The oldest waiter of {@code part} with {@code tag}, taken out of the queue; or null. */
    private Waiting takeWaiting(LoopPart part, Tag tag) {
        for (Iterator<Waiting> it = part.waiting.iterator(); it.hasNext(); ) {
            Waiting w = it.next();
            if (w.waiter().tag().equals(tag)) {
                it.remove();
                waitingCount--;
                return w;
            }
        }
        return null;
    }

    /** Another loop with waiters and fewer than {@code below} connections (0: none at all), or null. */
    private LoopPart otherLoopWaiting(LoopPart mine, int below) {
        if (waitingCount == mine.waiting.size()) {
            return null;
        }
        for (LoopPart part : parts.values()) {
            if (part != mine && !part.waiting.isEmpty() && part.servers <= Math.max(0, below - 1)) {
                return part;
            }
        }
        return null;
    }

    /** Counts a new connection on {@code loop} in if the pool, the loop's share and the host have room. */
    private boolean reserveFree(EventLoop loop, LoopPart part) {
        // The share is a soft limit: a loop may go past it while no other loop's clients wait.
        if (open < config.size() && (part.servers < share() || waitingCount == part.waiting.size())
                && hostSlots.take(hostKey)) {
            count(part, +1);
            opening++;
            return true;
        }
        return false;
    }

    /**
     * Makes room for a new connection on {@code loop} by closing an idle one that cannot serve it: another tag on
     * this loop, or one on another loop while this loop is below its share.
     */
    private boolean replaceIdle(EventLoop loop, LoopPart part, boolean elsewhere, List<PooledServer> toClose) {
        LoopPart from = part;
        PooledServer victim = part.idle.pollFirst();
        if (victim == null && elsewhere) { // an idle one elsewhere is more than that loop needs now
            for (LoopPart other : parts.values()) {
                if ((victim = other.idle.pollFirst()) != null) {
                    from = other;
                    break;
                }
            }
        }
        if (victim == null) {
            return false;
        }
        idleCount--;
        toClose.add(victim);
        count(from, -1);
        count(part, +1);
        opening++;
        return true;
    }

    /** After a connection left the count: the oldest waiter whose loop has room gets a new one (returned, to open). */
    private Waiting reserveForOldest() {
        if (paused) {
            return null;
        }
        LoopPart best = null;
        for (Map.Entry<EventLoop, LoopPart> e : parts.entrySet()) {
            LoopPart part = e.getValue();
            Waiting head = part.waiting.peekFirst();
            if (head != null && (best == null || head.sinceNanos() < best.waiting.peekFirst().sinceNanos())
                    && open < config.size() && (part.servers < share() || waitingCount == part.waiting.size())) {
                best = part;
            }
        }
        if (best == null || !hostSlots.take(hostKey)) {
            return null;
        }
        count(best, +1);
        opening++;
        waitingCount--;
        return best.waiting.pollFirst();
    }

    private void count(LoopPart part, int delta) {
        part.servers += delta;
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
        return !config.serverLifetime().isZero() && s.ageNanos(now) > config.serverLifetime().toNanos()
                || s.closeNeeded();
    }

    // ---------------------------------------------------------------- outside the lock

    private void freed(EventLoop loop) {
        Waiting openFor;
        synchronized (this) {
            count(part(loop), -1);
            hostSlots.release(hostKey);
            openFor = closed ? null : reserveForOldest();
        }
        if (openFor != null) {
            startOpening(openFor, System.nanoTime());
        }
    }

    private void startOpening(Waiting w, long now) {
        waitNanos.add(now - w.sinceNanos());
        EventLoop loop = w.waiter().loop();
        if (loop.inEventLoop()) {
            opener.open(this, w.waiter());
        } else {
            loop.execute(() -> opener.open(this, w.waiter()));
        }
    }

    private static ByteBuf shuttingDown() {
        return ErrorResponse.fatal(SqlState.CANNOT_CONNECT_NOW, "the proxy is shutting down")
                .encode(ByteBufAllocator.DEFAULT);
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
