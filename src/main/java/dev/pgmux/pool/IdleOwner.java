package dev.pgmux.pool;

import dev.pgmux.server.ServerOwner;
import io.netty.buffer.ByteBuf;

/** Hears a server connection while it waits in its pool: a server that closes leaves the pool. */
final class IdleOwner implements ServerOwner {
    private final PooledServer server;

    IdleOwner(PooledServer server) {
        this.server = server;
    }

    @Override
    public String logContext() {
        return "pool=" + server.pool().name();
    }

    @Override
    public void onData(ByteBuf data) {
        // A notice or a parameter change of an idle server (a reload of its configuration): nobody to tell.
        data.release();
    }

    @Override
    public void onFailed(Failure failure, String why) {
        server.pool().lost(server, why);
    }
}
