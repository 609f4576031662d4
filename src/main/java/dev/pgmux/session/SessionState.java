package dev.pgmux.session;

import dev.pgmux.BackendConfig;
import dev.pgmux.pool.PooledServer;
import dev.pgmux.server.Inbox;
import dev.pgmux.server.ServerConnection;

/** The life of a {@link ClientSession}; each state holds exactly the data valid in it. */
sealed interface SessionState {

    /** A state after the startup message: the client's login is known. */
    sealed interface LoggedIn extends SessionState {
        Login login();
    }

    /** A state with a server connection. */
    sealed interface WithServer extends LoggedIn {
        ServerConnection server();
    }

    /** Reading startup packets (see {@link ClientStartup}). */
    record Startup(ClientStartup startup) implements SessionState {
    }

    /** Waiting for the router; {@code pending} holds what the client sent after its startup message. */
    record Routing(Login login, Inbox pending) implements LoggedIn {
    }

    /**
     * pgmux authenticates the client itself ({@code auth: proxy}) by the route's method ({@link ProxyLogin}); the
     * server connection comes after.
     */
    record Authenticating(Login login, RouteLookup.Routed routed, ProxyLogin exchange) implements LoggedIn {
    }

    /**
     * A server connection logs in; its messages go through {@code relay}: relayed to the client, or, when pgmux
     * authenticated the client, answered by pgmux.
     */
    record Relaying(Login login, BackendConfig backend, ServerConnection server, LoginRelay relay)
            implements WithServer {
    }

    /**
     * Relaying bytes both ways through an attached server, logged in at {@code host}; {@code pooled} is the pool's
     * server of a session pool (it goes back to its pool at the end), or null for a server of the client's own.
     */
    record Forwarding(Login login, BackendConfig backend, ServerConnection server, ServerConnection.Host host,
                      MessageScanner fromClient, MessageScanner fromServer, PooledServer pooled) implements WithServer {
    }

    /** Authenticated by pgmux, the client waits for a pooled server connection; {@code pending}: what it sent since. */
    record WaitingForServer(Login login, BackendConfig backend, PooledClient waiter, Inbox pending) implements LoggedIn {
    }

    /** A client of a transaction pool, with a server only while a transaction runs. */
    record Pooling(Login login, BackendConfig backend, PooledClient waiter, TransactionClient tx) implements LoggedIn {
    }

    /** No route, and unknown users are hidden: the failing SCRAM exchange PostgreSQL holds with unknown users. */
    record Hidden(Login login, HiddenLogin exchange) implements LoggedIn {
    }

    /** A client of the admin console, logged in by pgmux. */
    record Console(Login login, ConsoleClient console) implements LoggedIn {
    }

    /**
     * A passthrough login held by PAUSE or KILL on the console until RESUME, before its server is connected;
     * {@code pending}: what the client sent meanwhile.
     */
    record Held(Login login, dev.pgmux.console.Holds.Backend backend, Inbox pending, Runnable resume)
            implements LoggedIn {
    }

    record Closed(String reason) implements SessionState {
    }
}
