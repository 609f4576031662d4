package dev.pgmux.session;

import dev.pgmux.BackendConfig;
import dev.pgmux.Limits;
import dev.pgmux.RouteRequest;
import dev.pgmux.Router;
import dev.pgmux.RoutingException;
import dev.pgmux.SslMode;
import dev.pgmux.cancel.CancelRegistry;
import dev.pgmux.protocol.BackendMessages;
import dev.pgmux.protocol.ErrorResponse;
import dev.pgmux.protocol.ProtocolException;
import dev.pgmux.protocol.SqlState;
import dev.pgmux.protocol.StartupPacket;
import dev.pgmux.protocol.StartupPacket.CancelRequest;
import dev.pgmux.protocol.StartupPacket.GssEncRequest;
import dev.pgmux.protocol.StartupPacket.PeerCancelRequest;
import dev.pgmux.protocol.StartupPacket.SslRequest;
import dev.pgmux.protocol.StartupPacket.StartupMessage;
import dev.pgmux.tls.ServerTls;
import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelOption;
import io.netty.handler.codec.ByteToMessageDecoder;
import io.netty.handler.codec.DecoderException;
import io.netty.handler.ssl.SniHandler;
import io.netty.handler.ssl.SslHandler;
import io.netty.util.concurrent.ScheduledFuture;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One client connection and its backend connection, as a state machine:
 *
 * <pre>
 * accept ─► Startup ──► Routing ──► Connecting ──► Authenticating ──► Forwarding ──► Closed
 *             │ SSLRequest → 'S' + TLS (or 'N')      (backend TLS,      (relay; look     (raw bytes both
 *             │ GSSENCRequest → 'N'                   startup sent)      at R, K, v, E, Z) ways, backpressure)
 *             │ 0x16 first → direct TLS (ALPN "postgresql")
 *             │ CancelRequest → forwarded → Closed
 *             └ malformed → FATAL ErrorResponse → Closed
 *
 * Routing, no route, hide_unknown_users on ─► MockAuthenticating (a SCRAM exchange) ─► Closed with 28P01
 * </pre>
 *
 * All methods run on the client channel's event loop; the backend channel is registered on the same loop.
 * Until Forwarding, each read is requested by hand (AUTO_READ off); from then on both sides read by themselves
 * and a side is paused only while the other cannot take more (writability), so a slow client slows its backend
 * instead of filling pgmux's memory. A backend with several hosts is tried host by host in Connecting and, until
 * the client has seen an authentication request, in Authenticating.
 */
public final class Session {
    private static final Logger log = LoggerFactory.getLogger(Session.class);
    /** Cap for one message during authentication (PostgreSQL caps auth tokens far lower). */
    private static final int MAX_AUTH_MESSAGE = 1 << 20;
    private static final LoginFailureLog LOGIN_FAILURES = new LoginFailureLog(10);

    /** The phases of the connection. */
    sealed interface State {
    }

    /**
     * Reading startup packets.
     *
     * @param tls       TLS is established (or being established) on the client connection
     * @param gssDone   a GSSENCRequest was answered
     * @param direct    TLS came without SSLRequest (PostgreSQL 17 direct SSL)
     * @param sawPacket at least one packet was read (direct TLS is only possible before the first)
     * @param sslDone   an SSLRequest was answered (PostgreSQL takes one per connection)
     */
    record Startup(boolean tls, boolean gssDone, boolean direct, boolean sawPacket, boolean sslDone) implements State {
    }

    /** Waiting for the router. */
    record Routing() implements State {
    }

    /** Connecting to the backend, including its TLS negotiation. */
    record Connecting(boolean awaitingSslResponse) implements State {
    }

    /** Startup sent to the backend; relaying authentication until the first ReadyForQuery. */
    record Authenticating() implements State {
    }

    /** Relaying bytes both ways. */
    record Forwarding() implements State {
    }

    /** No route, and unknown users are hidden: the failing SCRAM exchange PostgreSQL holds with unknown users. */
    record MockAuthenticating() implements State {
    }

    record Closed(String reason) implements State {
    }

    private final ProxyContext proxy;
    private final Channel client;
    private final long startNanos = System.nanoTime();
    private State state = new Startup(false, false, false, false, false);
    private InetSocketAddress clientAddress;
    private boolean counted;
    private String limitError;
    private ScheduledFuture<?> loginTimeout;
    private ScheduledFuture<?> backendTimeout;
    private ByteBuf clientIn;
    private ByteBuf backendIn;
    private ByteBuf pendingToBackend;
    private MockScram mockScram;
    private ByteBuf mockIn;
    /** A mock answer is on its way (delayed like a server's): read nothing more until it is out. */
    private boolean mockAnswerPending;
    /** When routing began: real logins and hidden unknown users are timed from the same point. */
    private long loginStartNanos;
    private long authSentNanos;
    /** The code of the last authentication request the backend sent (10 SASL, 11 SASL continue, ...). */
    private int lastAuthCode = -1;
    /** Client SASL messages the mock exchange has answered. */
    private int mockAnswers;

    private StartupMessage startup;
    private StartupMessage toBackend;
    private String sniHost;
    private int protocolMinor;
    private boolean negotiationPending;
    private BackendConfig backendConfig;
    /** The backend's hosts in the order to try them, their addresses (null: unknown host), the one in use. */
    private List<BackendConfig.Endpoint> hosts;
    private List<InetSocketAddress> hostAddresses;
    private int hostIndex;
    private BackendConfig.Endpoint endpoint;
    private InetSocketAddress backendAddress;
    /** The client has seen the server's authentication request: from here on the session cannot change host. */
    private boolean authRequestRelayed;
    private boolean negotiationSent;
    private String inHotStandby;
    private String defaultReadOnly;
    private Channel backend;
    private boolean renamed;
    private boolean backendErrorRelayed;
    private CancelRegistry.Entry cancelKey;
    private CancelRegistry.Target backendKey;

    private MessageScanner fromClient;
    private MessageScanner fromBackend;
    private boolean drainRequested;
    private long bytesFromClient;
    private long bytesFromBackend;

    Session(ProxyContext proxy, Channel client) {
        this.proxy = proxy;
        this.client = client;
    }

    // ---------------------------------------------------------------- client events

    void onClientActive() {
        clientAddress = client.remoteAddress() instanceof InetSocketAddress a ? a : null;
        InetAddress ip = clientAddress == null ? null : clientAddress.getAddress();
        int fromIp = proxy.opened(ip);
        counted = true;
        proxy.sessions().add(this);
        Limits limits = proxy.limits();
        if (limits.maxClientConnections() > 0 && proxy.currentConnections() > limits.maxClientConnections()) {
            limitError = "sorry, too many clients already";
        } else if (limits.maxConnectionsPerIp() > 0 && fromIp > limits.maxConnectionsPerIp()) {
            limitError = "sorry, too many connections from this client address";
        }
        loginTimeout = client.eventLoop().schedule(this::onLoginTimeout, limits.loginTimeout().toMillis(),
                TimeUnit.MILLISECONDS);
        client.read();
    }

    void onClientRead(ByteBuf in) {
        switch (state) {
            case Startup s -> onStartupBytes(s, in);
            case Routing r -> bufferForBackend(in);
            case Connecting c -> bufferForBackend(in);
            case Authenticating a -> {
                if (!authRequestRelayed) {
                    bufferForBackend(in.retainedDuplicate()); // for the next host, should this one fail
                }
                authSentNanos = System.nanoTime();
                toBackend(in);
            }
            case Forwarding f -> {
                fromClient.scan(in);
                toBackend(in);
            }
            case MockAuthenticating m -> onMockAuthBytes(in);
            case Closed c -> in.release();
        }
    }

    void onClientReadComplete() {
        switch (state) {
            case Startup s -> client.read();
            case Authenticating a -> {
                backend.flush();
                if (backend.isWritable()) {
                    client.read();
                }
            }
            case Forwarding f -> {
                backend.flush();
                if (!backend.isWritable()) {
                    client.config().setAutoRead(false); // until the backend drains, see onBackendWritabilityChanged
                }
            }
            case MockAuthenticating m -> {
                client.flush();
                if (!mockAnswerPending) {
                    client.read();
                }
            }
            default -> {
                // Routing/Connecting: read no more until the backend is there.
            }
        }
    }

    void onClientWritabilityChanged() {
        if (client.isWritable() && backend != null && backend.isActive()) {
            switch (state) {
                case Forwarding f -> backend.config().setAutoRead(true);
                case Authenticating a -> backend.read();
                default -> {
                }
            }
        }
    }

    void onClientSni(String hostname) {
        sniHost = hostname;
    }

    void onClientTlsHandshake(Throwable cause) {
        if (!(state instanceof Startup s)) {
            return;
        }
        if (cause != null) {
            log.debug("client TLS handshake failed client={} error={}", clientAddress, cause.toString());
            close("TLS handshake failed");
            return;
        }
        if (s.direct()) {
            SslHandler ssl = client.pipeline().get(SslHandler.class);
            if (ssl == null || !ServerTls.ALPN_POSTGRESQL.equals(ssl.applicationProtocol())) {
                fail(ErrorResponse.fatal(SqlState.PROTOCOL_VIOLATION,
                        "received direct SSL connection request without ALPN protocol negotiation extension"));
                return;
            }
        }
        client.read();
    }

    void onClientClosed() {
        if (state instanceof Closed) {
            return;
        }
        if (backend != null && backend.isActive()) {
            if (state instanceof Forwarding && !idle() && backendKey != null) {
                // A query is running for a client that is gone: ask the backend to stop it rather than let it
                // run to completion.
                CancelForwarder.forward(client.eventLoop(), proxy, backendKey);
            } else if (state instanceof Forwarding && fromClient.atBoundary()) {
                backend.write(BackendMessages.terminate(backend.alloc()));
            }
            backend.writeAndFlush(Unpooled.EMPTY_BUFFER).addListener(ChannelFutureListener.CLOSE);
        }
        finish("client closed");
    }

    void onClientException(Throwable cause) {
        // A dead peer, or bytes that are not TLS (the TLS handlers report them as DecoderException): the client's
        // doing, which it could repeat as often as it likes, so one debug line and no stack trace.
        if (cause instanceof IOException || cause instanceof DecoderException) {
            log.debug("client connection error client={} error={}", clientAddress, cause.toString());
        } else {
            log.warn("client connection error client={}", clientAddress, cause);
        }
        // The connection is unusable (reset, or a TLS stream that no longer decodes): end the session as for a
        // client that left, which also cancels a query it left running. A reset never reaches onClientClosed
        // first, and a backend busy in pg_sleep or a long scan would not notice its socket closing.
        onClientClosed();
        client.close();
    }

    // ---------------------------------------------------------------- startup

    private void onStartupBytes(Startup s, ByteBuf in) {
        if (!s.sawPacket() && !s.tls() && clientIn == null && in.isReadable() && in.getByte(in.readerIndex()) == 0x16) {
            startDirectTls(s, in);
            return;
        }
        clientIn = clientIn == null ? in : ByteToMessageDecoder.MERGE_CUMULATOR.cumulate(client.alloc(), clientIn, in);
        try {
            while (state instanceof Startup st && clientIn != null && clientIn.readableBytes() >= 4) {
                int length = StartupPacket.checkLength(clientIn.getInt(clientIn.readerIndex()));
                if (clientIn.readableBytes() < length) {
                    return;
                }
                ByteBuf packet = clientIn.readSlice(length).skipBytes(4);
                StartupPacket p = StartupPacket.decode(packet);
                state = new Startup(st.tls(), st.gssDone(), st.direct(), true, st.sslDone());
                onStartupPacket((Startup) state, p);
            }
        } catch (ProtocolException e) {
            fail(ErrorResponse.fatal(e.sqlState(), e.getMessage()));
        } finally {
            if (clientIn != null && !clientIn.isReadable()) {
                clientIn.release();
                clientIn = null;
            }
        }
    }

    private void onStartupPacket(Startup s, StartupPacket packet) throws ProtocolException {
        switch (packet) {
            case SslRequest r -> onSslRequest(s);
            case GssEncRequest r -> {
                if (s.gssDone()) {
                    throw unsupportedProtocol(StartupPacket.GSSENC_REQUEST_CODE);
                }
                // pgmux has no GSSAPI encryption: 'N', and the client goes on with SSLRequest or StartupMessage.
                state = new Startup(s.tls(), true, s.direct(), true, s.sslDone());
                client.writeAndFlush(Unpooled.wrappedBuffer(new byte[] {'N'}));
            }
            case CancelRequest r -> onCancelRequest(r);
            case PeerCancelRequest r -> cancelLocally(r.processId(), r.secret());
            case StartupMessage m -> onStartupMessage(s, m);
        }
    }

    private static ProtocolException unsupportedProtocol(int code) {
        return new ProtocolException(SqlState.FEATURE_NOT_SUPPORTED, "unsupported frontend protocol " + (code >>> 16)
                + "." + (code & 0xFFFF) + ": server supports 3.0 to 3." + StartupPacket.NEWEST_MINOR);
    }

    private void onSslRequest(Startup s) throws ProtocolException {
        if (s.sslDone()) {
            throw unsupportedProtocol(StartupPacket.SSL_REQUEST_CODE);
        }
        ServerTls tls = proxy.serverTls();
        if (tls == null) {
            state = new Startup(false, s.gssDone(), false, true, true);
            client.writeAndFlush(Unpooled.wrappedBuffer(new byte[] {'N'}));
            return;
        }
        // Bytes the client sent after SSLRequest, before our answer, would be taken as TLS or startup data that
        // no certificate protected (CVE-2021-23214): refuse them, as PostgreSQL does.
        if (clientIn.isReadable()) {
            throw new ProtocolException(SqlState.PROTOCOL_VIOLATION, "received unencrypted data after SSL request");
        }
        // 'S' goes out before the TLS handler is in the pipeline, so it is not encrypted.
        client.writeAndFlush(Unpooled.wrappedBuffer(new byte[] {'S'}));
        state = new Startup(true, s.gssDone(), false, true, true);
        client.pipeline().addFirst("tls", new SniHandler((String host) -> tls.context()));
        client.read();
    }

    private void startDirectTls(Startup s, ByteBuf in) {
        ServerTls tls = proxy.serverTls();
        if (tls == null) {
            in.release();
            close("direct TLS without TLS configured");
            return;
        }
        state = new Startup(true, s.gssDone(), true, true, true);
        client.pipeline().addFirst("tls", new SniHandler((String host) -> tls.context()));
        client.pipeline().fireChannelRead(in);
    }

    private void onCancelRequest(CancelRequest r) {
        int self = proxy.cancels().instanceId();
        int owner = CancelRegistry.instanceOf(r.processId());
        if (self != 0 && owner != self) {
            // Another instance of the cluster handed out this key: the load balancer sent the cancel here.
            proxy.cancelReceived();
            InetSocketAddress peer = proxy.peer(owner);
            if (peer != null) {
                CancelForwarder.toPeer(client.eventLoop(), proxy, peer, r.processId(), r.secret());
            } else {
                log.debug("cancel request for unknown instance={} client={}", owner, clientAddress);
            }
            close("cancel request");
            return;
        }
        cancelLocally(r.processId(), r.secret());
    }

    private void cancelLocally(int processId, byte[] secret) {
        proxy.cancelReceived();
        CancelRegistry.Target target = proxy.cancels().lookup(processId, secret);
        if (target != null) {
            CancelForwarder.forward(client.eventLoop(), proxy, target);
        }
        // PostgreSQL answers a cancel request with nothing but a close, and unknown keys are dropped silently.
        close("cancel request");
    }

    private void onStartupMessage(Startup s, StartupMessage m) throws ProtocolException {
        startup = m;
        ServerTls tls = proxy.serverTls();
        if (tls != null && tls.required() && !s.tls()) {
            logLoginFailure("TLS required");
            fail(ErrorResponse.fatal(SqlState.INVALID_AUTHORIZATION_SPECIFICATION, "SSL connection is required",
                    "Connect with sslmode=require."));
            return;
        }
        if (limitError != null) {
            logLoginFailure("connection limit");
            fail(ErrorResponse.fatal(SqlState.TOO_MANY_CONNECTIONS, limitError));
            return;
        }
        if (proxy.draining()) {
            fail(ErrorResponse.fatal(SqlState.CANNOT_CONNECT_NOW, "the proxy is shutting down"));
            return;
        }
        protocolMinor = Math.min(m.minor(), StartupPacket.NEWEST_MINOR);
        negotiationPending = m.minor() > StartupPacket.NEWEST_MINOR || !m.protocolOptions().isEmpty();
        // Whatever the client sent after its startup packet waits for the backend.
        if (clientIn.isReadable()) {
            pendingToBackend = clientIn.retainedSlice();
            clientIn.skipBytes(clientIn.readableBytes());
        }
        state = new Routing();
        route();
    }

    // ---------------------------------------------------------------- routing

    private record Routed(BackendConfig backend, List<BackendConfig.Endpoint> hosts,
                          List<InetSocketAddress> addresses) {
    }

    private void route() {
        loginStartNanos = System.nanoTime();
        RouteRequest request = new RouteRequest(startup.user(), startup.database(),
                startup.parameters().get("application_name"), startup.parameters(), clientAddress, sniHost,
                client.pipeline().get(SslHandler.class) != null);
        Router router = proxy.router();
        var loop = client.eventLoop();
        CompletableFuture<BackendConfig> answer = new CompletableFuture<>();
        java.util.concurrent.Future<?> task;
        try {
            task = proxy.routerExecutor().submit(() -> {
                try {
                    answer.complete(callRouter(router, request));
                } catch (Throwable t) {
                    answer.completeExceptionally(t);
                }
            });
        } catch (RejectedExecutionException e) {
            fail(ErrorResponse.fatal(SqlState.CANNOT_CONNECT_NOW, "the proxy is shutting down"));
            return;
        }
        // On timeout the router's thread is interrupted, so that a router stuck in I/O does not keep a thread
        // per login that gave up on it.
        ScheduledFuture<?> timeout = loop.schedule(() -> {
            if (answer.completeExceptionally(new TimeoutException())) {
                task.cancel(true);
            }
        }, proxy.limits().routerTimeout().toMillis(), TimeUnit.MILLISECONDS);
        answer.whenComplete((backend, error) -> timeout.cancel(false));
        // Then, outside the router's time: the hosts' order (role checks have their own deadline) and DNS.
        answer.thenApplyAsync(backend -> resolve(backend, proxy), proxy.routerExecutor())
                .whenComplete((routed, error) -> loop.execute(() -> onRouted(routed, error)));
    }

    private static BackendConfig callRouter(Router router, RouteRequest request) {
        try {
            BackendConfig backend = router.route(request);
            if (backend == null) {
                throw new CompletionException(RoutingException.noRoute(request.user()));
            }
            return backend;
        } catch (RoutingException e) {
            throw new CompletionException(e);
        }
    }

    /**
     * Orders the backend's hosts and resolves them here, on the router's virtual thread: a DNS lookup must not block
     * an event loop. A host that does not resolve is kept (as null) and passed over when its turn comes.
     */
    private static Routed resolve(BackendConfig backend, ProxyContext proxy) {
        List<BackendConfig.Endpoint> hosts = proxy.hostSelector().order(backend, proxy.roleCheck(),
                proxy.limits().backendConnectTimeout());
        List<InetSocketAddress> addresses = new ArrayList<>(hosts.size());
        boolean any = false;
        for (BackendConfig.Endpoint h : hosts) {
            try {
                addresses.add(new InetSocketAddress(InetAddress.getByName(h.host()), h.port()));
                any = true;
            } catch (UnknownHostException e) {
                addresses.add(null);
            }
        }
        if (!any) {
            throw new CompletionException(new UnknownHostException("unknown backend host " + backend.address()));
        }
        return new Routed(backend, hosts, addresses);
    }

    private void onRouted(Routed routed, Throwable error) {
        if (!(state instanceof Routing)) {
            return; // the client left meanwhile
        }
        if (error != null) {
            Throwable cause = error instanceof CompletionException && error.getCause() != null ? error.getCause() : error;
            switch (cause) {
                case RoutingException e when proxy.hideUnknownUsers() && RoutingException.NO_ROUTE.equals(e.sqlState()) ->
                        startMockAuthentication();
                case RoutingException e -> {
                    logLoginFailure("router refused sqlstate=" + e.sqlState());
                    fail(ErrorResponse.fatal(e.sqlState(), e.getMessage()));
                }
                case TimeoutException e -> {
                    log.warn("router timed out client={} user={} timeout_ms={}", clientAddress, logUser(),
                            proxy.limits().routerTimeout().toMillis());
                    fail(ErrorResponse.fatal(SqlState.CONNECTION_FAILURE, "could not route the connection: timed out"));
                }
                case UnknownHostException e -> {
                    log.warn("backend host unknown user={} error={}", logUser(), e.getMessage());
                    fail(ErrorResponse.fatal(SqlState.CONNECTION_FAILURE, "could not connect to the backend server"));
                }
                case RejectedExecutionException e ->
                        fail(ErrorResponse.fatal(SqlState.CANNOT_CONNECT_NOW, "the proxy is shutting down"));
                default -> {
                    log.error("router failed user={}", logUser(), cause);
                    fail(ErrorResponse.fatal(SqlState.CONNECTION_FAILURE, "could not route the connection"));
                }
            }
            return;
        }
        backendConfig = routed.backend();
        hosts = routed.hosts();
        hostAddresses = routed.addresses();
        hostIndex = -1;
        renamed = backendConfig.user() != null && !backendConfig.user().equals(startup.user());
        toBackend = backendStartup();
        // A client packet just under the cap can grow past it when rewritten (user, database, route parameters,
        // invalid UTF-8 replaced); the backend would close without a word (PostgreSQL's MAX_STARTUP_PACKET_LENGTH).
        if (encodedLength(toBackend) > StartupPacket.MAX_LENGTH) {
            logLoginFailure("startup packet too long for the backend");
            fail(ErrorResponse.fatal(SqlState.PROTOCOL_VIOLATION, "invalid length of startup packet",
                    "The startup packet is longer than " + StartupPacket.MAX_LENGTH
                            + " bytes once rewritten for the server."));
            return;
        }
        connectNextHost(null);
    }

    // ---------------------------------------------------------------- unknown users, hidden

    /**
     * Instead of "no route", the exchange PostgreSQL holds with a user it does not know: a SCRAM challenge, then
     * 28P01 for whatever proof comes back. The client cannot tell a user without a route from a wrong password.
     */
    private void startMockAuthentication() {
        logLoginFailure("no route (answered as a failed password)");
        state = new MockAuthenticating();
        mockScram = new MockScram(proxy.mockSecret(), startup.user());
        if (negotiationPending) {
            // as a server would, before its authentication request
            negotiationPending = false;
            negotiationSent = true;
            client.write(BackendMessages.negotiateProtocolVersion(client.alloc(), protocolMinor,
                    startup.protocolOptions()));
        }
        ByteBuf pending = pendingToBackend;
        pendingToBackend = null;
        if (pending != null) {
            mockIn = pending; // read once the first request is out
        }
        // A real login connects to a server first: answer after about as long, so that timing tells nothing.
        mockAnswerPending = true;
        afterMockDelay(proxy.loginLatency(), System.nanoTime() - loginStartNanos, () -> {
            client.write(mockScram.start(client.alloc()));
            mockAnswerSent();
        });
    }

    /**
     * Runs {@code send} about {@code meanNanos} (±25 %) after the step began, {@code spentNanos} ago, if the session
     * is still in the mock exchange.
     */
    private void afterMockDelay(long meanNanos, long spentNanos, Runnable send) {
        long delay = meanNanos * 3 / 4 + java.util.concurrent.ThreadLocalRandom.current().nextLong(meanNanos / 2 + 1);
        client.eventLoop().schedule(() -> {
            if (state instanceof MockAuthenticating) {
                try {
                    send.run();
                } catch (RuntimeException e) {
                    log.error("mock authentication failed client={}", clientAddress, e);
                    fail(mockScram.passwordFailed());
                }
            }
        }, Math.max(0, delay - spentNanos), TimeUnit.NANOSECONDS);
    }

    /** Answers the client's next SASL step (or ends it) after about as long as servers take for that step. */
    private void afterMockStep(Runnable send) {
        mockAnswerPending = true;
        afterMockDelay(proxy.authRoundTrip(Math.min(mockAnswers++, 1)), 0, send);
    }

    private void mockAnswerSent() {
        mockAnswerPending = false;
        client.flush();
        if (mockIn != null && mockIn.isReadable()) {
            ByteBuf buffered = mockIn;
            mockIn = null;
            onMockAuthBytes(buffered);
        }
        if (state instanceof MockAuthenticating && !mockAnswerPending) {
            client.read();
        }
    }

    /** Ends a hidden unknown user's login; a 28P01 carries the source location a backend's 28P01 had. */
    private void failWith(ErrorResponse error) {
        fail(error, SqlState.INVALID_PASSWORD.equals(error.sqlState()) ? proxy.passwordFailureLocation() : Map.of());
    }

    private static final int AUTH_SASL_CONTINUE = 11;

    /** PostgreSQL's limit for one authentication message (PG_MAX_AUTH_TOKEN_LENGTH). */
    private static final int MAX_SASL_MESSAGE = 65535;

    private void onMockAuthBytes(ByteBuf in) {
        mockIn = mockIn == null ? in : ByteToMessageDecoder.MERGE_CUMULATOR.cumulate(client.alloc(), mockIn, in);
        try {
            while (state instanceof MockAuthenticating && !mockAnswerPending && mockIn.isReadable()) {
                int type = mockIn.getUnsignedByte(mockIn.readerIndex());
                if (type != 'p') {
                    // PostgreSQL looks at the type before anything else (Terminate included)
                    ErrorResponse e = ErrorResponse.fatal(SqlState.PROTOCOL_VIOLATION,
                            "expected SASL response, got message type " + type);
                    afterMockStep(() -> fail(e));
                    return;
                }
                if (mockIn.readableBytes() < 5) {
                    break;
                }
                int length = mockIn.getInt(mockIn.readerIndex() + 1);
                if (length < 4 || length - 4 > MAX_SASL_MESSAGE) {
                    afterMockStep(() -> failWith(mockScram.passwordFailed())); // as PostgreSQL ends such a login
                    return;
                }
                if (mockIn.readableBytes() < length + 1) {
                    break;
                }
                ByteBuf body = mockIn.retainedSlice(mockIn.readerIndex() + 5, length - 4);
                mockIn.skipBytes(length + 1);
                MockScram.Step step;
                try {
                    step = mockScram.onMessage(body);
                } finally {
                    body.release();
                }
                switch (step) {
                    case MockScram.Answer a -> afterMockStep(() -> {
                        client.write(a.encode(client.alloc()));
                        mockAnswerSent();
                    });
                    case MockScram.Failure f -> afterMockStep(() -> failWith(f.error()));
                }
            }
        } finally {
            if (mockIn != null && (state instanceof Closed || !mockIn.isReadable())) {
                mockIn.release();
                mockIn = null;
            }
        }
    }

    // ---------------------------------------------------------------- connecting

    /**
     * Moves on to the backend's next host, or, when none is left, fails the session. Called first with no error,
     * then after each failure of a host before the client took part in its authentication.
     *
     * @param why what went wrong with the previous host, or null for the first
     */
    private void connectNextHost(String why) {
        if (why != null) {
            proxy.backendConnectFailed();
            log.warn("backend connection failed client={} user={} backend={} error={}{}", clientAddress, logUser(),
                    endpoint, why, hostIndex + 1 < hosts.size() ? "; trying the next host" : "");
        }
        if (backend != null) {
            Channel previous = backend;
            backend = null;
            previous.close();
        }
        if (backendTimeout != null) {
            backendTimeout.cancel(false);
            backendTimeout = null;
        }
        if (backendIn != null) {
            backendIn.release();
            backendIn = null;
        }
        inHotStandby = defaultReadOnly = null;
        if (why != null) {
            toBackend = backendStartup(); // at the protocol version negotiated with the client so far
        }
        while (++hostIndex < hosts.size()) {
            endpoint = hosts.get(hostIndex);
            backendAddress = hostAddresses.get(hostIndex);
            if (backendAddress != null) {
                connect();
                return;
            }
            proxy.backendConnectFailed();
            log.warn("backend host unknown client={} user={} backend={}", clientAddress, logUser(), endpoint);
        }
        fail(ErrorResponse.fatal(SqlState.CONNECTION_FAILURE, "could not connect to the backend server"));
    }

    /** Whether a host after the current one has an address to try. */
    private boolean laterHostResolved() {
        for (int i = hostIndex + 1; i < hosts.size(); i++) {
            if (hostAddresses.get(i) != null) {
                return true;
            }
        }
        return false;
    }

    private void connect() {
        state = new Connecting(false);
        ChannelFuture registered = new Bootstrap()
                .group(client.eventLoop())
                .channel(proxy.transport().socketChannelClass())
                .option(ChannelOption.AUTO_READ, false)
                .option(ChannelOption.TCP_NODELAY, true)
                .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, (int) proxy.limits().backendConnectTimeout().toMillis())
                .handler(new BackendHandler(this))
                .register();
        // Known as this session's backend before any of its events can fire.
        Channel channel = registered.channel();
        backend = channel;
        // A backend that accepts the connection but never answers (blackholed, overloaded) must fail within the
        // connect timeout too, not only at the login timeout.
        backendTimeout = client.eventLoop().schedule(() -> {
            if (backend == channel && (state instanceof Connecting || state instanceof Authenticating)) {
                backendFailed("backend did not answer within " + proxy.limits().backendConnectTimeout().toMillis() + " ms");
            }
        }, proxy.limits().backendConnectTimeout().toMillis(), TimeUnit.MILLISECONDS);
        registered.addListener((ChannelFutureListener) reg -> {
            if (!reg.isSuccess()) {
                if (backend == channel && state instanceof Connecting) {
                    backendFailed(reg.cause().toString());
                }
                return;
            }
            channel.connect(backendAddress).addListener((ChannelFutureListener) done -> {
                if (!done.isSuccess() && backend == channel && state instanceof Connecting) {
                    backendFailed(done.cause().toString());
                }
            });
        });
    }

    boolean isBackend(Channel channel) {
        return channel == backend;
    }

    void onBackendActive() {
        if (!(state instanceof Connecting)) {
            backend.close();
            return;
        }
        if (backendConfig.sslMode() == SslMode.DISABLE) {
            sendStartup();
        } else {
            state = new Connecting(true);
            backend.writeAndFlush(BackendMessages.sslRequest(backend.alloc()));
            backend.read();
        }
    }

    private void onSslResponse(ByteBuf in) {
        byte answer = in.readByte();
        boolean leftover = in.isReadable();
        in.release();
        if (leftover) {
            // Bytes after the answer were not protected by TLS (CVE-2021-23222): refuse them.
            backendFailed("backend sent unencrypted data after its SSL response");
            return;
        }
        if (answer == 'S') {
            state = new Connecting(false);
            try {
                SslHandler ssl = proxy.backendTls().newHandler(backendConfig, endpoint, backend.alloc());
                ssl.setHandshakeTimeoutMillis(proxy.limits().backendConnectTimeout().toMillis());
                backend.pipeline().addFirst("tls", ssl);
            } catch (Exception e) {
                backendFailed("backend TLS setup failed: " + e.getMessage());
                return;
            }
            backend.read();
        } else if (answer == 'N' && backendConfig.sslMode() == SslMode.PREFER) {
            sendStartup();
        } else {
            backendFailed("backend does not accept TLS but sslmode=" + backendConfig.sslMode().libpqName());
        }
    }

    void onBackendTlsHandshake(Throwable cause) {
        if (!(state instanceof Connecting)) {
            return;
        }
        if (cause != null) {
            backendFailed("backend TLS handshake failed: " + rootMessage(cause));
            return;
        }
        sendStartup();
    }

    /**
     * The backend connection failed. Before the client saw an authentication request the session moves on to the
     * next host; after, it ends.
     */
    private void backendFailed(String why) {
        if (!authRequestRelayed && !backendErrorRelayed) {
            connectNextHost(why);
            return;
        }
        proxy.backendConnectFailed();
        log.warn("backend connection failed client={} user={} backend={} error={}", clientAddress, logUser(),
                endpoint, why);
        fail(ErrorResponse.fatal(SqlState.CONNECTION_FAILURE, "could not connect to the backend server"));
    }

    private StartupMessage backendStartup() {
        Map<String, String> params = new LinkedHashMap<>();
        params.put("user", backendConfig.user() != null ? backendConfig.user() : startup.user());
        if (backendConfig.database() != null) {
            params.put("database", backendConfig.database());
        } else {
            // The database the client asked for, or, as PostgreSQL would default it, the client's user name: the
            // one the router saw, not the rewritten user's name the backend would default to.
            params.put("database", startup.database());
        }
        startup.parameters().forEach(params::putIfAbsent);
        params.putAll(backendConfig.parameters());
        // _pq_. options are not passed on: pgmux does not know what they would change in the stream it relays.
        return new StartupMessage(3, protocolMinor, params, List.of());
    }

    private static int encodedLength(StartupMessage m) {
        int length = 4 + 4 + 1;
        for (Map.Entry<String, String> p : m.parameters().entrySet()) {
            length += ByteBufUtil.utf8Bytes(p.getKey()) + 1 + ByteBufUtil.utf8Bytes(p.getValue()) + 1;
        }
        return length;
    }

    private void sendStartup() {
        backend.write(toBackend.encode(backend.alloc()));
        if (pendingToBackend != null) {
            // Kept until the client is committed to this host: another host would need the bytes again.
            backend.write(pendingToBackend.retainedDuplicate());
        }
        backend.flush();
        state = new Authenticating();
        backend.read();
        client.read();
    }

    private void bufferForBackend(ByteBuf in) {
        pendingToBackend = pendingToBackend == null ? in
                : ByteToMessageDecoder.MERGE_CUMULATOR.cumulate(client.alloc(), pendingToBackend, in);
    }

    // ---------------------------------------------------------------- backend events

    void onBackendRead(ByteBuf in) {
        // The per-host timer covers connect, TLS and the server's first answer to the startup message.
        if (backendTimeout != null && state instanceof Authenticating) {
            backendTimeout.cancel(false);
            backendTimeout = null;
        }
        switch (state) {
            case Connecting c when c.awaitingSslResponse() -> onSslResponse(in);
            case Authenticating a -> onAuthBytes(in);
            case Forwarding f -> toClient(in);
            default -> in.release();
        }
    }

    void onBackendReadComplete() {
        switch (state) {
            case Forwarding f -> {
                client.flush();
                if (drainRequested && idle()) {
                    terminate();
                } else if (!client.isWritable()) {
                    backend.config().setAutoRead(false); // until the client drains, see onClientWritabilityChanged
                }
            }
            case Authenticating a -> {
                client.flush();
                if (client.isWritable()) {
                    backend.read();
                }
            }
            case Connecting c -> backend.read();
            default -> {
            }
        }
    }

    void onBackendWritabilityChanged() {
        if (backend.isWritable()) {
            switch (state) {
                case Forwarding f -> client.config().setAutoRead(true);
                case Authenticating a -> client.read();
                default -> {
                }
            }
        }
    }

    void onBackendClosed() {
        switch (state) {
            case Forwarding f -> close("backend closed");
            case Authenticating a when backendErrorRelayed -> close("authentication failed");
            case Authenticating a when !authRequestRelayed -> backendFailed("backend closed the connection");
            case Authenticating a -> {
                log.warn("backend closed during authentication client={} user={} backend={}", clientAddress,
                        logUser(), endpoint);
                fail(ErrorResponse.fatal(SqlState.CONNECTION_FAILURE,
                        "the backend server closed the connection during authentication"));
            }
            case Connecting c -> backendFailed("backend closed the connection");
            default -> {
            }
        }
    }

    void onBackendException(Throwable cause) {
        log.debug("backend connection error client={} backend={} error={}", clientAddress, endpoint,
                cause.toString());
        if (state instanceof Connecting) {
            backendFailed(rootMessage(cause));
        } else {
            backend.close();
        }
    }

    // ---------------------------------------------------------------- authentication relay

    private void onAuthBytes(ByteBuf in) {
        backendIn = backendIn == null ? in : ByteToMessageDecoder.MERGE_CUMULATOR.cumulate(backend.alloc(), backendIn, in);
        try {
            while (state instanceof Authenticating && backendIn != null && backendIn.readableBytes() >= 5) {
                int length = backendIn.getInt(backendIn.readerIndex() + 1);
                if (length < 4 || length > MAX_AUTH_MESSAGE) {
                    throw new ProtocolException(SqlState.PROTOCOL_VIOLATION, "invalid message length from backend");
                }
                if (backendIn.readableBytes() < length + 1) {
                    break;
                }
                ByteBuf frame = backendIn.readRetainedSlice(length + 1);
                onAuthMessage(frame);
            }
        } catch (ProtocolException e) {
            backendFailed(e.getMessage());
        } finally {
            if (state instanceof Forwarding && backendIn != null && backendIn.isReadable()) {
                ByteBuf rest = backendIn;
                backendIn = null;
                toClient(rest);
            } else if (backendIn != null && !backendIn.isReadable()) {
                backendIn.release();
                backendIn = null;
            }
        }
    }

    /** Looks at one backend message during authentication and relays it (or its rewrite) in order. */
    private void onAuthMessage(ByteBuf frame) throws ProtocolException {
        byte type = frame.getByte(frame.readerIndex());
        if (type == BackendMessages.AUTHENTICATION && !authRequestRelayed) {
            proxy.recordLoginLatency(System.nanoTime() - loginStartNanos);
        } else if (authSentNanos != 0 && (lastAuthCode == BackendMessages.AUTH_SASL || lastAuthCode == AUTH_SASL_CONTINUE)) {
            // only SCRAM steps: a password check (md5, cleartext, maybe LDAP behind it) times something else
            proxy.recordAuthRoundTrip(lastAuthCode == BackendMessages.AUTH_SASL ? 0 : 1, System.nanoTime() - authSentNanos);
        }
        authSentNanos = 0;
        if (type == BackendMessages.AUTHENTICATION && frame.readableBytes() >= 9) {
            lastAuthCode = frame.getInt(frame.readerIndex() + 5);
        }
        if (type == BackendMessages.ERROR_RESPONSE && !authRequestRelayed && laterHostResolved()) {
            // Refused before asking for a password (starting up, too many clients, no pg_hba.conf entry): the
            // client has not taken part yet, so another host can still serve it.
            String code = ErrorResponse.sqlStateOf(frame.slice(frame.readerIndex() + 5, frame.readableBytes() - 5));
            frame.release();
            connectNextHost("server refused the connection sqlstate=" + code);
            return;
        }
        if (negotiationPending) {
            negotiationPending = false;
            if (type != BackendMessages.NEGOTIATE_PROTOCOL_VERSION && !negotiationSent) {
                negotiationSent = true;
                client.write(BackendMessages.negotiateProtocolVersion(client.alloc(), protocolMinor,
                        startup.protocolOptions()));
            }
        }
        switch (type) {
            case BackendMessages.AUTHENTICATION -> onAuthRequest(frame);
            case BackendMessages.BACKEND_KEY_DATA -> {
                int pid = frame.getInt(frame.readerIndex() + 5);
                byte[] secret = new byte[frame.readableBytes() - 9];
                frame.getBytes(frame.readerIndex() + 9, secret);
                frame.release();
                proxy.cancels().remove(cancelKey);
                backendKey = new CancelRegistry.Target(backendAddress, pid, secret);
                cancelKey = proxy.cancels().register(backendKey,
                        protocolMinor >= 2 ? CancelRegistry.LONG_SECRET : 4);
                client.write(BackendMessages.backendKeyData(client.alloc(), cancelKey.processId(), cancelKey.secret()));
            }
            case BackendMessages.NEGOTIATE_PROTOCOL_VERSION -> {
                BackendMessages.ProtocolNegotiation n;
                try {
                    n = BackendMessages.decodeNegotiateProtocolVersion(frame);
                } finally {
                    frame.release();
                }
                protocolMinor = Math.min(protocolMinor, n.newestMinor());
                List<String> unrecognized = new ArrayList<>(startup.protocolOptions());
                n.unrecognized().stream().filter(o -> !unrecognized.contains(o)).forEach(unrecognized::add);
                if ((protocolMinor < startup.minor() || !unrecognized.isEmpty()) && !negotiationSent) {
                    negotiationSent = true;
                    client.write(BackendMessages.negotiateProtocolVersion(client.alloc(), protocolMinor, unrecognized));
                }
            }
            case BackendMessages.ERROR_RESPONSE -> {
                backendErrorRelayed = true;
                ByteBuf fields = frame.slice(frame.readerIndex() + 5, frame.readableBytes() - 5);
                String code = ErrorResponse.sqlStateOf(fields);
                if (SqlState.INVALID_PASSWORD.equals(code) && proxy.hideUnknownUsers()) {
                    rememberPasswordFailureLocation(fields);
                }
                logLoginFailure("backend refused login sqlstate=" + code);
                client.write(frame);
            }
            case BackendMessages.PARAMETER_STATUS -> {
                noteParameter(frame);
                client.write(frame);
            }
            case BackendMessages.READY_FOR_QUERY -> {
                if (!roleAccepted()) {
                    frame.release();
                    return;
                }
                client.write(frame);
                startForwarding();
            }
            default -> client.write(frame);
        }
    }

    /** Keeps F, L and R of a backend's 28P01, so that hidden unknown users get the same fields. */
    private void rememberPasswordFailureLocation(ByteBuf fields) {
        Map<Character, String> location = new LinkedHashMap<>();
        for (char f : new char[] {'F', 'L', 'R'}) {
            String value = ErrorResponse.fieldOf(fields, f);
            if (value != null && value.length() <= 64) {
                location.put(f, value);
            }
        }
        if (location.size() == 3 && !location.equals(proxy.passwordFailureLocation())) {
            proxy.passwordFailureLocation(java.util.Collections.unmodifiableMap(location));
        }
    }

    private static boolean setsReadOnly(Map<String, String> parameters) {
        return parameters.containsKey("default_transaction_read_only") || parameters.containsKey("options")
                || parameters.containsKey("transaction_read_only");
    }

    private void noteParameter(ByteBuf frame) {
        int start = frame.readerIndex() + 5;
        int nameEnd = frame.indexOf(start, frame.writerIndex(), (byte) 0);
        if (nameEnd < 0) {
            return;
        }
        int valueEnd = frame.indexOf(nameEnd + 1, frame.writerIndex(), (byte) 0);
        if (valueEnd < 0) {
            return;
        }
        String name = frame.toString(start, nameEnd - start, StandardCharsets.UTF_8);
        if (name.equals("in_hot_standby") || name.equals("default_transaction_read_only")) {
            String value = frame.toString(nameEnd + 1, valueEnd - nameEnd - 1, StandardCharsets.UTF_8);
            if (name.equals("in_hot_standby")) {
                inHotStandby = value;
            } else {
                defaultReadOnly = value;
            }
        }
    }

    /**
     * Records the role the server reported and checks it against {@code target_session_attrs}; on a mismatch the
     * session ends with FATAL 08001, as libpq would end after trying every host.
     */
    private boolean roleAccepted() {
        if (inHotStandby == null) {
            return true; // a server before PostgreSQL 14 reports neither: nothing to go by
        }
        HostSelector.Role role = new HostSelector.Role("on".equals(inHotStandby), "on".equals(defaultReadOnly));
        // A client (or its route) can set default_transaction_read_only for its own session: then the value says
        // nothing about the host, and other sessions must not go by it. in_hot_standby no client can set.
        if (setsReadOnly(toBackend.parameters())) {
            proxy.hostSelector().observedStandby(endpoint, role.hotStandby());
        } else {
            proxy.hostSelector().observed(endpoint, role);
        }
        var attrs = backendConfig.targetSessionAttrs();
        if (attrs.accepts(role.hotStandby(), role.readOnly())) {
            return true;
        }
        String found = switch (attrs) {
            case READ_WRITE -> role.hotStandby() ? "server is in hot standby mode" : "session is read-only";
            case READ_ONLY -> "session is not read-only";
            case PRIMARY -> "server is in hot standby mode";
            default -> "server is not in hot standby mode";
        };
        log.warn("backend role does not match client={} user={} backend={} target_session_attrs={} error=\"{}\"",
                clientAddress, logUser(), endpoint, attrs.libpqName(), found);
        logLoginFailure("target_session_attrs not matched");
        fail(ErrorResponse.fatal(SqlState.SQLCLIENT_UNABLE_TO_ESTABLISH_SQLCONNECTION,
                "no server matching target_session_attrs=" + attrs.libpqName() + ": " + found,
                "pgmux has noted this server's role: a new connection tries the backend's other hosts first."));
        return false;
    }

    private void onAuthRequest(ByteBuf frame) throws ProtocolException {
        if (frame.readableBytes() < 9) {
            frame.release();
            throw new ProtocolException(SqlState.PROTOCOL_VIOLATION, "invalid authentication request from backend");
        }
        int code = BackendMessages.authCode(frame);
        authRequestRelayed = true;
        if (pendingToBackend != null) {
            pendingToBackend.release();
            pendingToBackend = null;
        }
        if (code == BackendMessages.AUTH_MD5 && renamed) {
            frame.release();
            logLoginFailure("md5 with renamed user");
            fail(ErrorResponse.fatal(SqlState.INVALID_AUTHORIZATION_SPECIFICATION,
                    "the server asks for MD5 password authentication, which cannot work through pgmux when the user"
                            + " name is rewritten (the MD5 hash includes the user name)",
                    "Use scram-sha-256 for this user on the server, or route it without renaming the user."));
            return;
        }
        if (code == BackendMessages.AUTH_SASL) {
            List<String> mechanisms;
            try {
                mechanisms = BackendMessages.saslMechanisms(frame);
            } finally {
                frame.release();
            }
            // TLS ends at pgmux, so a client binding to "its" server certificate would bind to pgmux's, and the
            // backend would reject the proof: never offer channel binding to the client.
            List<String> offered = mechanisms.stream().filter(m -> !m.equals(BackendMessages.SCRAM_PLUS)).toList();
            if (offered.isEmpty()) {
                fail(ErrorResponse.fatal(SqlState.INVALID_AUTHORIZATION_SPECIFICATION,
                        "the server accepts only SCRAM-SHA-256-PLUS, whose channel binding cannot pass through pgmux"));
                return;
            }
            client.write(BackendMessages.authenticationSasl(client.alloc(), offered));
            return;
        }
        client.write(frame);
    }

    private void startForwarding() {
        state = new Forwarding();
        proxy.established();
        if (loginTimeout != null) {
            loginTimeout.cancel(false);
        }
        fromClient = new MessageScanner(true);
        fromBackend = new MessageScanner(false);
        // From here on both sides read by themselves and stop only while the other side cannot take more
        // (writability). Requesting each read by hand would cost two epoll_ctl calls per read on epoll.
        client.config().setAutoRead(true);
        backend.config().setAutoRead(true);
        log.debug("session started client={} user={} backend={} backend_user={}", clientAddress, logUser(),
                endpoint, backendConfig.user());
    }

    // ---------------------------------------------------------------- forwarding

    private void toBackend(ByteBuf in) {
        int n = in.readableBytes();
        bytesFromClient += n;
        proxy.fromClient(n);
        backend.write(in, backend.voidPromise());
    }

    private void toClient(ByteBuf in) {
        fromBackend.scan(in);
        int n = in.readableBytes();
        bytesFromBackend += n;
        proxy.toClient(n);
        client.write(in, client.voidPromise());
    }

    /** No request in flight, outside a transaction, and both streams between two messages. */
    private boolean idle() {
        return state instanceof Forwarding && fromClient.atBoundary() && fromBackend.atBoundary()
                && fromClient.syncPoints() == fromBackend.syncPoints() && fromBackend.transactionStatus() == 'I';
    }

    // ---------------------------------------------------------------- shutdown

    /** Graceful shutdown: end this session as soon as it is idle. Safe to call from any thread. */
    public void drain() {
        client.eventLoop().execute(() -> {
            drainRequested = true;
            switch (state) {
                case Forwarding f -> {
                    if (idle()) {
                        terminate();
                    }
                }
                case Authenticating a -> {
                    // let it finish logging in; it ends at its first idle moment
                }
                case MockAuthenticating m -> {
                    // as a real login would: it ends on its own, with 28P01, soon
                }
                case Closed c -> {
                }
                default -> fail(ErrorResponse.fatal(SqlState.CANNOT_CONNECT_NOW, "the proxy is shutting down"));
            }
        });
    }

    /** Ends the session now with FATAL 57P01, placed between two messages if the stream allows it. */
    public void terminate() {
        if (!client.eventLoop().inEventLoop()) {
            client.eventLoop().execute(this::terminate);
            return;
        }
        if (state instanceof Closed) {
            return;
        }
        if (state instanceof Forwarding) {
            if (backend.isActive() && fromClient.atBoundary()) {
                backend.writeAndFlush(BackendMessages.terminate(backend.alloc()));
            }
            if (!fromBackend.atBoundary()) {
                close("terminated by shutdown");
                return;
            }
        }
        fail(ErrorResponse.fatal(SqlState.ADMIN_SHUTDOWN, "terminating connection due to administrator command"));
    }

    // ---------------------------------------------------------------- ending

    private void onLoginTimeout() {
        switch (state) {
            case Startup s -> close("startup timeout"); // PostgreSQL closes silently here too
            case Forwarding f -> {
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
    private void fail(ErrorResponse error) {
        fail(error, Map.of());
    }

    /** As {@link #fail(ErrorResponse)}, with more fields in the error (see {@link ErrorResponse#encode(ByteBufAllocator, Map)}). */
    private void fail(ErrorResponse error, Map<Character, String> more) {
        if (state instanceof Closed) {
            return;
        }
        if (!(state instanceof Forwarding)) {
            proxy.rejected();
        }
        client.writeAndFlush(error.encode(client.alloc(), more)).addListener(ChannelFutureListener.CLOSE);
        if (backend != null) {
            backend.close();
        }
        finish(error.message());
    }

    /** Flushes what is pending to the client, then closes both connections. */
    private void close(String reason) {
        if (state instanceof Closed) {
            return;
        }
        client.writeAndFlush(Unpooled.EMPTY_BUFFER).addListener(ChannelFutureListener.CLOSE);
        if (backend != null) {
            backend.close();
        }
        finish(reason);
    }

    private void finish(String reason) {
        State last = state;
        state = new Closed(reason);
        if (loginTimeout != null) {
            loginTimeout.cancel(false);
        }
        if (backendTimeout != null) {
            backendTimeout.cancel(false);
        }
        release(clientIn);
        release(backendIn);
        release(pendingToBackend);
        release(mockIn);
        clientIn = backendIn = pendingToBackend = mockIn = null;
        proxy.cancels().remove(cancelKey);
        proxy.sessions().remove(this);
        if (counted) {
            counted = false;
            proxy.closed(clientAddress == null ? null : clientAddress.getAddress());
        }
        if (startup != null && last instanceof Forwarding) {
            log.info("connection closed client={} user={} backend={} duration_ms={} bytes_in={} bytes_out={} reason=\"{}\"",
                    clientAddress, logUser(), endpoint,
                    TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - startNanos), bytesFromClient, bytesFromBackend,
                    reason);
        } else {
            log.debug("connection closed client={} phase={} reason=\"{}\"", clientAddress,
                    last.getClass().getSimpleName(), reason);
        }
    }

    private static void release(ByteBuf buf) {
        if (buf != null && buf.refCnt() > 0) {
            buf.release();
        }
    }

    private void logLoginFailure(String why) {
        LOGIN_FAILURES.log(log, clientAddress, logUser(), why);
    }

    /** The client's user name for logs: control characters escaped, so a client cannot forge log lines. */
    private String logUser() {
        if (startup == null) {
            return null;
        }
        String user = startup.user();
        StringBuilder sb = null;
        for (int i = 0; i < user.length(); i++) {
            char c = user.charAt(i);
            if (c < 0x20 || c == 0x7f) {
                if (sb == null) {
                    sb = new StringBuilder(user.length() + 8).append(user, 0, i);
                }
                sb.append(String.format("\\x%02x", (int) c));
            } else if (sb != null) {
                sb.append(c);
            }
        }
        return sb == null ? user : sb.toString();
    }

    private static String rootMessage(Throwable t) {
        while (t.getCause() != null && t.getCause() != t) {
            t = t.getCause();
        }
        return t.toString();
    }
}
