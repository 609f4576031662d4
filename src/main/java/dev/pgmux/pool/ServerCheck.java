package dev.pgmux.pool;

import dev.pgmux.protocol.frontend.Query;
import dev.pgmux.server.ServerOwner;
import io.netty.buffer.ByteBuf;
import io.netty.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

/**
 * Checks that a connection idle for longer than {@code server_check_delay} still answers before a client gets it:
 * an empty query, whose answer (EmptyQueryResponse, ReadyForQuery) nobody sees. A connection that does not answer
 * in time, answers otherwise, or closes, is discarded, and the client asks the pool again.
 */
final class ServerCheck implements ServerOwner {
    private static final long TIMEOUT_SECONDS = 5;

    private final PooledServer server;
    private final Runnable ok;
    private final Runnable failed;
    private final ScheduledFuture<?> timer;
    /** The bytes of the answer still expected: 'I' with length 4, then 'Z' with length 5 and status 'I'. */
    private static final byte[] ANSWER = {'I', 0, 0, 0, 4, 'Z', 0, 0, 0, 5, 'I'};
    private int matched;
    private boolean done;

    private ServerCheck(PooledServer server, Runnable ok, Runnable failed) {
        this.server = server;
        this.ok = ok;
        this.failed = failed;
        this.timer = server.loop().schedule(() -> fail("no answer to the check in " + TIMEOUT_SECONDS + " s"),
                TIMEOUT_SECONDS, TimeUnit.SECONDS);
    }

    /** Runs the check on the server's loop; {@code ok} or {@code failed} runs after, on that loop. */
    static void run(PooledServer server, Runnable ok, Runnable failed) {
        ServerCheck check = new ServerCheck(server, ok, failed);
        server.connection().owner(check);
        server.connection().write(new Query("").encode(server.connection().alloc()));
        server.connection().flush();
    }

    @Override
    public String logContext() {
        return "pool=" + server.pool().name() + " check";
    }

    @Override
    public void onData(ByteBuf data) {
        try {
            if (done) {
                return;
            }
            while (data.isReadable()) {
                if (matched == ANSWER.length || data.readByte() != ANSWER[matched]) {
                    fail("unexpected answer to the check");
                    return;
                }
                matched++;
            }
            if (matched == ANSWER.length) {
                done = true;
                timer.cancel(false);
                ok.run();
            }
        } finally {
            data.release();
        }
    }

    private void fail(String why) {
        if (done) {
            return;
        }
        done = true;
        timer.cancel(false);
        server.pool().discard(server, why);
        failed.run();
    }

    @Override
    public void onFailed(Failure failure, String why) {
        fail(why);
    }
}
