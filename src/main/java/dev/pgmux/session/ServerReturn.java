package dev.pgmux.session;

import dev.pgmux.pool.PooledServer;
import dev.pgmux.protocol.frontend.Query;
import dev.pgmux.server.Inbox;
import dev.pgmux.server.ServerOwner;
import io.netty.buffer.ByteBuf;
import io.netty.util.concurrent.ScheduledFuture;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Brings a server connection whose client is done back to a clean state before it goes back to its pool: ROLLBACK
 * of a transaction left open, then the reset query ({@code server_reset_query}), each as a simple query whose answers
 * nobody sees. Any error, a close, or no answer in time, and the connection is discarded instead.
 */
final class ServerReturn implements ServerOwner {
    private static final long TIMEOUT_SECONDS = 10;

    private final PooledServer server;
    private final Inbox in = new Inbox();
    private final ScheduledFuture<?> timer;
    private int answersLeft;
    private boolean failed;
    private boolean done;

    private ServerReturn(PooledServer server, int answers) {
        this.server = server;
        this.answersLeft = answers;
        this.timer = server.loop().schedule(() -> discard("no answer to the reset in " + TIMEOUT_SECONDS + " s"),
                TIMEOUT_SECONDS, TimeUnit.SECONDS);
    }

    /**
     * Sends {@code queries} (blank ones skipped) and gives the server back to its pool once each is answered; with
     * none, gives it back at once. Runs on the server's loop.
     */
    static void run(PooledServer server, List<String> queries) {
        List<String> toRun = queries.stream().filter(q -> q != null && !q.isBlank()).toList();
        if (toRun.isEmpty()) {
            server.pool().release(server);
            return;
        }
        // A reset (DISCARD ALL) drops the statements pgmux prepared there: they are prepared again under new names;
        // and the settings clients SET: unless it resets them all, the server's are no longer known, so it is not
        // reused. A lone ROLLBACK changes neither.
        boolean resets = toRun.stream().anyMatch(q -> !q.equalsIgnoreCase("ROLLBACK"));
        if (resets) {
            server.statements().invalidate();
            String all = String.join(";", toRun).toUpperCase(java.util.Locale.ROOT);
            if (all.contains("DISCARD ALL") || all.contains("RESET ALL")) {
                server.settings().clear();
            } else if (!server.settings().isEmpty()) {
                server.pool().discard(server, "server_reset_query does not reset the settings clients SET");
                return;
            }
        }
        ServerReturn r = new ServerReturn(server, toRun.size());
        server.connection().owner(r);
        for (String q : toRun) {
            server.connection().write(new Query(q).encode(server.connection().alloc()));
        }
        server.connection().flush();
    }

    @Override
    public String logContext() {
        return "pool=" + server.pool().name() + " reset";
    }

    @Override
    public void onData(ByteBuf data) {
        if (done) {
            data.release();
            return;
        }
        in.add(data.alloc(), data);
        ByteBuf buf = in.peek();
        while (buf.readableBytes() >= 5) {
            int length = buf.getInt(buf.readerIndex() + 1);
            if (length < 4) {
                discard("malformed answer to the reset");
                return;
            }
            if (buf.readableBytes() < length + 1) {
                break;
            }
            byte type = buf.getByte(buf.readerIndex());
            boolean idle = type == 'Z' && length >= 5 && buf.getByte(buf.readerIndex() + 5) == 'I';
            buf.skipBytes(length + 1);
            if (type == 'E') {
                failed = true;
            } else if (type == 'Z' && --answersLeft == 0) {
                if (failed || !idle || buf.isReadable()) {
                    discard("the reset failed");
                } else {
                    finish();
                    server.pool().release(server);
                }
                return;
            }
        }
        in.compact();
    }

    private void finish() {
        done = true;
        timer.cancel(false);
        in.release();
    }

    private void discard(String why) {
        if (done) {
            return;
        }
        finish();
        server.pool().discard(server, why);
    }

    @Override
    public void onFailed(Failure failure, String why) {
        discard(why);
    }
}
