package dev.pgmux.session;

import dev.pgmux.PoolConfig;
import dev.pgmux.SessionStatePolicy;
import dev.pgmux.cancel.CancelRegistry;
import dev.pgmux.metrics.ProxyMetrics;
import dev.pgmux.pool.Pool;
import dev.pgmux.pool.PooledServer;
import dev.pgmux.pool.SessionStateScan;
import dev.pgmux.protocol.ErrorResponse;
import dev.pgmux.protocol.SqlState;
import dev.pgmux.server.Inbox;
import dev.pgmux.server.ServerOwner;
import dev.pgmux.session.Expectations.Kind;
import dev.pgmux.transport.Reading;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * A client of a transaction pool: it holds a server connection from the first message of a transaction to the
 * ReadyForQuery that ends it with status idle and nothing else in flight, and gives it back in between.
 *
 * <p>Client messages are read whole and forwarded one by one; only the names of prepared statements are touched:
 * each named statement of the client is prepared on the server it runs on under a name of pgmux's
 * ({@link ClientStatements}), again (hidden from the client) on each new server it meets. The server's answers are
 * matched to what was sent ({@link Expectations}) and pass through unread, but for the answers of what pgmux sent on
 * its own. A statement that leaves state on its server ({@link SessionStateScan}) pins the client to that server
 * until it leaves (or is refused, or ignored, as the route's {@code on_session_state} says).
 *
 * <p>Each request is timed from its first message to its ReadyForQuery; a transaction is counted at each
 * ReadyForQuery with status I the client gets, also inside a pipeline that keeps the server, and timed from its
 * first request (in a pipeline, from the end of the transaction before it).
 *
 * <p>Everything runs on the client's event loop, where its servers live too.
 */
final class TransactionClient implements ServerOwner {
    /** The largest client message read whole (PostgreSQL's own cap for most messages is 1 GB). */
    static final int MAX_MESSAGE = 1 << 30;
    /**
     * How much a client waiting for a server may have sent before pgmux stops reading it. Reading goes on while
     * it waits (a client that hangs up is seen at once, and no system call per wait turns reading off and on again);
     * a client that sends on and on waits in its socket. Checked after each read, so a waiting client holds at most
     * this plus one read (the read buffer grows up to 64 KiB).
     */
    static final int WAITING_READ_AHEAD = 16 * 1024;

    private final ClientSession session;
    private final Channel client;
    private final PooledClient waiter;
    private final Pool pool;
    private final PoolConfig config;
    private final ProxyMetrics metrics;
    private final Inbox inbox = new Inbox();
    private final ClientStatements statements = new ClientStatements();
    private final Expectations expect;
    private final CarriedSettings carried;
    private final ServerStream fromServer;
    private PooledServer server;
    private volatile CancelRegistry.Target cancelTarget;
    private boolean waiting;
    private boolean processing;
    private boolean ended;
    /** Why the client is pinned to its server, or null. */
    private String pin;
    /** The client's last unnamed Parse after its name (it may Bind it in a later cycle, on another server), or null. */
    private byte[] unnamed;
    /** Extended-protocol messages went out since the last Sync: the server may hold an implicit transaction. */
    private boolean sinceSync;
    private boolean unnamedHere;
    /** The client's unnamed statement is a carried SET: a Bind of it in a later batch runs it untracked. */
    private boolean unnamedSet;
    /** A Bind or Describe of the unnamed statement found none of this client's here: a leftover was closed. */
    private boolean unnamedCleared;
    private boolean copyIn;
    private int syncsSinceExecute;
    /** When the first message of the batch being sent went out. */
    private long batchStart;
    /** When the transaction under way began, or 0 outside one. */
    private long transactionStart;
    /** When the request the last ReadyForQuery answered was sent (0: untimed). */
    private long lastSentNanos;
    /** When the last ReadyForQuery for the client came, or 0: where a transaction that ends there ends. */
    private long readyNanos;

    TransactionClient(ClientSession session, Channel client, PooledClient waiter, ProxyMetrics metrics) {
        this.session = session;
        this.client = client;
        this.waiter = waiter;
        this.pool = waiter.pool();
        this.config = pool.config();
        this.metrics = metrics;
        this.carried = new CarriedSettings(config.onSessionState(), this::notePin);
        this.expect = new Expectations(this::onReady, carried::failed);
        this.fromServer = new ServerStream(expect, metrics);
        fromServer.onClientStatus(this::onClientStatus);
    }

    /** Where a cancel request goes now: the server running the client's transaction, or nowhere. */
    CancelRegistry.Target cancelTarget() {
        return cancelTarget;
    }

    boolean attached() {
        return server != null;
    }

    /** The server of the client's transaction now, or null (for the console). */
    PooledServer server() {
        return server;
    }

    /** Whether the client waits for a server now. */
    boolean waiting() {
        return waiting;
    }

    /** Why the client is pinned to its server, or null. */
    String pin() {
        return pin;
    }

    /** The named prepared statements the client has now. */
    int statementCount() {
        return statements.size();
    }

    /** Between transactions, with no request waiting: a graceful shutdown may end the client now. */
    boolean betweenTransactions() {
        return server == null && !waiting && !inbox.isReadable();
    }

    /** Whether the client may be sent a message of pgmux's now: no server message is under way to it. */
    boolean betweenServerMessages() {
        return server == null || !fromServer.midMessage();
    }

    // ---------------------------------------------------------------- attaching and releasing

    /** The server of the login (its answers are sent); {@code pending} are client bytes that came with it. */
    void start(PooledServer first, ByteBuf pending) {
        attach(first);
        if (pending != null) {
            inbox.add(client.alloc(), pending);
        }
        process();
        releaseIfDone();
    }

    /** A server for the transaction the client started. */
    void onServer(PooledServer s) {
        waiting = false;
        if (ended) {
            pool.release(s);
            return;
        }
        attach(s);
        Reading.flow(client, true); // in case it waited long enough to pause, see onClientBytes
        if (!processing) {
            process();
        }
    }

    private void attach(PooledServer s) {
        server = s;
        s.connection().owner(this);
        cancelTarget = new CancelRegistry.Target(s.address(), s.processId(), s.secret());
        unnamedHere = false;
        unnamedCleared = false;
        fromServer.reset();
        converge(s);
    }

    /** Puts the client's SET settings in force on the server, if another client left others (hidden from it). */
    private void converge(PooledServer s) {
        for (String statement : carried.converge(s)) {
            expect.add(Kind.QUERY, true, null, null);
            send(Frames.query(client.alloc(), statement));
        }
    }

    /** A ReadyForQuery the client expects, for a request that began at {@code sentNanos}. */
    private void onReady(long sentNanos) {
        lastSentNanos = sentNanos;
        copyIn = false;
        carried.onReady(server);
        readyNanos = System.nanoTime();
        if (sentNanos != 0) {
            long took = readyNanos - sentNanos;
            metrics.query(took);
            pool.countQueryTime(took);
        }
    }

    /**
     * A ReadyForQuery the client gets, with its status: with {@code I} a transaction ended (each one is counted,
     * also inside a pipeline that keeps the server; one sent before the last ended is timed from that end).
     */
    private void onClientStatus(int status) {
        if (status != 'I') {
            return;
        }
        long end = readyNanos != 0 ? readyNanos : System.nanoTime();
        long start = transactionStart != 0 ? transactionStart : lastSentNanos; // a bare Sync: its own request
        long took = start != 0 ? Math.max(0, end - start) : 0;
        metrics.transaction(took);
        pool.countTransaction(took);
        transactionStart = expect.isEmpty() ? 0 : end; // a pipelined request is under way already
    }

    private void acquire() {
        waiting = true;
        waiter.acquire();
    }

    /** Gives the server back when nothing is in flight, outside a transaction, and the client is not pinned. */
    private void releaseIfDone() {
        if (server == null || !expect.isEmpty() || expect.skipping() || copyIn || sinceSync
                || inbox.isReadable() || !fromServer.idle() || fromServer.status() != 'I') {
            return;
        }
        if (pin != null) {
            if (session.drainRequested()) {
                session.terminate(); // a graceful shutdown ends a pinned client between transactions
            }
            return;
        }
        PooledServer s = server;
        server = null;
        cancelTarget = null;
        client.flush(); // the server's read-complete goes to its next holder from here on
        pool.release(s);
        if (session.drainDue()) {
            session.terminate();
        }
    }

    /** The client is gone (or failed): its server goes back clean, or is closed. */
    void end() {
        if (ended) {
            return;
        }
        ended = true;
        waiter.leave();
        if (waiting) {
            pool.cancel(waiter);
        }
        inbox.release();
        PooledServer s = server;
        server = null;
        cancelTarget = null;
        if (s != null) {
            if (pin != null && config.resetQuery().isBlank()) {
                pool.discard(s, "a pinned client left and no server_reset_query clears its state");
            } else if (expect.isEmpty() && !expect.skipping() && !copyIn && !sinceSync && fromServer.idle()) {
                List<String> queries = new ArrayList<>(2);
                if (fromServer.status() != 'I') {
                    queries.add("ROLLBACK");
                }
                if (pin != null) {
                    queries.add(config.resetQuery());
                }
                ServerReturn.run(s, queries);
            } else {
                // mid-request: what the server still sends is the client's; no other client may get it
                pool.discard(s, "client left with a request in flight");
            }
        }
        fromServer.release();
        pool.leave();
    }

    // ---------------------------------------------------------------- client to server

    void onClientBytes(ByteBuf in) {
        inbox.add(client.alloc(), in);
        if (!processing) {
            process();
        }
        if (waiting && inbox.readableBytes() > WAITING_READ_AHEAD) {
            Reading.flow(client, false); // read more once a server comes, see onServer
        }
    }

    void onClientReadComplete() {
        if (server != null) {
            server.connection().flush();
        }
    }

    void onClientWritable() {
        if (server != null) {
            server.connection().autoRead(true);
        }
    }

    private void process() {
        processing = true;
        try {
            while (!ended) {
                ByteBuf buf = inbox.peek();
                if (buf == null || buf.readableBytes() < 5) {
                    break;
                }
                int length = buf.getInt(buf.readerIndex() + 1);
                if (length < 4 || length > MAX_MESSAGE) {
                    session.fail(ErrorResponse.fatal(SqlState.PROTOCOL_VIOLATION, "invalid message length"));
                    return;
                }
                if (buf.readableBytes() < length + 1) {
                    break;
                }
                if (server == null && buf.getByte(buf.readerIndex()) == 'X') {
                    session.close("client terminated"); // between transactions: no server to take for it
                    return;
                }
                if (server == null) {
                    if (!waiting) {
                        acquire();
                    }
                    if (server == null) {
                        return;
                    }
                }
                onMessage(buf.readRetainedSlice(length + 1));
                if (server != null && !server.connection().isWritable()) {
                    Reading.flow(client, false); // until the server drains, see onWritable
                    server.connection().flush();
                }
            }
            inbox.compact();
            if (server != null) {
                server.connection().flush();
            }
        } finally {
            processing = false;
        }
        releaseIfDone();
    }

    /** One whole client message, which this call takes over. */
    private void onMessage(ByteBuf frame) {
        byte type = frame.getByte(frame.readerIndex());
        switch (type) {
            case 'd' -> {
                if (!copyIn) {
                    copyIn = true;
                    // the server ignores the Syncs sent since the Execute that started the COPY
                    expect.dropSyncsSinceExecute(syncsSinceExecute);
                    syncsSinceExecute = 0;
                }
                send(frame);
                return;
            }
            case 'c', 'f' -> {
                if (!copyIn) {
                    expect.dropSyncsSinceExecute(syncsSinceExecute); // a COPY without data
                    syncsSinceExecute = 0;
                }
                copyIn = false;
                send(frame);
                return;
            }
            case 'X' -> {
                frame.release();
                session.close("client terminated");
                return;
            }
            default -> {
            }
        }
        if (!sinceSync && type != 'S') {
            // A batch (up to its Sync, or a simple query) opens: outside a transaction, with nothing else in flight?
            carried.batchOpens(!expect.clientAwaits() && fromServer.status() == 'I' && !expect.skipping());
            batchStart = System.nanoTime();
            if (transactionStart == 0) {
                transactionStart = batchStart;
            }
        }
        if (expect.skipping() && type != 'S') {
            sinceSync = true;
            send(frame); // the server skips it after an error; so does the bookkeeping
            return;
        }
        switch (type) {
            case 'Q' -> onQuery(frame);
            case 'P' -> onParse(frame);
            case 'B' -> onBind(frame);
            case 'D' -> onDescribeOrClose(frame, Kind.DESCRIBE);
            case 'C' -> onDescribeOrClose(frame, Kind.CLOSE);
            case 'E' -> {
                sinceSync = true;
                syncsSinceExecute = 0;
                carried.executed();
                expect.add(Kind.EXECUTE);
                send(frame);
            }
            case 'S' -> {
                if (!copyIn) {
                    long start = sinceSync ? batchStart : System.nanoTime(); // a Sync alone is a request of its own
                    sinceSync = false;
                    syncsSinceExecute++;
                    expect.add(Kind.SYNC, start);
                    expect.syncSent();
                    pool.countQuery();
                }
                send(frame);
            }
            case 'F' -> {
                expect.add(Kind.QUERY, batchStart);
                send(frame);
            }
            default -> {
                sinceSync = true; // Flush, or what the server will refuse
                send(frame);
            }
        }
    }

    private void onQuery(ByteBuf frame) {
        String sql = Frames.cstring(frame, frame.readerIndex() + 5);
        SessionStateScan.Finding found = SessionStateScan.scan(sql);
        boolean atBatchStart = !sinceSync;
        if (pin == null && carried.carries(sql, found, atBatchStart, false)) {
            carried.executed(); // a simple query runs what it parses
            found = null;
        }
        unnamed = null; // a simple query drops the unnamed statement
        unnamedHere = false;
        sinceSync = false;
        syncsSinceExecute = 0;
        expect.add(Kind.QUERY, batchStart);
        pool.countQuery();
        if (found != null && config.onSessionState() == SessionStatePolicy.ERROR) {
            frame.release();
            send(Frames.query(client.alloc(), refusal(found)));
            return;
        }
        notePin(found);
        if (SessionStateScan.dropsPreparedStatements(sql)) {
            statements.clear();
            server.statements().invalidate();
        }
        send(frame);
    }

    private void onParse(ByteBuf frame) {
        boolean atBatchStart = !sinceSync;
        sinceSync = true;
        int from = frame.readerIndex() + 5;
        int nameEnd = Frames.end(frame, from);
        if (nameEnd < 0) {
            expect.add(Kind.PARSE);
            send(frame); // malformed: the server answers it as PostgreSQL does
            return;
        }
        String name = Frames.cstring(frame, from);
        byte[] rest = Frames.parseRest(frame, nameEnd);
        frame.release();
        String text = Frames.query(rest);
        SessionStateScan.Finding found = SessionStateScan.scan(text);
        if (pin == null && carried.carries(text, found, atBatchStart, !name.isEmpty())) {
            found = null;
            unnamedSet = true;
        } else if (name.isEmpty()) {
            unnamedSet = false;
        }
        if (SessionStateScan.dropsPreparedStatements(text)) {
            server.statements().invalidate(); // when it runs, later; new names from now on are safe either way
        }
        if (found != null && config.onSessionState() == SessionStatePolicy.ERROR) {
            byte[] sql = refusal(found).getBytes(java.nio.charset.StandardCharsets.ISO_8859_1);
            rest = new byte[sql.length + 3];
            System.arraycopy(sql, 0, rest, 0, sql.length); // then a zero, and no parameter types
        } else {
            notePin(found);
        }
        if (name.isEmpty()) {
            byte[] mine = rest;
            unnamed = mine;
            unnamedHere = true;
            expect.add(Kind.PARSE, false, null, () -> {
                if (unnamed == mine) {
                    unnamed = null;
                }
            });
            send(Frames.parse(client.alloc(), "", rest));
            return;
        }
        ClientStatements.Prepared existing = statements.get(name);
        if (existing != null) {
            // PostgreSQL refuses it and skips to the next Sync: a Parse of the server's statement of that name gets
            // the same refusal from the server itself, with the client's name put back into its message.
            String serverName = prepareHere(name);
            expect.addRenamed(Kind.PARSE, serverName, name);
            send(Frames.parse(client.alloc(), serverName, existing.parse()));
            return;
        }
        ClientStatements.Prepared p = statements.add(name, rest, carried.takeNamed());
        PooledServer on = server;
        String serverName = on.statements().nameFor(p.serverName());
        evictFor(serverName);
        expect.add(Kind.PARSE, false, null, () -> {
            on.statements().remove(serverName);
            if (statements.get(name) == p) {
                statements.remove(name);
            }
        });
        send(Frames.parse(client.alloc(), serverName, rest));
    }

    private void onBind(ByteBuf frame) {
        sinceSync = true;
        int portalEnd = Frames.end(frame, frame.readerIndex() + 5);
        int nameEnd = portalEnd < 0 ? -1 : Frames.end(frame, portalEnd + 1);
        if (nameEnd < 0) {
            expect.add(Kind.BIND);
            send(frame);
            return;
        }
        String name = Frames.cstring(frame, portalEnd + 1);
        ClientStatements.Prepared bound = name.isEmpty() ? null : statements.get(name);
        if (bound != null && bound.set() != null) {
            if (pin == null) {
                carried.atBind(bound.set());
            }
        }
        String serverName = prepareHere(name);
        if (serverName == null) {
            expect.add(Kind.BIND);
            send(frame);
            return;
        }
        expect.addRenamed(Kind.BIND, serverName, name);
        ByteBuf out = Frames.rename(client.alloc(), frame, portalEnd + 1, nameEnd, serverName);
        frame.release();
        send(out);
    }

    private void onDescribeOrClose(ByteBuf frame, Kind kind) {
        sinceSync = true;
        byte type = frame.getByte(frame.readerIndex());
        int from = frame.readerIndex() + 6;
        if (frame.readableBytes() < 7 || frame.getByte(from - 1) != 'S' || Frames.end(frame, from) < 0) {
            expect.add(kind);
            send(frame); // a portal, or malformed
            return;
        }
        String name = Frames.cstring(frame, from);
        if (kind == Kind.DESCRIBE) {
            String serverName = prepareHere(name); // before the Describe: its answers come first
            if (serverName == null) {
                expect.add(kind);
                send(frame);
            } else {
                frame.release();
                expect.addRenamed(kind, serverName, name);
                send(Frames.named(client.alloc(), type, (byte) 'S', serverName));
            }
            return;
        }
        if (name.isEmpty()) {
            unnamed = null;
            unnamedHere = false;
        }
        ClientStatements.Prepared p = statements.remove(name);
        if (p == null) {
            expect.add(kind);
            if (name.startsWith(ClientStatements.PREFIX)) {
                frame.release();
                send(Frames.named(client.alloc(), type, (byte) 'S', ClientStatements.NONE)); // never another's
            } else {
                send(frame); // closing what does not exist is no error
            }
            return;
        }
        frame.release();
        PooledServer on = server;
        String serverName = on.statements().nameFor(p.serverName());
        expect.add(kind, false, () -> on.statements().remove(serverName), () -> {
            if (!statements.has(name)) {
                statements.put(name, p);
            }
        });
        // Closed where it runs now; on other servers it ages out of their statement caches.
        send(Frames.named(client.alloc(), type, (byte) 'S', serverName));
    }

    /**
     * The name on this server of the client's statement {@code name}, prepared first (hidden from the client) if this
     * server does not have it yet; null for the unnamed statement or a name the client never prepared (forwarded as
     * it is: the server answers as it would), but for a name in pgmux's own namespace, which becomes one that never
     * exists.
     */
    private String prepareHere(String name) {
        if (name.isEmpty()) {
            if (!unnamedHere && unnamed != null) {
                expect.add(Kind.PARSE, true, null, null);
                send(Frames.parse(client.alloc(), "", unnamed));
                unnamedHere = true;
            } else if (!unnamedHere && !unnamedCleared) {
                // The server may hold another client's unnamed statement: it must not be the client's.
                expect.add(Kind.CLOSE, true, null, null);
                send(Frames.named(client.alloc(), (byte) 'C', (byte) 'S', ""));
                unnamedCleared = true;
            }
            if (unnamedSet && !carried.pending()) {
                notePin(new SessionStateScan.Finding(SessionStateScan.Cause.SET, "a SET bound again"));
            }
            return null;
        }
        ClientStatements.Prepared p = statements.get(name);
        if (p == null) {
            return name.startsWith(ClientStatements.PREFIX) ? ClientStatements.NONE : null;
        }
        PooledServer on = server;
        String serverName = on.statements().nameFor(p.serverName());
        if (!on.statements().has(serverName)) {
            evictFor(serverName);
            expect.add(Kind.PARSE, true, null, () -> on.statements().remove(serverName));
            send(Frames.parse(client.alloc(), serverName, p.parse()));
        }
        return serverName;
    }

    /** Notes {@code serverName} as prepared on the server, closing there the statement that falls out of its cache. */
    private void evictFor(String serverName) {
        String evicted = server.statements().add(serverName);
        if (evicted != null) {
            expect.add(Kind.CLOSE, true, null, null);
            send(Frames.named(client.alloc(), (byte) 'C', (byte) 'S', evicted));
        }
    }

    private void notePin(SessionStateScan.Finding found) {
        if (found == null || config.onSessionState() != SessionStatePolicy.PIN || pin != null) {
            return;
        }
        pin = found.cause().name().toLowerCase(java.util.Locale.ROOT);
        pool.countPin(pin);
        ClientSession.log.info("client pinned to its server pool={} client={} user={} cause={} statement=\"{}\"",
                pool.name(), session.clientAddress(), session.logUser(), pin, found.statement());
    }

    /** A statement that raises, on the server, the refusal of a statement that would leave session state. */
    private static String refusal(SessionStateScan.Finding found) {
        String text = "transaction pooling cannot keep session state: " + found.statement().replace("$", "");
        return "DO $pgmux$BEGIN RAISE EXCEPTION USING ERRCODE = '0A000', MESSAGE = $m$" + text
                + "$m$, HINT = $m$The route has on_session_state: error; use SET LOCAL, a transaction-level lock or"
                + " a session pool.$m$; END$pgmux$";
    }

    private void send(ByteBuf message) {
        server.connection().write(message);
    }

    // ---------------------------------------------------------------- server to client (ServerOwner)

    @Override
    public String logContext() {
        return "pool=" + pool.name() + " " + waiter.logContext();
    }

    @Override
    public void onData(ByteBuf data) {
        if (ended) {
            data.release();
            return;
        }
        if (!fromServer.forward(data, client)) {
            session.close("malformed message from the server");
            return;
        }
        session.countFromServer(fromServer.lastForwarded());
        pool.countSent(fromServer.lastForwarded());
        if (expect.isEmpty()) {
            releaseIfDone();
        }
    }

    @Override
    public void onReadComplete() {
        client.flush();
        if (server != null && !client.isWritable()) {
            server.connection().autoRead(false); // until the client drains, see onClientWritable
        }
    }

    @Override
    public void onWritable() {
        Reading.flow(client, true);
        if (!processing) {
            process();
        }
    }

    @Override
    public void onFailed(Failure failure, String why) {
        PooledServer s = server;
        server = null;
        cancelTarget = null;
        if (s != null) {
            pool.discard(s, why);
        }
        session.close("backend closed");
    }
}
