package dev.pgmux.session;

import dev.pgmux.PoolConfig;
import dev.pgmux.SessionStatePolicy;
import dev.pgmux.cancel.CancelRegistry;
import dev.pgmux.pool.Pool;
import dev.pgmux.pool.PooledServer;
import dev.pgmux.pool.SessionStateScan;
import dev.pgmux.protocol.ErrorResponse;
import dev.pgmux.protocol.ProtocolException;
import dev.pgmux.protocol.SqlState;
import dev.pgmux.protocol.frontend.Close;
import dev.pgmux.protocol.frontend.Describe;
import dev.pgmux.protocol.frontend.Parse;
import dev.pgmux.server.Inbox;
import dev.pgmux.server.ServerOwner;
import dev.pgmux.session.Expectations.Kind;
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
 * <p>Everything runs on the client's event loop, where its servers live too.
 */
final class TransactionClient implements ServerOwner {
    /** The largest client message read whole (PostgreSQL's own cap for most messages is 1 GB). */
    static final int MAX_MESSAGE = 1 << 30;

    private final ClientSession session;
    private final Channel client;
    private final PooledClient waiter;
    private final Pool pool;
    private final PoolConfig config;
    private final Inbox inbox = new Inbox();
    private final ClientStatements statements = new ClientStatements();
    private final Expectations expect = new Expectations();
    private final ServerStream fromServer;
    private PooledServer server;
    private volatile CancelRegistry.Target cancelTarget;
    private boolean waiting;
    private boolean processing;
    private boolean ended;
    /** Why the client is pinned to its server, or null. */
    private String pin;
    /** The client's last unnamed Parse (it may Bind it in a later cycle, on another server), or null. */
    private Parse unnamed;
    private boolean unnamedHere;
    private boolean copyIn;
    private int syncsSinceExecute;

    TransactionClient(ClientSession session, Channel client, PooledClient waiter) {
        this.session = session;
        this.client = client;
        this.waiter = waiter;
        this.pool = waiter.pool();
        this.config = pool.config();
        this.fromServer = new ServerStream(expect);
    }

    /** Where a cancel request goes now: the server running the client's transaction, or nowhere. */
    CancelRegistry.Target cancelTarget() {
        return cancelTarget;
    }

    boolean attached() {
        return server != null;
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
        client.config().setAutoRead(true);
        if (!processing) {
            process();
        }
    }

    private void attach(PooledServer s) {
        server = s;
        s.connection().owner(this);
        cancelTarget = new CancelRegistry.Target(s.address(), s.processId(), s.secret());
        unnamedHere = false;
        fromServer.reset();
    }

    private void acquire() {
        waiting = true;
        client.config().setAutoRead(false); // what the client sends next waits in the socket
        pool.acquire(waiter);
    }

    /** Gives the server back when nothing is in flight, outside a transaction, and the client is not pinned. */
    private void releaseIfDone() {
        if (server == null || pin != null || !expect.isEmpty() || expect.skipping() || copyIn || inbox.isReadable()
                || !fromServer.idle() || fromServer.status() != 'I') {
            return;
        }
        PooledServer s = server;
        server = null;
        cancelTarget = null;
        client.flush(); // the server's read-complete goes to its next holder from here on
        pool.countTransaction();
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
            if (expect.isEmpty() && !expect.skipping() && !copyIn && fromServer.idle()) {
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
                    client.config().setAutoRead(false); // until the server drains, see onWritable
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
    }

    /** One whole client message, which this call takes over. */
    private void onMessage(ByteBuf frame) {
        byte type = frame.getByte(frame.readerIndex());
        if (expect.skipping() && type != 'S' && type != 'X') {
            send(frame); // the server skips it after an error; so does the bookkeeping
            return;
        }
        try {
            switch (type) {
                case 'Q' -> onQuery(frame);
                case 'P' -> onParse(frame);
                case 'B' -> onBind(frame);
                case 'D' -> onDescribe(frame);
                case 'C' -> onClose(frame);
                case 'E' -> {
                    syncsSinceExecute = 0;
                    expect.add(Kind.EXECUTE);
                    send(frame);
                }
                case 'S' -> {
                    if (!copyIn) {
                        syncsSinceExecute++;
                        expect.add(Kind.SYNC);
                        expect.syncSent();
                        pool.countQuery();
                    }
                    send(frame);
                }
                case 'F' -> {
                    expect.add(Kind.QUERY);
                    send(frame);
                }
                case 'd' -> {
                    if (!copyIn) {
                        copyIn = true;
                        expect.dropSyncsSinceExecute(syncsSinceExecute);
                        syncsSinceExecute = 0;
                    }
                    send(frame);
                }
                case 'c', 'f' -> {
                    copyIn = false;
                    send(frame);
                }
                case 'X' -> {
                    frame.release();
                    session.close("client terminated");
                }
                default -> send(frame); // Flush, or what the server will refuse
            }
        } catch (ProtocolException e) {
            send(frame); // malformed: the server answers it as PostgreSQL does
        }
    }

    private void onQuery(ByteBuf frame) {
        String sql = cstring(frame, frame.readerIndex() + 5);
        unnamed = null; // a simple query drops the unnamed statement
        unnamedHere = false;
        expect.add(Kind.QUERY);
        pool.countQuery();
        SessionStateScan.Finding found = SessionStateScan.scan(sql);
        if (found != null && config.onSessionState() == SessionStatePolicy.ERROR) {
            frame.release();
            send(new dev.pgmux.protocol.frontend.Query(refusal(found)).encode(client.alloc()));
            return;
        }
        notePin(found);
        if (SessionStateScan.dropsPreparedStatements(sql)) {
            statements.clear();
            server.statements().invalidate();
        }
        send(frame);
    }

    private void onParse(ByteBuf frame) throws ProtocolException {
        Parse parse = Parse.decode(frame);
        SessionStateScan.Finding found = SessionStateScan.scan(parse.query());
        if (found != null && config.onSessionState() == SessionStatePolicy.ERROR) {
            frame.release();
            frame = new Parse(parse.name(), refusal(found), new int[0]).encode(client.alloc());
            parse = Parse.decode(frame);
        } else {
            notePin(found);
        }
        if (parse.name().isEmpty()) {
            unnamed = parse;
            unnamedHere = true;
            expect.add(Kind.PARSE, false, null, () -> {
                unnamed = null;
            });
            send(frame);
            return;
        }
        frame.release();
        if (statements.has(parse.name())) {
            // PostgreSQL refuses it, and skips to the next Sync: so does pgmux, with the server's own words.
            duplicate(parse.name());
            return;
        }
        String name = parse.name();
        ClientStatements.Prepared p = statements.add(parse);
        String serverName = server.statements().nameFor(p.serverName());
        PooledServer on = server;
        evictFor(serverName);
        expect.add(Kind.PARSE, false, null, () -> {
            on.statements().remove(serverName);
            statements.remove(name);
        });
        send(new Parse(serverName, parse.query(), parse.parameterTypes()).encode(client.alloc()));
    }

    private void onBind(ByteBuf frame) {
        int portalEnd = frame.indexOf(frame.readerIndex() + 5, frame.writerIndex(), (byte) 0);
        int nameEnd = portalEnd < 0 ? -1 : frame.indexOf(portalEnd + 1, frame.writerIndex(), (byte) 0);
        if (nameEnd < 0) {
            expect.add(Kind.BIND);
            send(frame);
            return;
        }
        String name = frame.toString(portalEnd + 1, nameEnd - portalEnd - 1, StandardCharsets.UTF_8);
        String serverName = prepareHere(name);
        expect.add(Kind.BIND);
        if (serverName == null) {
            send(frame);
            return;
        }
        byte[] newName = serverName.getBytes(StandardCharsets.UTF_8);
        int head = portalEnd + 1 - frame.readerIndex();
        int tail = frame.writerIndex() - nameEnd;
        ByteBuf out = client.alloc().buffer(head + newName.length + tail);
        out.writeBytes(frame, frame.readerIndex(), head);
        out.writeBytes(newName);
        out.writeBytes(frame, nameEnd, tail);
        out.setInt(1, out.readableBytes() - 1);
        frame.release();
        send(out);
    }

    private void onDescribe(ByteBuf frame) throws ProtocolException {
        Describe d = Describe.decode(frame);
        expect.add(Kind.DESCRIBE);
        String serverName = d.kind() == Describe.STATEMENT ? prepareHere(d.name()) : null;
        if (serverName == null) {
            send(frame);
        } else {
            frame.release();
            send(new Describe(Describe.STATEMENT, serverName).encode(client.alloc()));
        }
    }

    private void onClose(ByteBuf frame) throws ProtocolException {
        Close c = Close.decode(frame);
        if (c.kind() != Close.STATEMENT) {
            expect.add(Kind.CLOSE);
            send(frame);
            return;
        }
        if (c.name().isEmpty()) {
            unnamed = null;
            unnamedHere = false;
        }
        ClientStatements.Prepared p = statements.remove(c.name());
        if (p == null) {
            expect.add(Kind.CLOSE);
            send(frame); // closing what does not exist is no error
            return;
        }
        frame.release();
        PooledServer on = server;
        String serverName = on.statements().nameFor(p.serverName());
        expect.add(Kind.CLOSE, false, () -> on.statements().remove(serverName), () -> statements.put(c.name(), p));
        // Closed where it runs now; on other servers it ages out of their statement caches.
        send(new Close(Close.STATEMENT, serverName).encode(client.alloc()));
    }

    /**
     * The name on this server of the client's statement {@code name}, prepared first (hidden from the client) if this
     * server does not have it yet; null for the unnamed statement or a name the client never prepared (forwarded as
     * it is: the server answers as it would).
     */
    private String prepareHere(String name) {
        if (name.isEmpty()) {
            if (!unnamedHere && unnamed != null) {
                expect.add(Kind.PARSE, true, null, null);
                send(unnamed.encode(client.alloc()));
                unnamedHere = true;
            }
            return null;
        }
        ClientStatements.Prepared p = statements.get(name);
        if (p == null) {
            return null;
        }
        PooledServer on = server;
        String serverName = on.statements().nameFor(p.serverName());
        if (!on.statements().has(serverName)) {
            evictFor(serverName);
            expect.add(Kind.PARSE, true, null, () -> on.statements().remove(serverName));
            Parse parse = p.parse();
            send(new Parse(serverName, parse.query(), parse.parameterTypes()).encode(client.alloc()));
        }
        return serverName;
    }

    /** Notes {@code serverName} as prepared on the server, closing there the statement that falls out of its cache. */
    private void evictFor(String serverName) {
        String evicted = server.statements().add(serverName);
        if (evicted != null) {
            expect.add(Kind.CLOSE, true, null, null);
            send(new Close(Close.STATEMENT, evicted).encode(client.alloc()));
        }
    }

    /** A Parse of a name the client has prepared already: PostgreSQL's error, and the server skips to Sync. */
    private void duplicate(String name) {
        // A Parse the server refuses the same way puts it into the same state: the statement is there under this name.
        ClientStatements.Prepared p = statements.get(name);
        String serverName = prepareHere(name);
        expect.add(Kind.PARSE, false, null, null);
        send(new Parse(serverName, p.parse().query(), p.parse().parameterTypes()).encode(client.alloc()));
        fromServer.renameInNextError(serverName, name);
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

    private static String cstring(ByteBuf frame, int from) {
        int end = frame.indexOf(from, frame.writerIndex(), (byte) 0);
        return frame.toString(from, (end < 0 ? frame.writerIndex() : end) - from, StandardCharsets.UTF_8);
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
        client.config().setAutoRead(true);
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

    @Override
    public void onLoginStarted() {
    }

    @Override
    public void onLoginMessage(ByteBuf frame) {
        frame.release();
    }
}
