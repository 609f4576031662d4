package dev.pgmux.session;

import dev.pgmux.pool.Pool;
import dev.pgmux.pool.PooledServer;
import dev.pgmux.pool.Waiter;
import dev.pgmux.protocol.ErrorResponse;
import dev.pgmux.protocol.ProtocolException;
import dev.pgmux.protocol.SqlState;
import dev.pgmux.protocol.backend.ParameterStatus;
import dev.pgmux.server.ServerConnection;
import dev.pgmux.server.ServerOwner;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Opens a pooled server connection for a waiting client and logs in to it as pgmux ({@link ProxyRelay}, with the
 * client's credentials): its reported settings and cancel key are kept for every client it will serve, and nothing
 * of the login reaches a client but, on failure, the error.
 */
final class PooledLogin implements ServerOwner {

    /** The opener of a proxy's pools. */
    static Pool.Opener opener(ProxyContext proxy) {
        return (pool, waiter) -> open(proxy, pool, waiter);
    }

    private final Pool pool;
    private final PooledClient client;
    private final ProxyRelay relay;
    private final List<Map.Entry<String, String>> parameters = new ArrayList<>();
    private ServerConnection server;
    private int processId;
    private byte[] secret = new byte[0];
    private boolean done;
    private io.netty.util.concurrent.Future<?> timer;

    private PooledLogin(Pool pool, PooledClient client) {
        this.pool = pool;
        this.client = client;
        this.relay = new ProxyRelay(client.startup(), client.credentials());
    }

    private static void open(ProxyContext proxy, Pool pool, Waiter waiter) {
        PooledClient client = (PooledClient) waiter;
        PooledLogin login = new PooledLogin(pool, client);
        ServerConnection server = new ServerConnection(proxy.servers(), client.loop(), client.backend(), client.hosts(),
                client::forBackend, login);
        login.server = server;
        // The whole login, not only each host's first answer, within the login timeout.
        long timeout = proxy.limits().loginTimeout().toMillis();
        login.timer = client.loop().schedule(() -> {
            if (!login.done) {
                login.fail(ErrorResponse.fatal(SqlState.CONNECTION_FAILURE, "the backend server did not complete"
                        + " pgmux's login within " + timeout + " ms").encode(ByteBufAllocator.DEFAULT), "login timeout");
            }
        }, timeout, java.util.concurrent.TimeUnit.MILLISECONDS);
        server.holdClientBytesUntilReady();
        server.connect();
    }

    @Override
    public String logContext() {
        return "pool=" + pool.name() + " for " + client.logContext();
    }

    @Override
    public void onLoginStarted() {
        relay.hostStarted();
        parameters.clear();
    }

    @Override
    public void onLoginMessage(ByteBuf frame) {
        ByteBufAllocator alloc = frame.alloc();
        List<AuthRelay.Decision> decisions = relay.onMessage(frame, server.laterHostAvailable(), alloc);
        for (AuthRelay.Decision d : decisions) {
            if (done) {
                AuthRelay.release(d);
                continue;
            }
            switch (d) {
                case AuthRelay.Relay m -> keep(m.message());
                case AuthRelay.Drop m -> {
                }
                case AuthRelay.ToServer m -> {
                    server.write(m.message());
                    server.flush();
                }
                case AuthRelay.RelayError e -> fail(e.message(), "backend refused pgmux's login sqlstate=" + e.sqlState());
                case AuthRelay.SwapKey k -> {
                    processId = k.processId();
                    secret = k.secret();
                }
                case AuthRelay.NextHost n -> server.nextHost(n.why());
                case AuthRelay.Fail f -> fail(f.error().encode(alloc), f.logReason());
                case AuthRelay.Ready r -> {
                    r.message().release();
                    onReady(alloc);
                }
            }
        }
        if (!done && relay.clientTookPart()) {
            server.commit();
        }
    }

    /** A message the client would see at login: only the reported settings are kept. */
    private void keep(ByteBuf message) {
        try {
            if (message.getByte(message.readerIndex()) == ParameterStatus.TYPE) {
                ParameterStatus p = ParameterStatus.decode(message);
                parameters.add(Map.entry(p.name(), p.value()));
            }
        } catch (ProtocolException e) {
            ClientSession.log.debug("malformed ParameterStatus from backend {} error={}", logContext(), e.getMessage());
        } finally {
            message.release();
        }
    }

    private void onReady(ByteBufAllocator alloc) {
        String mismatch = server.roleMismatch();
        if (mismatch != null) {
            fail(ErrorResponse.fatal(SqlState.SQLCLIENT_UNABLE_TO_ESTABLISH_SQLCONNECTION, "no server matching"
                    + " target_session_attrs=" + client.backend().targetSessionAttrs().libpqName() + ": " + mismatch)
                    .encode(alloc), "target_session_attrs not matched");
            return;
        }
        done = true;
        timer.cancel(false);
        PooledServer pooled = pool.newServer(server, client.loop(), client.tag(), parameters, processId, secret);
        server.ready();
        ClientSession.log.debug("pooled server opened {} pid={}", logContext(), processId);
        pool.opened(pooled, client);
    }

    private void fail(ByteBuf error, String why) {
        done = true;
        timer.cancel(false);
        ClientSession.log.warn("pooled server login failed {} backend={} reason=\"{}\"", logContext(),
                server.lastEndpoint(), why);
        server.close(why);
        pool.openFailed(client, error, why);
    }

    @Override
    public void onData(ByteBuf data) {
        data.release();
    }

    @Override
    public void onReadComplete() {
        server.read();
    }

    @Override
    public void onWritable() {
    }

    @Override
    public void onFailed(Failure failure, String why) {
        if (done) {
            return;
        }
        done = true;
        timer.cancel(false);
        pool.openFailed(client, ErrorResponse.fatal(SqlState.CONNECTION_FAILURE, failure == Failure.NO_HOST
                ? "could not connect to the backend server"
                : "the backend server closed the connection during authentication").encode(ByteBufAllocator.DEFAULT), why);
    }
}
