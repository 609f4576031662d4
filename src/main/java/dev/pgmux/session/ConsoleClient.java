package dev.pgmux.session;

import dev.pgmux.console.ConsoleCommand;
import dev.pgmux.console.Shows;
import dev.pgmux.console.Table;
import dev.pgmux.protocol.ErrorResponse;
import dev.pgmux.protocol.ProtocolException;
import dev.pgmux.protocol.SqlState;
import dev.pgmux.protocol.backend.BindComplete;
import dev.pgmux.protocol.backend.CloseComplete;
import dev.pgmux.protocol.backend.CommandComplete;
import dev.pgmux.protocol.backend.EmptyQueryResponse;
import dev.pgmux.protocol.backend.NoData;
import dev.pgmux.protocol.backend.ParseComplete;
import dev.pgmux.protocol.backend.ReadyForQuery;
import dev.pgmux.protocol.frontend.Close;
import dev.pgmux.protocol.frontend.Describe;
import dev.pgmux.protocol.frontend.Parse;
import dev.pgmux.protocol.frontend.Query;
import dev.pgmux.transport.Reading;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * A client of the admin console, after its login: reads its messages and answers them as a PostgreSQL server
 * would, from {@link ConsoleEngine}. The simple query protocol runs each statement of a query string in turn; the
 * extended one (Parse, Bind, Describe, Execute, Sync, as pgjdbc sends by default) takes statements without
 * parameters and answers in text format. A command that takes time (a PAUSE waits for servers) holds the
 * messages after it until it is done, as a server would. All on the client's event loop.
 */
final class ConsoleClient {
    /** Larger messages than a console command needs end the session, as PostgreSQL ends oversized ones. */
    private static final int MAX_MESSAGE = 1 << 20;

    private final ClientSession session;
    private final Channel client;
    private final ConsoleEngine engine;
    private final String user;
    private ByteBuf buffer;
    /** The extended protocol's statements and portals, each its command parsed once. */
    private final Map<String, ConsoleCommand> statements = new HashMap<>();
    private final Map<String, ConsoleCommand> portals = new HashMap<>();
    /** A command runs, or its answer waits for the client to read: messages wait (and reading stops). */
    private boolean busy;
    /** Inside {@link #process()}: what completes at once must not call it again (no recursion per message). */
    private boolean processing;
    /** What goes on once the client has read enough of the answers (it stopped being writable), or null. */
    private Runnable whenWritable;
    /** An error in an extended batch: messages up to Sync are skipped. */
    private boolean skipping;
    private boolean closed;

    ConsoleClient(ClientSession session, Channel client, ConsoleEngine engine, String user) {
        this.session = session;
        this.client = client;
        this.engine = engine;
        this.user = user;
    }

    String user() {
        return user;
    }

    void onBytes(ByteBuf bytes) {
        if (closed) {
            bytes.release();
            return;
        }
        if (buffer == null) {
            buffer = client.alloc().buffer(Math.max(256, bytes.readableBytes()));
        }
        buffer.writeBytes(bytes);
        bytes.release();
        process();
    }

    void release() {
        closed = true;
        whenWritable = null;
        if (buffer != null) {
            buffer.release();
            buffer = null;
        }
    }

    /** The client read enough: the statements after a large answer go on. */
    void onWritable() {
        Runnable next = whenWritable;
        if (next != null && !closed) {
            whenWritable = null;
            next.run();
        }
    }

    /** Stops reading while a command runs (a client cannot pile up requests in pgmux's memory), and back. */
    private void busy(boolean on) {
        busy = on;
        Reading.flow(client, !on);
    }

    private void process() {
        if (processing) {
            return;
        }
        processing = true;
        try {
            processMessages();
        } finally {
            processing = false;
        }
    }

    private void processMessages() {
        while (!busy && !closed && buffer != null && buffer.readableBytes() >= 5) {
            int type = buffer.getUnsignedByte(buffer.readerIndex());
            int length = buffer.getInt(buffer.readerIndex() + 1);
            if (length < 4 || length > MAX_MESSAGE) {
                session.fail(ErrorResponse.fatal(SqlState.PROTOCOL_VIOLATION, "invalid message length"));
                return;
            }
            if (buffer.readableBytes() < length + 1) {
                break;
            }
            ByteBuf frame = buffer.readRetainedSlice(length + 1);
            try {
                onMessage(type, frame);
            } catch (ProtocolException e) {
                session.fail(ErrorResponse.fatal(SqlState.PROTOCOL_VIOLATION, e.getMessage()));
                return;
            } catch (IndexOutOfBoundsException e) {
                session.fail(ErrorResponse.fatal(SqlState.PROTOCOL_VIOLATION, "invalid message format"));
                return;
            } finally {
                frame.release();
            }
        }
        if (buffer != null) {
            buffer.discardReadBytes();
        }
        client.flush();
    }

    private void onMessage(int type, ByteBuf frame) throws ProtocolException {
        if (skipping && type != 'S' && type != 'X') {
            return;
        }
        switch (type) {
            case 'Q' -> simpleQuery(Query.decode(frame).sql());
            case 'X' -> session.close("client terminated");
            case 'P' -> {
                Parse p = Parse.decode(frame);
                ConsoleCommand c = single(p.query());
                if (c instanceof ConsoleCommand.Invalid i) {
                    error("42601", ConsoleEngine.invalid(i));
                } else if (!p.name().isEmpty() && statements.containsKey(p.name())) {
                    error("42P05", "prepared statement \"" + p.name() + "\" already exists");
                } else {
                    statements.put(p.name(), c);
                    write(new ParseComplete().encode(client.alloc()));
                }
            }
            case 'B' -> bind(frame);
            case 'D' -> {
                Describe d = Describe.decode(frame);
                ConsoleCommand p = (d.kind() == 'S' ? statements : portals).get(d.name());
                if (p == null) {
                    error(d.kind() == 'S' ? "26000" : "34000", (d.kind() == 'S' ? "prepared statement \""
                            : "portal \"") + d.name() + "\" does not exist");
                    return;
                }
                if (d.kind() == 'S') {
                    // ParameterDescription: no parameters
                    ByteBuf t = client.alloc().buffer(7);
                    t.writeByte('t').writeInt(6).writeShort(0);
                    write(t);
                }
                List<Table.Column> columns = columnsOf(p);
                write(columns == null ? new NoData().encode(client.alloc())
                        : Table.describe(columns).encode(client.alloc()));
            }
            case 'E' -> {
                frame.skipBytes(5);
                String portal = readCString(frame);
                ConsoleCommand p = portals.get(portal);
                if (p == null) {
                    error("34000", "portal \"" + portal + "\" does not exist");
                    return;
                }
                run(List.of(p), false, false);
            }
            case 'S' -> {
                skipping = false;
                portals.remove(""); // the unnamed portal ends with the transaction, as in PostgreSQL
                ready();
            }
            case 'H' -> client.flush();
            case 'C' -> {
                Close c = Close.decode(frame);
                (c.kind() == 'S' ? statements : portals).remove(c.name());
                write(new CloseComplete().encode(client.alloc()));
            }
            case 'd', 'c', 'f' -> {
                // COPY data outside a COPY: PostgreSQL ignores it too
            }
            default -> session.fail(ErrorResponse.fatal(SqlState.PROTOCOL_VIOLATION,
                    "invalid frontend message type " + type));
        }
    }

    private void bind(ByteBuf frame) {
        frame.skipBytes(5);
        String portal = readCString(frame);
        String statement = readCString(frame);
        int formats = frame.readUnsignedShort();
        frame.skipBytes(2 * formats);
        int parameters = frame.readUnsignedShort();
        if (parameters > 0) {
            error("08P01", "bind message supplies " + parameters + " parameters, but prepared statement \""
                    + statement + "\" requires 0");
            return;
        }
        int resultFormats = frame.readUnsignedShort();
        for (int i = 0; i < resultFormats; i++) {
            if (frame.readShort() != 0) {
                error(SqlState.FEATURE_NOT_SUPPORTED, "the pgmux console answers in text format only");
                return;
            }
        }
        ConsoleCommand p = statements.get(statement);
        if (p == null) {
            error("26000", "prepared statement \"" + statement + "\" does not exist");
            return;
        }
        portals.put(portal, p);
        write(new BindComplete().encode(client.alloc()));
    }

    /** An extended-protocol statement holds one command (PostgreSQL refuses several in a Parse too). */
    private static ConsoleCommand single(String sql) {
        List<String> parts = ConsoleCommand.statements(sql);
        if (parts.size() > 1) {
            return new ConsoleCommand.Invalid(sql.strip(), "cannot insert multiple commands into a prepared"
                    + " statement");
        }
        return ConsoleCommand.parse(parts.get(0));
    }

    private static List<Table.Column> columnsOf(ConsoleCommand c) {
        return c instanceof ConsoleCommand.Show s ? Shows.columns(s.what()) : null;
    }

    /** As PostgreSQL: empty statements are dropped, and only a query of nothing but them answers EmptyQueryResponse. */
    private void simpleQuery(String sql) {
        List<ConsoleCommand> commands = ConsoleCommand.statements(sql).stream().map(ConsoleCommand::parse)
                .filter(c -> !(c instanceof ConsoleCommand.Empty)).toList();
        if (commands.isEmpty()) {
            write(new EmptyQueryResponse().encode(client.alloc()));
            ready();
            return;
        }
        run(commands, true, true);
    }

    /**
     * Runs {@code commands} in turn; an error ends the list. {@code describe}: a RowDescription before rows (the
     * simple protocol; Execute sends none). {@code ready}: ReadyForQuery at the end (the simple protocol). Each
     * answer comes back on the event loop as a task of its own, so a long list does not deepen the stack.
     */
    private void run(List<ConsoleCommand> commands, boolean describe, boolean ready) {
        if (commands.isEmpty()) {
            done(ready);
            return;
        }
        ConsoleCommand c = commands.get(0);
        List<ConsoleCommand> rest = commands.subList(1, commands.size());
        if (c instanceof ConsoleCommand.Empty) { // an Execute of an empty statement
            write(new EmptyQueryResponse().encode(client.alloc()));
            run(rest, describe, ready);
            return;
        }
        busy(true);
        engine.run(c, user, client.eventLoop(), "user=" + user + " client=" + session.clientAddress(), () -> closed)
                .whenComplete((answer, failure) -> client.eventLoop().execute(() -> {
                    if (closed) {
                        return;
                    }
                    if (failure != null) {
                        ConsoleEngine.Failure f = ConsoleEngine.failure(failure);
                        error(f.sqlState(), f.message(), !ready);
                        done(ready);
                        return;
                    }
                    answer(answer, describe);
                    if (answer.then() != null) {
                        client.flush();
                        answer.then().run();
                    }
                    if (client.isWritable()) {
                        run(rest, describe, ready);
                    } else {
                        client.flush();
                        whenWritable = () -> run(rest, describe, ready);
                    }
                }));
    }

    private void answer(ConsoleEngine.Answer answer, boolean describe) {
        answer.notices().forEach(n -> write(notice(n)));
        Table t = answer.table();
        if (t != null) {
            if (describe) {
                write(Table.describe(t.columns()).encode(client.alloc()));
            }
            for (int i = 0; i < t.rows().size(); i++) {
                write(t.encodeRow(client.alloc(), i));
            }
        }
        write(new CommandComplete(answer.tag()).encode(client.alloc()));
    }

    private void done(boolean ready) {
        if (ready) {
            ready();
        }
        busy(false);
        client.flush();
        process();
    }

    private void ready() {
        write(new ReadyForQuery(ReadyForQuery.IDLE).encode(client.alloc()));
    }

    /** An error of the extended protocol: the messages up to Sync are skipped. */
    private void error(String sqlState, String message) {
        error(sqlState, message, true);
    }

    private void error(String sqlState, String message, boolean extended) {
        write(new ErrorResponse("ERROR", sqlState, message, null, null).encode(client.alloc()));
        skipping |= extended;
    }

    private ByteBuf notice(String message) {
        ByteBuf b = new ErrorResponse("NOTICE", "00000", message, null, null).encode(client.alloc());
        b.setByte(b.readerIndex(), 'N');
        return b;
    }

    private void write(ByteBuf b) {
        client.write(b, client.voidPromise());
    }

    private static String readCString(ByteBuf frame) {
        int end = frame.indexOf(frame.readerIndex(), frame.writerIndex(), (byte) 0);
        if (end < 0) {
            end = frame.writerIndex();
        }
        String s = frame.toString(frame.readerIndex(), end - frame.readerIndex(), StandardCharsets.UTF_8);
        frame.readerIndex(Math.min(end + 1, frame.writerIndex()));
        return s;
    }
}
