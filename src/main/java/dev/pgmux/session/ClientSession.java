package dev.pgmux.session;

import dev.pgmux.AuthMode;
import dev.pgmux.BackendConfig;
import dev.pgmux.Limits;
import dev.pgmux.RouteRequest;
import dev.pgmux.RoutingException;
import dev.pgmux.cancel.CancelForwarder;
import dev.pgmux.cancel.CancelRegistry;
import dev.pgmux.listen.ClientAddress;
import dev.pgmux.protocol.ErrorResponse;
import dev.pgmux.protocol.SqlState;
import dev.pgmux.protocol.StartupPacket.StartupMessage;
import dev.pgmux.protocol.backend.BackendKeyData;
import dev.pgmux.server.Inbox;
import dev.pgmux.server.ServerConnection;
import dev.pgmux.server.ServerOwner;
import dev.pgmux.session.SessionState.Authenticating;
import dev.pgmux.session.SessionState.Closed;
import dev.pgmux.session.SessionState.Forwarding;
import dev.pgmux.session.SessionState.Hidden;
import dev.pgmux.session.SessionState.Pooling;
import dev.pgmux.session.SessionState.WaitingForServer;
import dev.pgmux.pool.Pool;
import dev.pgmux.pool.PooledServer;
import dev.pgmux.session.SessionState.Relaying;
import dev.pgmux.session.SessionState.Routing;
import dev.pgmux.session.SessionState.Startup;
import dev.pgmux.transport.Reading;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.handler.ssl.SslHandler;
import io.netty.util.concurrent.ScheduledFuture;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.List;
import java.util.Map;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One client connection, as a state machine whose states hold exactly the data valid in them:
 *
 * <pre>
 * accept ─► Startup ──► Routing ──► Relaying ──────────────► Forwarding ──► Closed
 *   (ClientStartup:        │  (a ServerConnection logs in,   (raw bytes both ways
 *    TLS, cancel,          │   the client's authentication   through the attached
 *    malformed → FATAL     │   relayed: AuthRelay)           server, backpressure)
 *    or silent close)      └─ no route, hidden users ─► Hidden (HiddenLogin: SCRAM ending in 28P01) ─► Closed
 * </pre>
 *
 * The Netty handler ({@link ClientHandler}) only turns the client channel's events into calls here; the server
 * connection reports through {@link ServerOwner}. Everything runs on the client channel's event loop,
 * on which the server connection's channel is registered too. Until Forwarding each read is requested by hand
 * (AUTO_READ off); from then on both sides read by themselves and a side is paused only while the other cannot take
 * more (writability), so a slow client slows its server instead of filling pgmux's memory.
 */
public final class ClientSession {
    static final Logger log = LoggerFactory.getLogger(ClientSession.class);
    private static final LoginFailureLog LOGIN_FAILURES = new LoginFailureLog(10);
    private static final java.util.concurrent.atomic.AtomicLong IDS = new java.util.concurrent.atomic.AtomicLong();

    /** A number of its own, for the console ({@code SHOW CLIENTS}, {@code KILL_CLIENT}). */
    private final long id = IDS.incrementAndGet();
    private final long connectMillis = System.currentTimeMillis();
    /** When the client last sent something once logged in ({@link System#nanoTime()}), for the console. */
    private long lastRequestNanos;

    private final ProxyContext proxy;
    private final Channel client;
    private final long startNanos = System.nanoTime();
    private final InetSocketAddress clientAddress;
    private final ScheduledFuture<?> loginTimeout;
    private SessionState state;
    /** Counted in the proxy's open connections (until the end). */
    private boolean counted;
    /** The key this session handed out instead of its server's, registered from BackendKeyData to the end. */
    private CancelRegistry.Entry cancelKey;
    private boolean drainRequested;
    /** A pooled client has sent something since its login (see {@link #requestedSinceLogin()}). */
    private boolean pooledClientSpoke;
    private long bytesFromClient;
    private long bytesFromServer;

    ClientSession(ProxyContext proxy, Channel client) {
        this.proxy = proxy;
        this.client = client;
        this.clientAddress = ClientAddress.of(client); // a PROXY header's, the peer's, or none (Unix socket)
        InetAddress ip = clientAddress == null ? null : clientAddress.getAddress();
        String refusal = proxy.clients().open(ip, proxy.limits());
        counted = true;
        proxy.sessions().add(this);
        this.state = new Startup(new ClientStartup(this, proxy, client, refusal));
        if (proxy.draining()) {
            drain(); // accepted just before the listeners closed, after the drain went through the sessions
        }
        Limits limits = proxy.limits();
        this.loginTimeout = client.eventLoop().schedule(this::onLoginTimeout, limits.loginTimeout().toMillis(),
                TimeUnit.MILLISECONDS);
        client.read();
    }

    InetSocketAddress clientAddress() {
        return clientAddress;
    }

    // ---------------------------------------------------------------- client events

    void onClientRead(ByteBuf in) {
        switch (state) {
            case Startup s -> s.startup().onBytes(in);
            case Routing r -> r.pending().add(client.alloc(), in);
            case Relaying r -> {
                r.relay().clientSpoke(System.nanoTime());
                bytesFromClient += in.readableBytes();
                proxy.counters().fromClient(in.readableBytes());
                r.server().sendDuringLogin(in);
            }
            case Forwarding f -> {
                lastRequestNanos = System.nanoTime();
                f.fromClient().scan(in);
                int n = in.readableBytes();
                bytesFromClient += n;
                proxy.counters().fromClient(n);
                if (f.pooled() != null) {
                    f.pooled().pool().countReceived(n);
                }
                if (f.pooled() != null && f.fromClient().terminateAt() >= 0) {
                    // A pooled server must not see its client's Terminate: it serves the next client.
                    int upTo = f.fromClient().terminateAt();
                    if (upTo > in.readerIndex()) {
                        f.server().write(in.retainedSlice(in.readerIndex(), upTo - in.readerIndex()));
                    }
                    in.release();
                    f.server().flush();
                    close("client terminated");
                    return;
                }
                f.server().write(in);
            }
            case Pooling p -> {
                lastRequestNanos = System.nanoTime();
                pooledClientSpoke = true;
                int n = in.readableBytes();
                bytesFromClient += n;
                proxy.counters().fromClient(n);
                p.waiter().pool().countReceived(n);
                p.tx().onClientBytes(in);
            }
            case WaitingForServer w -> w.pending().add(client.alloc(), in);
            case Hidden h -> h.exchange().onBytes(in);
            case Authenticating a -> onProxyLoginBytes(a, in);
            case SessionState.Console c -> {
                lastRequestNanos = System.nanoTime();
                c.console().onBytes(in);
            }
            case SessionState.Held h -> h.pending().add(client.alloc(), in);
            case Closed c -> in.release();
        }
    }

    void onClientReadComplete() {
        switch (state) {
            case Startup s -> client.read();
            case Relaying r -> {
                r.server().flush();
                // While a host is still being connected to, read no more: the bytes would only pile up for it.
                if (r.server().takesClientBytes() && r.server().isWritable()) {
                    client.read();
                }
            }
            case Forwarding f -> {
                f.server().flush();
                if (!f.server().isWritable()) {
                    Reading.flow(client, false); // until the server drains, see ServerEvents.onWritable
                }
            }
            case Pooling p -> p.tx().onClientReadComplete();
            case Hidden h -> {
                client.flush();
                if (h.exchange().readable()) {
                    client.read();
                }
            }
            case Authenticating a -> {
                if (a.exchange().readable()) {
                    client.read(); // not while a check runs off the event loop: the bytes would only pile up
                }
            }
            default -> {
                // Routing: read no more until a server is there.
            }
        }
    }

    void onClientWritabilityChanged() {
        if (client.isWritable()) {
            switch (state) {
                case Forwarding f -> f.server().autoRead(true);
                case Pooling p -> p.tx().onClientWritable();
                case SessionState.Console c -> c.console().onWritable();
                case Relaying r -> r.server().read();
                default -> {
                }
            }
        }
    }

    void onClientSni(String hostname) {
        if (state instanceof Startup s) {
            s.startup().sni(hostname);
        }
    }

    void onClientTlsHandshake(Throwable cause) {
        if (state instanceof Startup s) {
            s.startup().onTlsHandshake(cause);
        }
    }

    void onClientClosed() {
        switch (state) {
            case Closed c -> {
                return;
            }
            case Forwarding f when f.pooled() != null -> {
                // back to its pool in finish(), clean, or closed
            }
            case Forwarding f when !idle() && cancelKey != null ->
                // A query is running for a client that is gone: ask the server to stop it rather than let it run
                // to completion.
                    CancelForwarder.forward(client.eventLoop(), proxy.transport(), proxy.limits(), cancelKey.target());
            case Forwarding f when f.fromClient().atBoundary() -> f.server().terminate();
            default -> {
            }
        }
        if (state instanceof SessionState.WithServer w && !(state instanceof Forwarding f && f.pooled() != null)) {
            w.server().closeAfterFlush("client closed"); // what the client sent last still reaches the server
        }
        finish("client closed");
    }

    // ---------------------------------------------------------------- routing

    /** The client's startup message passed every check: ask the router. */
    void onStartupMessage(StartupMessage startup, String sniHost, ByteBuf pending) {
        Login login = new Login(startup, sniHost, System.nanoTime());
        Inbox inbox = new Inbox();
        if (pending != null) {
            inbox.add(client.alloc(), pending);
        }
        state = new Routing(login, inbox);
        dev.pgmux.ConsoleConfig console = proxy.console();
        if (console != null && console.database().equals(startup.database())) {
            startConsoleLogin((Routing) state, console);
            return;
        }
        RouteRequest request = new RouteRequest(startup.user(), startup.database(),
                startup.parameters().get("application_name"), startup.parameters(), clientAddress, sniHost,
                client.pipeline().get(SslHandler.class) != null);
        try {
            RouteLookup.route(proxy, request, client.eventLoop(), this::onRouted);
        } catch (RejectedExecutionException e) {
            fail(ErrorResponse.fatal(SqlState.CANNOT_CONNECT_NOW, "the proxy is shutting down"));
        }
    }

    private void onRouted(RouteLookup.Routed routed, Throwable error) {
        if (!(state instanceof Routing r)) {
            return; // the client left meanwhile
        }
        Login login = r.login();
        if (error instanceof RoutingException e && proxy.hideUnknownUsers() && RoutingException.NO_ROUTE.equals(e.sqlState())) {
            startHiddenLogin(r);
            return;
        }
        if (error != null) {
            fail(RouteLookup.failure(error, proxy, clientAddress, login, this::logLoginFailure));
            return;
        }
        BackendConfig backend = routed.backend();
        if (login.tooLongFor(backend)) { // the server would close without a word
            logLoginFailure("startup packet too long for the backend");
            fail(Login.TOO_LONG);
            return;
        }
        if (backend.auth() == AuthMode.PROXY) {
            startProxyLogin(r, routed);
            return;
        }
        connectServer(login, routed, new AuthRelay(login.startup(), login.renamedBy(backend)), r.pending().take());
    }

    /** Opens the server connection; {@code pending} (may be null) are client bytes that go after the startup. */
    private void connectServer(Login login, RouteLookup.Routed routed, LoginRelay relay, ByteBuf pending) {
        BackendConfig backend = routed.backend();
        dev.pgmux.console.Holds holds = proxy.pools().holds();
        if (!holds.isEmpty()) {
            dev.pgmux.console.Holds.Backend group = ConsoleViews.group(login, backend);
            dev.pgmux.console.Holds.Kind held = holds.heldAs(group);
            if (held == dev.pgmux.console.Holds.Kind.DISABLE) {
                refuseDisabled(login, pending);
                return;
            }
            if (held != null) {
                hold(login, group, pending, () -> connectServer(login, routed, relay, state instanceof
                        SessionState.Held h ? h.pending().take() : null));
                return;
            }
        }
        ServerConnection server = new ServerConnection(proxy.servers(), client.eventLoop(), backend, routed.hosts(),
                () -> login.forBackend(backend, relay.protocolMinor()), new ServerEvents(this, client, proxy));
        state = new Relaying(login, backend, server, relay);
        if (relay instanceof ProxyRelay) {
            server.holdClientBytesUntilReady(); // pgmux answers the server's authentication itself
        }
        if (pending != null) {
            server.sendDuringLogin(pending);
        }
        server.connect();
    }

    // ---------------------------------------------------------------- authentication at pgmux

    private void startProxyLogin(Routing r, RouteLookup.Routed routed) {
        BackendConfig backend = routed.backend();
        if (CredentialLookup.needed(proxy, backend, r.login())) { // found before the client is asked anything
            CredentialLookup.lookup(proxy, routed, r.login(), client.eventLoop(), (found, error) -> {
                if (state == r) { // else the client left meanwhile
                    if (error != null) {
                        fail(CredentialLookup.failure(error, r.login(), this::logLoginFailure));
                    } else {
                        startExchange(r, routed, ProxyLogin.begin(client, proxy, r.login(), backend, found,
                                this::onProxyLoginOutcome));
                    }
                }
            });
            return;
        }
        startExchange(r, routed, ProxyLogin.begin(client, proxy, r.login(), backend, this::onProxyLoginOutcome));
    }

    private void startExchange(Routing r, RouteLookup.Routed routed, ProxyLogin exchange) {
        Authenticating a = new Authenticating(r.login(), routed, exchange);
        state = a;
        onProxyLoginOutcome(exchange, exchange.start(r.pending().take()));
        if (state == a && exchange.readable()) {
            client.read();
        }
    }

    private void onProxyLoginBytes(Authenticating a, ByteBuf in) {
        onProxyLoginOutcome(a.exchange(), a.exchange().onBytes(in));
    }

    /** How a login at pgmux ended, now or once a check off the event loop answered; null: not yet. */
    private void onProxyLoginOutcome(ProxyLogin exchange, ProxyLogin.Outcome outcome) {
        if (outcome == null || !(state instanceof Authenticating a) || a.exchange() != exchange) {
            return;
        }
        switch (outcome) {
            case ProxyLogin.Refused refused -> {
                if (SqlState.INVALID_PASSWORD.equals(refused.error().sqlState())) {
                    exchange.refuted();
                }
                logLoginFailure(refused.reason() + " sqlstate=" + refused.error().sqlState());
                fail(refused.error(), SqlState.INVALID_PASSWORD.equals(refused.error().sqlState())
                        ? proxy.loginTiming().passwordFailureLocation() : Map.of());
            }
            case ProxyLogin.Authenticated ok -> {
                if (ConsoleEngine.isConsole(a.routed().backend())) {
                    startConsole(a, exchange.rest());
                } else if (a.routed().backend().pool().pooled() && !a.login().startup().parameters().containsKey("replication")) {
                    startPooled(a, ok.server(), exchange.rest());
                } else {
                    connectServer(a.login(), a.routed(), new ProxyRelay(a.login().startup(), ok.server()),
                            exchange.rest());
                }
            }
        }
    }

    // ---------------------------------------------------------------- the admin console

    /** A login to the console's database: pgmux authenticates console users itself, against the auth file. */
    private void startConsoleLogin(Routing r, dev.pgmux.ConsoleConfig console) {
        Login login = r.login();
        dev.pgmux.auth.Credential credential = null;
        if (console.allows(login.user())) {
            try {
                credential = ProxyCredentials.forClient(ConsoleEngine.CONSOLE, proxy.authFile(), login.user());
            } catch (IllegalArgumentException e) {
                log.warn("unusable credential for console user={} error=\"{}\"", login.logUser(), e.getMessage());
            }
        }
        // SCRAM only, for everyone: an MD5 challenge for some names would tell which are console users with md5 lines
        BackendConfig backend = ConsoleEngine.CONSOLE;
        startExchange(r, new RouteLookup.Routed(backend, List.of()),
                ProxyLogin.console(client, proxy, login, backend, credential, this::onProxyLoginOutcome));
    }

    /** A console user is in: answers the login as a server would, then reads console commands. */
    private void startConsole(Authenticating a, ByteBuf rest) {
        loginTimeout.cancel(false);
        String user = a.login().user();
        dev.pgmux.ConsoleConfig console = proxy.console();
        if (console == null || !console.allows(user) || !console.database().equals(a.login().startup().database())) {
            if (rest != null) {
                rest.release();
            }
            logLoginFailure("console turned off or user no longer listed (reload during the login)");
            fail(dev.pgmux.auth.LoginErrors.passwordFailed(user));
            return;
        }
        boolean admin = console.isAdmin(user);
        ConsoleClient cc = new ConsoleClient(this, client, proxy.consoleEngine(), user);
        state = new SessionState.Console(a.login(), cc);
        for (var p : ConsoleEngine.loginParameters(a.login().startup(), admin).entrySet()) {
            client.write(new dev.pgmux.protocol.backend.ParameterStatus(p.getKey(), p.getValue()).encode(client.alloc()));
        }
        int minor = AuthRelay.agreedMinor(a.login().startup());
        byte[] secret = new byte[minor >= 2 ? CancelRegistry.LONG_SECRET : 4];
        java.util.concurrent.ThreadLocalRandom.current().nextBytes(secret);
        client.write(new BackendKeyData((int) id, secret).encode(client.alloc())); // a cancel of it reaches nothing
        client.write(new dev.pgmux.protocol.backend.ReadyForQuery((byte) 'I').encode(client.alloc()));
        client.flush();
        Reading.flow(client, true);
        log.info("console login client={} user={} admin={}", clientAddress, a.login().logUser(), admin);
        if (rest != null) {
            cc.onBytes(rest);
        }
    }

    /** A login to a backend DISABLE holds: refused as PostgreSQL refuses a database that allows no connections. */
    private void refuseDisabled(Login login, ByteBuf pending) {
        if (pending != null) {
            pending.release();
        }
        logLoginFailure("backend disabled on the console");
        fail(ConsoleEngine.disabled(login.startup().database()));
    }

    /** A passthrough login waits before its server is connected, until the console's hold on it is lifted. */
    private void hold(Login login, dev.pgmux.console.Holds.Backend group, ByteBuf pending, Runnable go) {
        Inbox inbox = new Inbox();
        if (pending != null) {
            inbox.add(client.alloc(), pending);
        }
        Runnable[] resume = new Runnable[1];
        resume[0] = () -> client.eventLoop().execute(() -> {
            if (state instanceof SessionState.Held h && h.resume() == resume[0]) {
                go.run();
            }
        });
        state = new SessionState.Held(login, group, inbox, resume[0]);
        log.info("login held by the console client={} user={} backend={}", clientAddress, login.logUser(), group.name());
        proxy.pools().holds().await(resume[0]);
        if (!proxy.pools().holds().waits(group)) {
            resume[0].run(); // lifted meanwhile
        }
    }

    long id() {
        return id;
    }

    long connectMillis() {
        return connectMillis;
    }

    /** When the client last sent something (wall clock), or its connect time. */
    long requestMillis() {
        return lastRequestNanos == 0 ? connectMillis
                : connectMillis + TimeUnit.NANOSECONDS.toMillis(lastRequestNanos - startNanos);
    }

    Channel channel() {
        return client;
    }

    CancelRegistry.Entry cancelKey() {
        return cancelKey;
    }

    // ---------------------------------------------------------------- pooling

    /** Authenticated by pgmux on a pooled route: a server comes from the pool, now or once one is free. */
    private void startPooled(Authenticating a, ProxyRelay.BackendCredentials credentials, ByteBuf rest) {
        BackendConfig backend = a.routed().backend();
        Login login = a.login();
        var forBackend = login.forBackend(backend, AuthRelay.agreedMinor(login.startup()));
        dev.pgmux.console.Holds holds = proxy.pools().holds();
        if (!holds.isEmpty()
                && holds.heldAs(ConsoleViews.group(login, backend)) == dev.pgmux.console.Holds.Kind.DISABLE) {
            refuseDisabled(login, rest);
            return;
        }
        Pool pool = proxy.pools().admit(backend, forBackend.user(), forBackend.database());
        if (pool == null) {
            if (rest != null) {
                rest.release();
            }
            logLoginFailure("max_clients of the route reached");
            fail(ErrorResponse.fatal(SqlState.TOO_MANY_CONNECTIONS, "too many clients for the pool of user \""
                    + forBackend.user() + "\" on database \"" + forBackend.database() + "\" (max_clients "
                    + backend.pool().maxClients() + ")"));
            return;
        }
        PooledClient waiter = new PooledClient(this, client.eventLoop(), backend, a.routed().hosts(), login.startup(),
                forBackend, credentials, pool, proxy.metrics());
        Inbox pending = new Inbox();
        if (rest != null) {
            pending.add(client.alloc(), rest);
        }
        state = new WaitingForServer(login, backend, waiter, pending);
        // The login is done; the wait for a server is bounded by query_wait_timeout, as every later wait.
        loginTimeout.cancel(false);
        waiter.acquire();
    }

    /** A pooled server for {@code waiter}: the first ends the login, later ones serve the client's transactions. */
    void onPooledServer(PooledClient waiter, PooledServer server) {
        switch (state) {
            case WaitingForServer w when w.waiter() == waiter -> startPooledSession(w, server);
            case Pooling p when p.waiter() == waiter -> p.tx().onServer(server);
            default -> server.pool().release(server); // the client left meanwhile
        }
    }

    /** No pooled server for {@code waiter}: the client gets the error, and the connection ends. */
    void onPoolFailed(PooledClient waiter, ByteBuf error, String why) {
        boolean mine = switch (state) {
            case WaitingForServer w -> w.waiter() == waiter;
            case Pooling p -> p.waiter() == waiter;
            default -> false;
        };
        if (!mine) {
            error.release();
            return;
        }
        if (error.readableBytes() > 5) {
            proxy.metrics().error(ErrorResponse.sqlStateOf(error.slice(error.readerIndex() + 5,
                    error.readableBytes() - 5)));
        }
        if (state instanceof WaitingForServer) {
            logLoginFailure(why);
            proxy.counters().rejected();
        }
        client.writeAndFlush(error).addListener(ChannelFutureListener.CLOSE);
        finish(why);
    }

    /** Answers the login as the pool's server answered its own (reported settings, a cancel key, ReadyForQuery). */
    private void startPooledSession(WaitingForServer w, PooledServer server) {
        int minor = AuthRelay.agreedMinor(w.login().startup());
        int secretLength = minor >= 2 ? CancelRegistry.LONG_SECRET : 4;
        for (var p : server.loginParameters()) {
            client.write(new dev.pgmux.protocol.backend.ParameterStatus(p.getKey(), p.getValue()).encode(client.alloc()));
        }
        TransactionClient tx = null;
        if (server.pool().config().mode() == dev.pgmux.PoolMode.TRANSACTION) {
            tx = new TransactionClient(this, client, w.waiter(), proxy.metrics());
            TransactionClient live = tx;
            proxy.cancels().remove(cancelKey);
            cancelKey = proxy.cancels().registerLive(live::cancelTarget, secretLength);
        } else {
            swapCancelKey(new CancelRegistry.Target(server.address(), server.processId(), server.secret()), secretLength);
        }
        client.write(new BackendKeyData(cancelKey.processId(), cancelKey.secret()).encode(client.alloc()));
        client.write(new dev.pgmux.protocol.backend.ReadyForQuery((byte) 'I').encode(client.alloc()));
        client.flush();
        proxy.counters().established();
        proxy.metrics().login(System.nanoTime() - w.login().startNanos());
        ByteBuf pending = w.pending().take();
        if (tx != null) {
            state = new Pooling(w.login(), w.backend(), w.waiter(), tx);
            Reading.flow(client, true);
            tx.start(server, pending);
        } else {
            server.connection().owner(new ServerEvents(this, client, proxy));
            RequestClock clock = new RequestClock(proxy.metrics(), server.pool());
            Forwarding f = new Forwarding(w.login(), w.backend(), server.connection(), server.connection().host(),
                    new MessageScanner(true, clock, null), new MessageScanner(false, clock, proxy.metrics()), server);
            state = f;
            Reading.flow(client, true);
            if (pending != null) {
                onClientRead(pending);
                onClientReadComplete();
            }
        }
        log.debug("pooled session started client={} user={} pool={} pid={}", clientAddress, logUser(),
                server.pool().name(), server.processId());
    }

    /** A session pool's server whose client is done: back to its pool clean (ROLLBACK, reset), or closed. */
    private void returnPooled(Forwarding f) {
        PooledServer server = f.pooled();
        if (!server.connection().isReady()) {
            server.pool().discard(server, "closed");
            return;
        }
        boolean between = f.fromClient().atBoundary() && f.fromServer().atBoundary()
                && f.fromClient().syncPoints() == f.fromServer().syncPoints() && !f.fromClient().extendedSinceSync();
        if (!between) {
            server.pool().discard(server, "client left with a request in flight");
            return;
        }
        List<String> queries = new java.util.ArrayList<>(2);
        if (f.fromServer().transactionStatus() != 'I') {
            queries.add("ROLLBACK");
        }
        queries.add(server.pool().config().resetQuery());
        ServerReturn.run(server, queries);
    }

    void countFromServer(long n) {
        bytesFromServer += n;
        proxy.counters().toClient((int) n);
    }

    private void startHiddenLogin(Routing r) {
        logLoginFailure("no route (answered as a failed password)");
        HiddenLogin exchange = new HiddenLogin(this, client, proxy.loginTiming(), r.login().startup());
        state = new Hidden(r.login(), exchange);
        exchange.start(r.pending().take(), System.nanoTime() - r.login().startNanos());
    }

    // ---------------------------------------------------------------- the server's side of the login

    /** Server bytes for the client, once forwarding. */
    void toClient(Forwarding f, ByteBuf data) {
        f.fromServer().scan(data);
        int n = data.readableBytes();
        bytesFromServer += n;
        proxy.counters().toClient(n);
        if (f.pooled() != null) {
            f.pooled().pool().countSent(n);
        }
        client.write(data, client.voidPromise());
    }

    boolean drainRequested() {
        return drainRequested;
    }

    /** Whether a graceful shutdown waits for this session's next idle moment, which is now. */
    boolean drainDue() {
        return drainRequested && (idle() || state instanceof Pooling p && p.tx().betweenTransactions())
                // A session with no request since its login has just connected (pgbench -C, a pool filling up): its first
                // request is on its way and is served; the deadline ends it if none comes.
                && requestedSinceLogin();
    }

    /** Whether the client has sent a request since its login: a drain that began before the login waits for one. */
    private boolean requestedSinceLogin() {
        return switch (state) {
            case Forwarding f -> f.fromClient().syncPoints() > 0;
            case Pooling p -> pooledClientSpoke;
            default -> false;
        };
    }

    /** The relayed login is over: bytes pass through from here on. */
    void startForwarding(Relaying r) {
        RequestClock clock = new RequestClock(proxy.metrics(), null);
        state = new Forwarding(r.login(), r.backend(), r.server(), r.server().host(), new MessageScanner(true, clock, null),
                new MessageScanner(false, clock, proxy.metrics()), null);
        proxy.counters().established();
        proxy.metrics().login(System.nanoTime() - r.login().startNanos());
        loginTimeout.cancel(false);
        // From here on both sides read by themselves and stop only while the other side cannot take more
        // (writability). Requesting each read by hand would cost two epoll_ctl calls per read on epoll.
        Reading.flow(client, true);
        r.server().ready();
        log.debug("session started client={} user={} backend={} backend_user={}", clientAddress, logUser(),
                r.server().host() == null ? null : r.server().host().endpoint(), r.backend().user());
    }

    /** Hands out pgmux's own cancel key for the server's, replacing one handed out before. */
    CancelRegistry.Entry swapCancelKey(CancelRegistry.Target target, int secretLength) {
        proxy.cancels().remove(cancelKey);
        cancelKey = proxy.cancels().register(target, secretLength);
        return cancelKey;
    }

    SessionState state() {
        return state;
    }

    /** No request in flight, outside a transaction, and both streams between two messages. */
    private boolean idle() {
        return state instanceof Forwarding f && f.fromClient().atBoundary() && f.fromServer().atBoundary()
                && f.fromClient().syncPoints() == f.fromServer().syncPoints() && f.fromServer().transactionStatus() == 'I'
                && !f.fromClient().extendedSinceSync();
    }

    // ---------------------------------------------------------------- shutdown

    /** Graceful shutdown: end this session as soon as it is idle. Safe to call from any thread. */
    public void drain() {
        client.eventLoop().execute(() -> {
            drainRequested = true;
            switch (state) {
                case Forwarding f -> {
                    if (drainDue()) {
                        terminate();
                    }
                }
                case Pooling p -> {
                    if (drainDue()) {
                        terminate();
                    }
                }
                case SessionState.Console c -> terminate();
                case Closed c -> {
                }
                default -> {
                    // Still logging in (a hidden user's exchange ends on its own, with 28P01): it goes on, and ends at
                    // its first idle moment after a request of its own.
                }
            }
        });
    }

    /** Ends the session now with FATAL 57P01, placed between two messages if the stream allows it. */
    public void terminate() {
        if (!client.eventLoop().inEventLoop()) {
            client.eventLoop().execute(this::terminate);
            return;
        }
        if (state instanceof Forwarding f) {
            if (f.fromClient().atBoundary() && f.pooled() == null) {
                f.server().terminate();
            }
            if (!f.fromServer().atBoundary()) {
                close("terminated by shutdown");
                return;
            }
        }
        if (state instanceof Pooling p && !p.tx().betweenServerMessages()) {
            close("terminated by shutdown");
            return;
        }
        fail(ErrorResponse.fatal(SqlState.ADMIN_SHUTDOWN, "terminating connection due to administrator command"));
    }

    // ---------------------------------------------------------------- ending

    private void onLoginTimeout() {
        switch (state) {
            case Startup s -> close("startup timeout"); // PostgreSQL closes silently here too
            case Forwarding f -> {
            }
            case Pooling p -> {
            }
            case WaitingForServer w -> {
            }
            case SessionState.Console c -> {
            }
            case Closed c -> {
            }
            default -> {
                logLoginFailure("login timeout");
                fail(ErrorResponse.fatal(SqlState.QUERY_CANCELED, "canceling authentication due to timeout"));
            }
        }
    }

    /** Sends a FATAL error to the client, then closes both connections. */
    void fail(ErrorResponse error) {
        fail(error, Map.of());
    }

    /** As {@link #fail(ErrorResponse)}, with more fields in the error. */
    void fail(ErrorResponse error, Map<Character, String> more) {
        if (state instanceof Closed) {
            return;
        }
        if (!(state instanceof Forwarding) && !(state instanceof Pooling)) {
            proxy.counters().rejected();
        }
        proxy.metrics().error(error.sqlState());
        client.writeAndFlush(error.encode(client.alloc(), more)).addListener(ChannelFutureListener.CLOSE);
        finish(error.message());
    }

    /** Flushes what is pending to the client, then closes both connections. */
    void close(String reason) {
        if (state instanceof Closed) {
            return;
        }
        if (client.isActive()) { // else closed already (a client that sent Terminate and left): nothing to flush
            client.writeAndFlush(io.netty.buffer.Unpooled.EMPTY_BUFFER).addListener(ChannelFutureListener.CLOSE);
        }
        finish(reason);
    }

    private void finish(String reason) {
        SessionState last = state;
        state = new Closed(reason);
        switch (last) {
            case Startup s -> s.startup().release();
            case Routing r -> r.pending().release();
            case Forwarding f when f.pooled() != null -> {
                returnPooled(f);
                f.pooled().pool().leave();
            }
            case SessionState.WithServer w -> w.server().close(reason);
            case WaitingForServer w -> {
                w.waiter().leave();
                w.waiter().pool().cancel(w.waiter());
                w.waiter().pool().leave();
                w.pending().release();
            }
            case Pooling p -> p.tx().end();
            case Hidden h -> h.exchange().release();
            case Authenticating a -> a.exchange().release();
            case SessionState.Console c -> c.console().release();
            case SessionState.Held h -> {
                h.pending().release();
                proxy.pools().holds().forget(h.resume());
            }
            case Closed c -> {
                return;
            }
        }
        loginTimeout.cancel(false);
        proxy.cancels().remove(cancelKey);
        proxy.sessions().remove(this);
        if (counted) {
            counted = false;
            proxy.clients().closed(clientAddress == null ? null : clientAddress.getAddress());
        }
        if (last instanceof Pooling p) {
            log.info("connection closed client={} user={} pool={} duration_ms={} bytes_in={} bytes_out={} reason=\"{}\"",
                    clientAddress, p.login().logUser(), p.waiter().pool().name(),
                    TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - startNanos), bytesFromClient, bytesFromServer,
                    reason);
        } else if (last instanceof Forwarding f) {
            log.info("connection closed client={} user={} backend={} duration_ms={} bytes_in={} bytes_out={} reason=\"{}\"",
                    clientAddress, f.login().logUser(), f.host().endpoint(),
                    TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - startNanos), bytesFromClient, bytesFromServer,
                    reason);
        } else {
            log.debug("connection closed client={} phase={} reason=\"{}\"", clientAddress,
                    last.getClass().getSimpleName(), reason);
        }
    }

    void logLoginFailure(String why) {
        LOGIN_FAILURES.log(log, clientAddress, logUser(), why);
    }

    /** The client's user name for logs (escaped), or null before its startup message. */
    String logUser() {
        return switch (state) {
            case SessionState.LoggedIn l -> l.login().logUser();
            case Startup s -> s.startup().logUser();
            case Closed c -> null;
        };
    }
}
