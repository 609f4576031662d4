package dev.pgmux.session;

import dev.pgmux.BackendConfig;
import dev.pgmux.console.Holds;
import dev.pgmux.console.Shows;
import dev.pgmux.pool.PooledServer;
import dev.pgmux.protocol.StartupPacket.StartupMessage;
import dev.pgmux.server.ServerConnection;
import io.netty.handler.ssl.SslHandler;
import java.net.InetSocketAddress;
import java.util.concurrent.TimeUnit;

/** What the console sees of one client session (and its server), read on the session's event loop. */
final class ConsoleViews {

    /**
     * One session as the console lists it.
     *
     * @param client      its row in {@code SHOW CLIENTS}
     * @param server      its server's row in {@code SHOW SERVERS}, or null while it has none
     * @param backend     where it goes (its pool's or passthrough backend's name), or null (logging in, console)
     * @param passthrough whether its server is its own rather than a pool's
     * @param waiting     whether it waits: for a pooled server, or held by the console
     * @param serverState its server is opening ("login") rather than in use
     */
    record SessionView(ClientSession session, Shows.Connection client, Shows.Connection server, Holds.Backend backend,
                       boolean passthrough, boolean waiting, String serverState, boolean console) {
    }

    private ConsoleViews() {
    }

    /** The backend a login goes to, named as the console names pools: {@code user@database/hosts}. */
    static Holds.Backend group(Login login, BackendConfig backend) {
        StartupMessage m = login.forBackend(backend, 0);
        return new Holds.Backend(m.user() + "@" + m.database() + "/" + backend.address(), m.user(), m.database(),
                backend);
    }

    /** Call on the session's event loop. */
    static SessionView view(ClientSession s) {
        SessionState state = s.state();
        if (!(state instanceof SessionState.LoggedIn l)) {
            return null; // still reading its startup packet, or closed: not listed (PgBouncer lists none either)
        }
        Login login = l.login();
        StartupMessage startup = login.startup();
        long now = System.nanoTime();
        String clientState;
        Holds.Backend backend = null;
        boolean passthrough = false;
        boolean waiting = false;
        long waitMicros = 0;
        ServerConnection server = null;
        PooledServer pooled = null;
        String serverState = "active";
        int prepared = 0;
        boolean console = false;
        switch (state) {
            case SessionState.Forwarding f -> {
                clientState = "active";
                server = f.server();
                pooled = f.pooled();
                passthrough = pooled == null;
                backend = pooled != null ? pooled.pool().backend() : group(login, f.backend());
            }
            case SessionState.Pooling p -> {
                pooled = p.tx().server();
                server = pooled == null ? null : pooled.connection();
                waiting = p.tx().waiting();
                clientState = pooled != null ? "active" : waiting ? "waiting" : "idle";
                backend = p.waiter().pool().backend();
                prepared = p.tx().statementCount();
            }
            case SessionState.WaitingForServer w -> {
                clientState = "waiting";
                waiting = true;
                backend = w.waiter().pool().backend();
            }
            case SessionState.Held h -> {
                clientState = "waiting";
                waiting = true;
                passthrough = true;
                backend = h.backend();
            }
            case SessionState.Relaying r -> {
                clientState = "login";
                server = r.server();
                serverState = "login";
                passthrough = true;
                backend = group(login, r.backend());
            }
            case SessionState.Console c -> {
                clientState = "active";
                console = true;
            }
            default -> clientState = "login";
        }
        if (waiting) {
            waitMicros = TimeUnit.NANOSECONDS.toMicros(now - login.startNanos());
        }
        String database = startup.database();
        String replication = startup.parameters().getOrDefault("replication", "");
        replication = replication.isEmpty() || replication.equals("false") || replication.equals("off")
                || replication.equals("no") || replication.equals("0") ? "none"
                : replication.equals("database") ? "logical" : "physical";
        String app = startup.parameters().getOrDefault("application_name", "");
        SslHandler ssl = s.channel().pipeline().get(SslHandler.class);
        String tls = ssl == null || ssl.engine().getSession() == null ? ""
                : ssl.engine().getSession().getProtocol() + "/" + ssl.engine().getSession().getCipherSuite();
        InetSocketAddress local = s.channel().localAddress() instanceof InetSocketAddress a ? a : null;
        Shows.Connection serverRow = null;
        if (server != null) {
            var host = server.host();
            int pid = pooled != null ? pooled.processId()
                    : s.cancelKey() != null && s.cancelKey().target() != null ? s.cancelKey().target().processId() : 0;
            serverRow = new Shows.Connection(server.id(), backend == null ? "" : backend.user(),
                    backend == null ? "" : backend.name(), replication, serverState,
                    host == null ? null : host.address(), server.localAddress(), server.createdMillis(),
                    s.requestMillis(), 0, pooled != null && pooled.closeNeeded(), Shows.clientPtr(s.id()), pid,
                    server.tlsInfo(), app, pooled == null ? 0 : pooled.statements().size());
        }
        Shows.Connection clientRow = new Shows.Connection(s.id(), login.user(), backend == null ? database
                : backend.name(), replication, clientState, s.clientAddress(), local, s.connectMillis(),
                s.requestMillis(), waitMicros, false, server == null ? "" : Shows.serverPtr(server.id()), 0, tls, app,
                prepared);
        return new SessionView(s, clientRow, serverRow, backend, passthrough, waiting, serverState, console);
    }

    /** An idle pooled server's row ({@code used}: idle past {@code server_check_delay}). Any thread. */
    static Shows.Connection idle(PooledServer p, long now) {
        ServerConnection c = p.connection();
        var host = c.host();
        Holds.Backend b = p.pool().backend();
        boolean used = now - p.releasedNanos() > p.pool().config().checkAfterIdle().toNanos();
        String user = b == null ? "" : b.user();
        long requestMillis = System.currentTimeMillis() - TimeUnit.NANOSECONDS.toMillis(now - p.releasedNanos());
        return new Shows.Connection(c.id(), user, b == null ? p.pool().name() : b.name(), "none",
                used ? "used" : "idle", host == null ? null : host.address(), c.localAddress(), c.createdMillis(),
                requestMillis, 0, p.closeNeeded(), "", p.processId(), c.tlsInfo(), "", p.statements().size());
    }
}
