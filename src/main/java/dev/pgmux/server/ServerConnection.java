package dev.pgmux.server;

import dev.pgmux.BackendConfig;
import dev.pgmux.SslMode;
import dev.pgmux.protocol.ProtocolException;
import dev.pgmux.protocol.StartupPacket.SslRequest;
import dev.pgmux.protocol.StartupPacket.StartupMessage;
import dev.pgmux.protocol.frontend.Terminate;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.EventLoop;
import dev.pgmux.server.ServerState.Closed;
import dev.pgmux.server.ServerState.Connecting;
import dev.pgmux.server.ServerState.LoggingIn;
import dev.pgmux.server.ServerState.Ready;
import dev.pgmux.transport.Reading;
import io.netty.handler.ssl.SslHandler;
import io.netty.util.concurrent.Future;
import java.net.InetSocketAddress;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One connection to a backend server, with a life of its own:
 *
 * <pre>
 * Connecting ──► LoggingIn ──► Ready ──► Closed
 *  host by host:   startup sent;    bytes pass through
 *  TCP, SSLRequest, each message     unread to the owner
 *  TLS handshake    to the owner
 * </pre>
 *
 * Until the owner {@linkplain #commit() commits} to a host (its client has seen an authentication request or an
 * error), any failure moves on to the next host of the backend, with the startup message and the client bytes
 * sent so far sent again; after that, or when no host is left, the owner hears of it through
 * {@link ServerOwner#onFailed}. The connection reports to its owner, the client session it serves, and never calls into
 * it otherwise: it can outlive that owner and serve another.
 *
 * <p>All methods run on the event loop the connection was opened on.
 */
public final class ServerConnection {
    private static final Logger log = LoggerFactory.getLogger(ServerConnection.class);

    /** One host of the backend: its place in the list, its name and its resolved address. */
    public record Host(int index, BackendConfig.Endpoint endpoint, InetSocketAddress address) {
    }

    private final ServerContext context;
    private static final java.util.concurrent.atomic.AtomicLong IDS = new java.util.concurrent.atomic.AtomicLong();

    private final long id = IDS.incrementAndGet();
    private final long createdMillis = System.currentTimeMillis();
    private final EventLoop loop;
    private final BackendConfig backend;
    private final List<Host> hosts;
    private final Supplier<StartupMessage> startup;
    private ServerOwner owner;
    /** The host tried last. */
    private Host lastHost;
    /** Who this connection serves, for log lines. */
    private final String logContext;
    private ServerState state = new Closed("not connected");
    /** Bytes from the client sent during login, kept for the next host until the owner commits. */
    private LoginBytes clientBytes = new LoginBytes(false);

    /**
     * @param hosts   the backend's hosts in the order to try them; an address of null is a host that did not resolve
     * @param startup the startup message for the next host, asked for again at each host
     */
    public ServerConnection(ServerContext context, EventLoop loop, BackendConfig backend, List<Host> hosts,
                            Supplier<StartupMessage> startup, ServerOwner owner) {
        this.context = context;
        this.loop = loop;
        this.backend = backend;
        this.hosts = List.copyOf(hosts);
        this.startup = startup;
        this.owner = owner;
        this.logContext = owner.logContext();
    }

    /**
     * Hands the connection to another owner (a pool, the next client): from now on it hears the events. Call on the
     * connection's event loop.
     */
    public void owner(ServerOwner owner) {
        this.owner = owner;
        if (state instanceof Ready r) {
            Reading.flow(r.channel(), true); // the last owner may have paused it for a slow client
        }
    }

    /** Starts with the first host that resolved. */
    public void connect() {
        tryHost(0, null);
    }

    // ---------------------------------------------------------------- what the owner asks

    /** A number of its own, unique among server connections, for the console. */
    public long id() {
        return id;
    }

    /** When it was made (wall clock). */
    public long createdMillis() {
        return createdMillis;
    }

    /** Its local address while connected (any thread; null when not connected). */
    public java.net.InetSocketAddress localAddress() {
        return state instanceof ServerState.Open o && o.channel().localAddress() instanceof java.net.InetSocketAddress a
                ? a : null;
    }

    /** Its TLS protocol and cipher while connected over TLS, else null. */
    public String tlsInfo() {
        if (state instanceof ServerState.Open o) {
            io.netty.handler.ssl.SslHandler ssl = o.channel().pipeline().get(io.netty.handler.ssl.SslHandler.class);
            if (ssl != null && ssl.engine().getSession() != null) {
                return ssl.engine().getSession().getProtocol() + "/" + ssl.engine().getSession().getCipherSuite();
            }
        }
        return null;
    }

    /** The host connected to now, or null once closed. */
    public Host host() {
        return state instanceof ServerState.Open o ? o.host() : null;
    }

    /** The host connected to last, even once closed (for log lines), or null if none was tried. */
    public BackendConfig.Endpoint lastEndpoint() {
        return lastHost == null ? null : lastHost.endpoint();
    }

    /** Whether a host after the current one has an address, so a failure now could still be taken over. */
    public boolean laterHostAvailable() {
        Host current = host();
        return current != null && hosts.stream().skip(current.index() + 1).anyMatch(h -> h.address() != null);
    }

    /** The client took part in this host's login: no moving on to another host from here on. */
    public void commit() {
        clientBytes.commit();
    }

    /**
     * The current host is not usable, as the owner found (it refused the login before asking for a password, or
     * sent what the protocol does not allow): the next host takes over unless the owner committed to this one, in
     * which case the owner hears {@link ServerOwner.Failure#NO_HOST}.
     */
    public void nextHost(String why) {
        hostFailed(why);
    }

    /** Whether client bytes go to the server now: a login under way that the client takes part in. */
    public boolean takesClientBytes() {
        return state instanceof LoggingIn && !clientBytes.holdsUntilReady();
    }

    /** Whether the login is under way at a host (the startup message is out): the client's messages go through. */
    public boolean isLoggingIn() {
        return state instanceof LoggingIn;
    }

    /**
     * The owner logs in to the server itself (pgmux authenticated the client): what the client sends during the
     * login (a query pipelined after its own authentication) must not reach the server before its login is over, or
     * the server would take it for an answer to its authentication request. Call before {@link #connect()}.
     */
    public void holdClientBytesUntilReady() {
        clientBytes.release();
        clientBytes = new LoginBytes(true);
    }

    /** Sends client bytes during login; until the owner commits they are kept for the next host too. */
    public void sendDuringLogin(ByteBuf bytes) {
        ByteBuf now = clientBytes.add(bytes, state instanceof LoggingIn);
        if (now != null && state instanceof LoggingIn l) {
            l.channel().write(now, l.channel().voidPromise());
        }
    }

    /** The ParameterStatus values the server sent while logging in: name → value (empty before). */
    public Map<String, String> parameters() {
        return switch (state) {
            case LoggingIn l -> l.reader().parameters();
            case Ready r -> r.parameters();
            default -> Map.of();
        };
    }

    /**
     * Records the role this host reported at the end of its login and checks it against the backend's
     * {@code target_session_attrs}.
     *
     * @return null when the role is acceptable, else what was found (libpq's wording)
     */
    public String roleMismatch() {
        StartupMessage sent = switch (state) {
            case LoggingIn l -> l.sent();
            case Ready r -> r.sent();
            default -> throw new IllegalStateException("not logged in");
        };
        return context.hosts().checkRole(host().endpoint(), backend, sent.parameters(), parameters());
    }

    /**
     * Login is over: from here on bytes pass through. Bytes read after the last login message go to the owner as
     * data. Both sides read by themselves from now on and stop only while the other cannot take more.
     */
    public void ready() {
        if (!(state instanceof LoggingIn l)) {
            return;
        }
        commit();
        state = new Ready(l.host(), l.channel(), l.sent(), l.reader().parameters());
        Reading.flow(l.channel(), true);
        ByteBuf held = clientBytes.takeHeld();
        if (held != null) {
            l.channel().writeAndFlush(held, l.channel().voidPromise());
        }
        ByteBuf rest = l.reader().rest();
        if (rest != null) {
            owner.onData(rest);
        }
    }

    /** The allocator of the connection's channel (the default one once closed). */
    public io.netty.buffer.ByteBufAllocator alloc() {
        Channel ch = channel();
        return ch != null ? ch.alloc() : io.netty.buffer.ByteBufAllocator.DEFAULT;
    }

    public boolean isReady() {
        return state instanceof Ready;
    }

    public void write(ByteBuf bytes) {
        Channel ch = channel();
        if (ch == null) {
            bytes.release();
            return;
        }
        ch.write(bytes, ch.voidPromise());
    }

    public void flush() {
        Channel ch = channel();
        if (ch != null) {
            ch.flush();
        }
    }

    public boolean isWritable() {
        Channel ch = channel();
        return ch != null && ch.isWritable();
    }

    /** Asks for one more read (during login, while the client can take more). */
    public void read() {
        Channel ch = channel();
        if (ch != null && ch.isActive()) {
            ch.read();
        }
    }

    public void autoRead(boolean on) {
        Channel ch = channel();
        if (ch != null) {
            Reading.flow(ch, on);
        }
    }

    /** Ends the server's session politely: Terminate, then close once it is written. */
    public void terminate() {
        Channel ch = channel();
        if (ch != null && ch.isActive()) {
            ch.write(new Terminate().encode(ch.alloc()));
        }
        closeAfterFlush("terminated");
    }

    /** Closes at once; the owner hears nothing more. */
    public void close(String reason) {
        close(reason, false);
    }

    /** Closes once what was written is flushed (a client that left: its last messages count); as {@link #close}. */
    public void closeAfterFlush(String reason) {
        close(reason, true);
    }

    private void close(String reason, boolean flushFirst) {
        Channel ch = channel();
        owner = null;
        end(reason);
        if (ch != null && flushFirst) {
            ch.writeAndFlush(Unpooled.EMPTY_BUFFER).addListener(ChannelFutureListener.CLOSE);
        } else if (ch != null) {
            ch.close();
        }
    }

    private Channel channel() {
        return state instanceof ServerState.Open o ? o.channel() : null;
    }

    boolean isChannel(Channel ch) {
        return ch == channel();
    }

    // ---------------------------------------------------------------- connecting, host by host

    private void tryHost(int index, String why) {
        Host failed = host();
        if (why != null) {
            context.connectFailed().run();
            log.warn("backend connection failed {} backend={} error={}{}", logContext,
                    failed == null ? null : failed.endpoint(), why, index < hosts.size() ? "; trying the next host" : "");
        }
        leaveHost();
        for (int i = index; i < hosts.size(); i++) {
            Host h = hosts.get(i);
            if (h.address() != null) {
                open(h);
                return;
            }
            context.connectFailed().run();
            log.warn("backend host unknown {} backend={}", logContext, h.endpoint());
        }
        fail(ServerOwner.Failure.NO_HOST, "no host left");
    }

    /** Closes the current host's channel and forgets what it sent. */
    private void leaveHost() {
        Channel previous = channel();
        switch (state) {
            case Connecting c -> c.answerTimer().cancel(false);
            case LoggingIn l -> l.answerTimer().cancel(false);
            default -> {
            }
        }
        if (state instanceof LoggingIn l) {
            l.reader().release();
        }
        state = new Closed("next host");
        if (previous != null) {
            previous.close();
        }
    }

    private void open(Host host) {
        long timeoutMillis = context.connectTimeout().get().toMillis();
        ChannelFuture registered = context.dialer().register(loop, new ServerHandler(this), (int) timeoutMillis);
        Channel channel = registered.channel();
        // A backend that accepts the connection but never answers (blackholed, overloaded) must fail within the
        // connect timeout too, not only at the client's login timeout.
        Future<?> timer = loop.schedule(() -> {
            if (isChannel(channel) && !(state instanceof Ready)) {
                hostFailed("backend did not answer within " + timeoutMillis + " ms");
            }
        }, timeoutMillis, TimeUnit.MILLISECONDS);
        lastHost = host;
        // Known as the current channel before any of its events can fire.
        state = new Connecting(host, channel, false, timer);
        registered.addListener((ChannelFutureListener) reg -> {
            if (!reg.isSuccess()) {
                if (isChannel(channel)) {
                    hostFailed(reg.cause().toString());
                }
                return;
            }
            context.dialer().connect(channel, host.address()).addListener((ChannelFutureListener) done -> {
                if (!done.isSuccess() && isChannel(channel) && state instanceof Connecting) {
                    hostFailed(done.cause().toString());
                }
            });
        });
    }

    /** The current host failed: the next one takes over unless the owner committed to this one. */
    private void hostFailed(String why) {
        if (!clientBytes.committed()) {
            Host current = host();
            tryHost(current == null ? hosts.size() : current.index() + 1, why);
            return;
        }
        context.connectFailed().run();
        log.warn("backend connection failed {} backend={} error={}", logContext, host() == null ? null : host().endpoint(),
                why);
        fail(ServerOwner.Failure.NO_HOST, why);
    }

    private void fail(ServerOwner.Failure failure, String why) {
        ServerOwner o = owner;
        Channel ch = channel();
        owner = null;
        end(why);
        if (ch != null) {
            ch.close();
        }
        if (o != null) {
            o.onFailed(failure, why);
        }
    }

    private void end(String reason) {
        switch (state) {
            case Connecting c -> c.answerTimer().cancel(false);
            case LoggingIn l -> {
                l.answerTimer().cancel(false);
                l.reader().release();
            }
            default -> {
            }
        }
        state = new Closed(reason);
        clientBytes.release();
    }

    void onActive() {
        if (!(state instanceof Connecting c)) {
            channel().close();
            return;
        }
        if (backend.sslMode() == SslMode.DISABLE) {
            sendStartup(c);
        } else {
            state = c.awaitingSsl(true);
            c.channel().writeAndFlush(new SslRequest().encode(c.channel().alloc()));
            c.channel().read();
        }
    }

    private void onSslResponse(Connecting c, ByteBuf answer) {
        byte b = answer.readByte();
        boolean leftover = answer.isReadable();
        answer.release();
        if (leftover) {
            // Bytes after the answer were not protected by TLS (CVE-2021-23222): refuse them.
            hostFailed("backend sent unencrypted data after its SSL response");
            return;
        }
        if (b == 'S') {
            state = c.awaitingSsl(false);
            try {
                SslHandler ssl = context.tls().newHandler(backend, c.host().endpoint(), c.channel().alloc());
                ssl.setHandshakeTimeoutMillis(context.connectTimeout().get().toMillis());
                c.channel().pipeline().addFirst("tls", ssl);
            } catch (Exception e) {
                hostFailed("backend TLS setup failed: " + e.getMessage());
                return;
            }
            c.channel().read();
        } else if (b == 'N' && backend.sslMode() == SslMode.PREFER) {
            sendStartup(c);
        } else {
            hostFailed("backend does not accept TLS but sslmode=" + backend.sslMode().libpqName());
        }
    }

    void onTlsHandshake(Throwable cause) {
        if (!(state instanceof Connecting c)) {
            return;
        }
        if (cause != null) {
            hostFailed("backend TLS handshake failed: " + rootMessage(cause));
            return;
        }
        sendStartup(c);
    }

    private void sendStartup(Connecting c) {
        Channel ch = c.channel();
        StartupMessage sent = startup.get();
        ch.write(sent.encode(ch.alloc()));
        ByteBuf replay = clientBytes.replay();
        if (replay != null) {
            ch.write(replay);
        }
        ch.flush();
        state = new LoggingIn(c.host(), ch, c.answerTimer(), sent, new LoginReader());
        ch.read();
        owner.onLoginStarted();
    }

    // ---------------------------------------------------------------- reading

    void onRead(ByteBuf bytes) {
        switch (state) {
            case Connecting c when c.awaitingSslResponse() -> onSslResponse(c, bytes);
            case LoggingIn l -> {
                // The per-host timer covers connect, TLS and the server's first answer to the startup message.
                l.answerTimer().cancel(false);
                onLoginBytes(l, bytes);
            }
            case Ready r -> owner.onData(bytes);
            default -> bytes.release();
        }
    }

    private void onLoginBytes(LoggingIn l, ByteBuf bytes) {
        l.reader().add(bytes.alloc(), bytes);
        try {
            ByteBuf frame;
            while (state == l && (frame = l.reader().next()) != null) {
                owner.onLoginMessage(frame);
            }
        } catch (ProtocolException e) {
            hostFailed(e.getMessage());
        } finally {
            if (state == l) {
                l.reader().compact();
            }
        }
    }

    void onReadComplete() {
        switch (state) {
            case Connecting c -> c.channel().read();
            case LoggingIn l -> owner.onReadComplete();
            case Ready r -> owner.onReadComplete();
            case Closed c -> {
            }
        }
    }

    void onWritabilityChanged() {
        Channel ch = channel();
        if (ch != null && ch.isWritable() && owner != null && !(state instanceof Connecting)) {
            owner.onWritable();
        }
    }

    void onClosed() {
        switch (state) {
            case Connecting c -> hostFailed("backend closed the connection");
            case LoggingIn l when !clientBytes.committed() -> hostFailed("backend closed the connection");
            case LoggingIn l -> fail(ServerOwner.Failure.LOST_DURING_LOGIN, "backend closed the connection during login");
            case Ready r -> fail(ServerOwner.Failure.CLOSED, "backend closed");
            case Closed c -> {
            }
        }
    }

    void onException(Throwable cause) {
        log.debug("backend connection error {} backend={} error={}", logContext,
                host() == null ? null : host().endpoint(), cause.toString());
        if (state instanceof Connecting) {
            hostFailed(rootMessage(cause));
        } else {
            channel().close();
        }
    }

    private static String rootMessage(Throwable t) {
        while (t.getCause() != null && t.getCause() != t) {
            t = t.getCause();
        }
        return t.toString();
    }
}
