package dev.pgmux.session;

import dev.pgmux.BackendConfig;
import dev.pgmux.metrics.ProxyMetrics;
import dev.pgmux.pool.Pool;
import dev.pgmux.pool.PooledServer;
import dev.pgmux.pool.Tag;
import dev.pgmux.pool.Waiter;
import dev.pgmux.protocol.StartupPacket.StartupMessage;
import dev.pgmux.server.ServerConnection;
import io.netty.buffer.ByteBuf;
import io.netty.channel.EventLoop;
import java.util.List;

/**
 * A pooled client as its pool sees it: what a server connection for it is logged in with (the startup message for
 * the backend, and the credentials pgmux logs in with), and where a server or a failure goes (its session).
 */
final class PooledClient implements Waiter, Pool.Leaving {
    private final ClientSession session;
    private final EventLoop loop;
    private final BackendConfig backend;
    private final List<ServerConnection.Host> hosts;
    private final StartupMessage startup;
    private final StartupMessage forBackend;
    private final ProxyRelay.BackendCredentials credentials;
    private final Pool pool;
    private final Tag tag;
    private final ProxyMetrics metrics;
    private boolean left;
    /** When the client began waiting for a server, or 0 when it is not waiting. */
    private long waitingSince;

    PooledClient(ClientSession session, EventLoop loop, BackendConfig backend, List<ServerConnection.Host> hosts,
                 StartupMessage startup, StartupMessage forBackend, ProxyRelay.BackendCredentials credentials, Pool pool,
                 ProxyMetrics metrics) {
        this.session = session;
        this.loop = loop;
        this.backend = backend;
        this.hosts = hosts;
        this.startup = startup;
        this.forBackend = forBackend;
        this.credentials = credentials;
        this.pool = pool;
        this.tag = pool.canonical(Tag.of(forBackend));
        this.metrics = metrics;
    }

    /** Asks the pool for a server; the wait is timed until one comes, or the wait fails. */
    void acquire() {
        waitingSince = System.nanoTime();
        pool.acquire(this);
    }

    @Override
    public EventLoop loop() {
        return loop;
    }

    @Override
    public Tag tag() {
        return tag;
    }

    @Override
    public void onServer(PooledServer server) {
        waited();
        pool.countAssignment();
        session.onPooledServer(this, server);
    }

    @Override
    public void onFailed(ByteBuf error, String why) {
        waited();
        session.onPoolFailed(this, error, why);
    }

    private void waited() {
        if (waitingSince != 0) {
            metrics.poolWait(System.nanoTime() - waitingSince);
            waitingSince = 0;
        }
    }

    @Override
    public boolean left() {
        return left;
    }

    void leave() {
        left = true;
    }

    BackendConfig backend() {
        return backend;
    }

    List<ServerConnection.Host> hosts() {
        return hosts;
    }

    /** The client's own startup message. */
    StartupMessage startup() {
        return startup;
    }

    /** The startup message a server connection for this client is logged in with. */
    StartupMessage forBackend() {
        return forBackend;
    }

    ProxyRelay.BackendCredentials credentials() {
        return credentials;
    }

    Pool pool() {
        return pool;
    }

    String logContext() {
        return "client=" + session.clientAddress() + " user=" + session.logUser();
    }
}
