package dev.pgmux.server;

import static org.assertj.core.api.Assertions.assertThat;

import dev.pgmux.BackendConfig;
import dev.pgmux.SslMode;
import dev.pgmux.TargetSessionAttrs;
import dev.pgmux.protocol.StartupPacket;
import dev.pgmux.protocol.StartupPacket.StartupMessage;
import dev.pgmux.protocol.WireBytes;
import dev.pgmux.testing.TrackingAllocator;
import dev.pgmux.tls.BackendTls;
import dev.pgmux.transport.Transport;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandler;
import io.netty.channel.DefaultChannelPromise;
import io.netty.channel.EventLoop;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.ssl.SslHandler;
import io.netty.util.concurrent.ImmediateEventExecutor;
import java.io.ByteArrayOutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The server side of a session, driven through {@link EmbeddedChannel}s: a dialer hands out one channel per host
 * attempt, "connecting" it registers the channel (which makes it active), and a recording owner stands for the
 * client session. Every byte the server gets is checked exactly; every buffer allocated, given or made, must be
 * released by the end of the test.
 */
class ServerConnectionTest {
    private static final Duration CONNECT_TIMEOUT = Duration.ofSeconds(2);
    private static final String LOGIN_STARTED = "login started";

    private final TrackingAllocator alloc = new TrackingAllocator();
    /** Stands for the client's channel: its event loop is the one the connection runs on. */
    private final EmbeddedChannel client = new EmbeddedChannel();
    private final TestDialer dialer = new TestDialer();
    private final HostSelector roles = new HostSelector(TimeUnit.MINUTES.toNanos(5));
    private final Owner owner = new Owner();
    private int connectFailures;
    private ServerConnection server;

    @AfterEach
    void everythingReleased() {
        if (server != null) {
            server.close("test over");
        }
        for (EmbeddedChannel ch : dialer.connected) {
            ch.finishAndReleaseAll(); // closed or not: what the server was sent and never read is released
        }
        client.finishAndReleaseAll();
        alloc.assertAllReleased();
    }

    // ---------------------------------------------------------------- startup

    @Test
    void startupMessageGoesFirstAndClientBytesFollowIt() {
        server = connection(backend(SslMode.DISABLE, TargetSessionAttrs.ANY, 1), startup());
        server.sendDuringLogin(alloc.of(QUERY)); // sent while routing, before the server was reached

        server.connect();

        assertThat(dialer.loops).as("registered on the connection's loop").containsExactly(client.eventLoop());
        assertThat(dialer.connectedTo).containsExactly(address(0));
        EmbeddedChannel host = dialer.channel(0);
        assertThat(printable(outbound(host))).isEqualTo(printable(concat(STARTUP, QUERY)));
        assertThat(owner.events).containsExactly(LOGIN_STARTED);

        server.sendDuringLogin(alloc.of(SYNC));
        server.flush();

        assertThat(printable(outbound(host))).isEqualTo(printable(SYNC));
    }

    @Test
    void loginMessagesReachTheOwnerWholeHoweverTheyAreSplit() {
        server = connection(backend(SslMode.DISABLE, TargetSessionAttrs.ANY, 1), startup());
        server.connect();
        EmbeddedChannel host = dialer.channel(0);
        outbound(host);
        byte[] timeZone = parameterStatus("TimeZone", "UTC");
        byte[] key = WireBytes.of().int32(4711).raw(new byte[] {1, 2, 3, 4}).message('K');
        byte[] all = concat(AUTHENTICATION_OK, timeZone, key);

        for (byte b : all) {
            serverSends(host, new byte[] {b});
        }
        serverSends(host, concat(timeZone, timeZone));

        assertThat(owner.events).containsExactly(LOGIN_STARTED, message(AUTHENTICATION_OK), message(timeZone),
                message(key), message(timeZone), message(timeZone));
        assertThat(server.parameters()).containsExactly(Map.entry("TimeZone", "UTC"));
    }

    // ---------------------------------------------------------------- the next host

    @Test
    void errorBeforeAuthenticationMovesToTheNextHostWithTheStartupAndTheClientBytesAgain() {
        // As the client session does on AuthRelay's NextHost: the client has seen nothing of this host.
        owner.on('E', s -> s.nextHost("server refused the connection sqlstate=53300"));
        server = connection(backend(SslMode.DISABLE, TargetSessionAttrs.ANY, 2), startup());
        server.sendDuringLogin(alloc.of(QUERY));
        server.connect();
        server.sendDuringLogin(alloc.of(SYNC));
        server.flush();
        EmbeddedChannel first = dialer.channel(0);
        assertThat(printable(outbound(first))).isEqualTo(printable(concat(STARTUP, QUERY, SYNC)));

        serverSends(first, TOO_MANY_CLIENTS);

        assertThat(first.isOpen()).as("first host left").isFalse();
        assertThat(dialer.connectedTo).containsExactly(address(0), address(1));
        assertThat(printable(outbound(dialer.channel(1)))).isEqualTo(printable(concat(STARTUP, QUERY, SYNC)));
        assertThat(owner.events).containsExactly(LOGIN_STARTED, message(TOO_MANY_CLIENTS), LOGIN_STARTED);
        assertThat(server.host().index()).isEqualTo(1);
        assertThat(connectFailures).isEqualTo(1);
    }

    @Test
    void closeBeforeCommitMovesToTheNextHostWithTheStartupAndTheClientBytesAgain() {
        server = connection(backend(SslMode.DISABLE, TargetSessionAttrs.ANY, 2), startup());
        server.sendDuringLogin(alloc.of(QUERY));
        server.connect();
        server.sendDuringLogin(alloc.of(SYNC));
        server.flush();
        EmbeddedChannel first = dialer.channel(0);
        outbound(first);

        first.close();

        assertThat(dialer.connectedTo).containsExactly(address(0), address(1));
        assertThat(printable(outbound(dialer.channel(1)))).isEqualTo(printable(concat(STARTUP, QUERY, SYNC)));
        assertThat(owner.events).containsExactly(LOGIN_STARTED, LOGIN_STARTED);
    }

    @Test
    void closeAfterCommitIsLostDuringLoginAndNoOtherHostIsTried() {
        owner.on('R', ServerConnection::commit); // the client saw the password request
        server = connection(backend(SslMode.DISABLE, TargetSessionAttrs.ANY, 2), startup());
        server.sendDuringLogin(alloc.of(QUERY));
        server.connect();
        EmbeddedChannel first = dialer.channel(0);
        outbound(first);
        serverSends(first, SASL);
        assertThat(server.laterHostAvailable()).isTrue();

        first.close();

        assertThat(dialer.connectedTo).containsExactly(address(0));
        assertThat(owner.events).containsExactly(LOGIN_STARTED, message(SASL),
                "failed LOST_DURING_LOGIN: backend closed the connection during login");
        assertThat(server.host()).isNull();
    }

    @Test
    void noHostLeftTellsTheOwner() {
        server = connection(backend(SslMode.DISABLE, TargetSessionAttrs.ANY, 2), startup());
        server.sendDuringLogin(alloc.of(QUERY));
        server.connect();

        dialer.channel(0).close();
        dialer.channel(1).close();

        assertThat(dialer.connectedTo).containsExactly(address(0), address(1));
        assertThat(owner.events).containsExactly(LOGIN_STARTED, LOGIN_STARTED, "failed NO_HOST: no host left");
        assertThat(connectFailures).isEqualTo(2);
    }

    @Test
    void hostThatDidNotResolveIsSkipped() {
        BackendConfig backend = backend(SslMode.DISABLE, TargetSessionAttrs.ANY, 2);
        server = new ServerConnection(context(), client.eventLoop(), backend,
                List.of(new ServerConnection.Host(0, backend.hosts().get(0), null),
                        new ServerConnection.Host(1, backend.hosts().get(1), address(1))),
                this::startup, owner);
        owner.server = server;

        server.connect();

        assertThat(dialer.connectedTo).containsExactly(address(1));
        assertThat(server.laterHostAvailable()).isFalse();
        assertThat(connectFailures).isEqualTo(1);
    }

    @Test
    void hostThatDoesNotAnswerIsLeftAfterTheConnectTimeout() {
        client.freezeTime(); // only advanceTimeBy moves the clock: real time passing must not fire the timer early
        server = connection(backend(SslMode.DISABLE, TargetSessionAttrs.ANY, 3), startup());
        server.connect();
        EmbeddedChannel first = dialer.channel(0);

        client.advanceTimeBy(CONNECT_TIMEOUT.toMillis() - 1, TimeUnit.MILLISECONDS);
        client.runScheduledPendingTasks();
        assertThat(dialer.connectedTo).as("still waiting").containsExactly(address(0));
        client.advanceTimeBy(1, TimeUnit.MILLISECONDS);
        client.runScheduledPendingTasks();

        assertThat(first.isOpen()).isFalse();
        assertThat(dialer.connectedTo).containsExactly(address(0), address(1));

        // A host that answered in time is not left when the time is up.
        serverSends(dialer.channel(1), SASL);
        client.advanceTimeBy(CONNECT_TIMEOUT.toMillis() * 2, TimeUnit.MILLISECONDS);
        client.runScheduledPendingTasks();
        assertThat(dialer.connectedTo).containsExactly(address(0), address(1));
        assertThat(dialer.channel(1).isOpen()).isTrue();
    }

    @Test
    void invalidMessageLengthMovesToTheNextHost() {
        server = connection(backend(SslMode.DISABLE, TargetSessionAttrs.ANY, 2), startup());
        server.connect();

        serverSends(dialer.channel(0), new byte[] {'R', 0, 0, 0, 3});

        assertThat(dialer.channel(0).isOpen()).isFalse();
        assertThat(dialer.connectedTo).containsExactly(address(0), address(1));
        assertThat(owner.events).containsExactly(LOGIN_STARTED, LOGIN_STARTED);
    }

    @Test
    void malformedParameterStatusIsPassedOnUnread() {
        // As before the message types existed: the client judges it; pgmux only skips noting it.
        server = connection(backend(SslMode.DISABLE, TargetSessionAttrs.ANY, 2), startup());
        server.connect();
        byte[] malformed = WireBytes.of().cstring("TimeZone").message('S'); // a name without a value

        serverSends(dialer.channel(0), concat(malformed, AUTHENTICATION_OK));

        assertThat(dialer.channel(0).isOpen()).isTrue();
        assertThat(dialer.connectedTo).containsExactly(address(0));
        assertThat(server.parameters()).isEmpty();
    }

    // ---------------------------------------------------------------- TLS toward the server

    @Test
    void sslRequireWithAServerRefusingTlsMovesToTheNextHost() {
        server = connection(backend(SslMode.REQUIRE, TargetSessionAttrs.ANY, 2), startup());
        server.sendDuringLogin(alloc.of(QUERY));
        server.connect();
        EmbeddedChannel first = dialer.channel(0);
        assertThat(outbound(first)).isEqualTo(SSL_REQUEST);

        serverSends(first, new byte[] {'N'});

        assertThat(first.isOpen()).isFalse();
        assertThat(outbound(first)).as("nothing in plain text").isEmpty();
        assertThat(outbound(dialer.channel(1))).isEqualTo(SSL_REQUEST);
        assertThat(owner.events).isEmpty();

        serverSends(dialer.channel(1), new byte[] {'N'});

        assertThat(outbound(dialer.channel(1))).isEmpty();
        assertThat(owner.events).containsExactly("failed NO_HOST: no host left");
    }

    @Test
    void sslPreferWithAServerRefusingTlsGoesOnInPlainText() {
        server = connection(backend(SslMode.PREFER, TargetSessionAttrs.ANY, 2), startup());
        server.sendDuringLogin(alloc.of(QUERY));
        server.connect();
        EmbeddedChannel first = dialer.channel(0);
        assertThat(outbound(first)).isEqualTo(SSL_REQUEST);

        serverSends(first, new byte[] {'N'});

        assertThat(printable(outbound(first))).isEqualTo(printable(concat(STARTUP, QUERY)));
        assertThat(dialer.connectedTo).containsExactly(address(0));
        assertThat(owner.events).containsExactly(LOGIN_STARTED);
    }

    @Test
    void bytesAfterTheSslResponseAreRefused() {
        // CVE-2021-23222: bytes that come with the 'S' were not protected by TLS, and a man in the middle could have
        // put them there to be read as the server's first answer after the handshake.
        server = connection(backend(SslMode.REQUIRE, TargetSessionAttrs.ANY, 2), startup());
        server.connect();
        EmbeddedChannel first = dialer.channel(0);
        outbound(first);

        serverSends(first, concat(new byte[] {'S'}, AUTHENTICATION_OK));

        assertThat(first.isOpen()).isFalse();
        assertThat(first.pipeline().get(SslHandler.class)).isNull();
        assertThat(outbound(first)).isEmpty();
        assertThat(dialer.connectedTo).containsExactly(address(0), address(1));
        assertThat(outbound(dialer.channel(1))).isEqualTo(SSL_REQUEST);
        assertThat(owner.events).isEmpty();
    }

    @Test
    void sslResponseAloneStartsTheHandshake() {
        server = connection(backend(SslMode.REQUIRE, TargetSessionAttrs.ANY, 2), startup());
        server.connect();
        EmbeddedChannel first = dialer.channel(0);
        outbound(first);

        serverSends(first, new byte[] {'S'});

        assertThat(first.isOpen()).isTrue();
        assertThat(first.pipeline().first()).isInstanceOf(SslHandler.class);
        assertThat(outbound(first)).as("a TLS handshake record").startsWith(0x16, 0x03);
        assertThat(dialer.connectedTo).containsExactly(address(0));
        assertThat(owner.events).isEmpty();
    }

    // ---------------------------------------------------------------- the server's role

    @ParameterizedTest
    @CsvSource(nullValues = "null", value = {
            "READ_WRITE, on,  on,  server is in hot standby mode",
            "READ_WRITE, off, on,  session is read-only",
            "READ_WRITE, off, off, null",
            "PRIMARY,    off, on,  null",
            "PRIMARY,    on,  on,  server is in hot standby mode",
            "ANY,        on,  on,  null",
    })
    void roleIsCheckedAgainstTargetSessionAttrsAndRemembered(TargetSessionAttrs attrs, String inHotStandby,
                                                             String readOnly, String mismatch) {
        BackendConfig backend = backend(SslMode.DISABLE, attrs, 1);

        String found = logIn(backend, startup(), inHotStandby, readOnly);

        assertThat(found).isEqualTo(mismatch);
        assertThat(roles.known(backend.hosts().get(0)))
                .isEqualTo(new HostSelector.Role("on".equals(inHotStandby), "on".equals(readOnly)));
    }

    @Test
    void startupWithOptionsDoesNotMarkTheHostReadOnly() {
        // The session's own options can set default_transaction_read_only: its value says nothing of the host.
        BackendConfig backend = backend(SslMode.DISABLE, TargetSessionAttrs.READ_WRITE, 1);
        StartupMessage withOptions = new StartupMessage(3, 0, Map.of("user", "alice", "database", "app",
                "options", "-c default_transaction_read_only=on"), List.of());

        String found = logIn(backend, withOptions, "off", "on");

        assertThat(found).as("this session is read-only all the same").isEqualTo("session is read-only");
        assertThat(roles.known(backend.hosts().get(0))).isEqualTo(new HostSelector.Role(false, false));
    }

    /** Logs in to the first host, which reports the role given, and returns what roleMismatch() found. */
    private String logIn(BackendConfig backend, StartupMessage startup, String inHotStandby, String readOnly) {
        String[] found = {"not asked"};
        owner.on('Z', s -> found[0] = s.roleMismatch());
        server = new ServerConnection(context(), client.eventLoop(), backend, hosts(backend), () -> startup, owner);
        owner.server = server;
        server.connect();
        serverSends(dialer.channel(0), concat(AUTHENTICATION_OK, parameterStatus("in_hot_standby", inHotStandby),
                parameterStatus("default_transaction_read_only", readOnly), READY_FOR_QUERY));
        return found[0];
    }

    // ---------------------------------------------------------------- ready

    @Test
    void bytesReadAfterReadyForQueryGoToTheOwnerAsData() {
        owner.on('Z', ServerConnection::ready);
        server = connection(backend(SslMode.DISABLE, TargetSessionAttrs.ANY, 2), startup());
        server.connect();
        EmbeddedChannel host = dialer.channel(0);
        outbound(host);
        byte[] rowDescription = WireBytes.of().int16(1).cstring("?column?").int32(0).int16(0).int32(23).int16(4)
                .int32(-1).int16(0).message('T');
        byte[] firstPart = java.util.Arrays.copyOf(rowDescription, 7);
        byte[] rest = java.util.Arrays.copyOfRange(rowDescription, 7, rowDescription.length);

        serverSends(host, concat(AUTHENTICATION_OK, READY_FOR_QUERY, firstPart));

        assertThat(owner.events).containsExactly(LOGIN_STARTED, message(AUTHENTICATION_OK), message(READY_FOR_QUERY),
                "data " + printable(firstPart));
        assertThat(server.isReady()).isTrue();
        assertThat(host.config().isAutoRead()).as("reads by itself from now on").isTrue();

        // From here on nothing is read into: not even a length no login message may have.
        byte[] notAMessage = {'Z', (byte) 0xFF, (byte) 0xFF, (byte) 0xFF, (byte) 0xFF};
        serverSends(host, rest);
        serverSends(host, notAMessage);

        assertThat(owner.events).endsWith("data " + printable(firstPart), "data " + printable(rest),
                "data " + printable(notAMessage));
        assertThat(host.isOpen()).isTrue();
        assertThat(dialer.connectedTo).containsExactly(address(0));

        server.write(alloc.of(QUERY));
        server.flush();
        assertThat(outbound(host)).isEqualTo(QUERY);

        host.close();
        assertThat(owner.events).endsWith("failed CLOSED: backend closed");
        assertThat(dialer.connectedTo).containsExactly(address(0));
    }

    @Test
    void readyForQueryAtTheEndOfAReadLeavesNoDataBehind() {
        owner.on('Z', ServerConnection::ready);
        server = connection(backend(SslMode.DISABLE, TargetSessionAttrs.ANY, 1), startup());
        server.connect();
        EmbeddedChannel host = dialer.channel(0);

        serverSends(host, concat(AUTHENTICATION_OK, READY_FOR_QUERY));
        serverSends(host, QUERY_RESULT_END);

        assertThat(owner.events).containsExactly(LOGIN_STARTED, message(AUTHENTICATION_OK), message(READY_FOR_QUERY),
                "data " + printable(QUERY_RESULT_END));
    }

    // ---------------------------------------------------------------- helpers

    private static final byte[] STARTUP = WireBytes.of().int32(196608)
            .cstring("user").cstring("alice").cstring("database").cstring("app").int8(0).packet();
    private static final byte[] SSL_REQUEST = WireBytes.of().int32(StartupPacket.SSL_REQUEST_CODE).packet();
    private static final byte[] QUERY = WireBytes.of().cstring("SELECT 1").message('Q');
    private static final byte[] SYNC = WireBytes.of().message('S');
    private static final byte[] AUTHENTICATION_OK = WireBytes.of().int32(0).message('R');
    private static final byte[] SASL = WireBytes.of().int32(10).cstring("SCRAM-SHA-256").int8(0).message('R');
    private static final byte[] READY_FOR_QUERY = WireBytes.of().int8('I').message('Z');
    private static final byte[] QUERY_RESULT_END = concat(WireBytes.of().cstring("SELECT 1").message('C'), READY_FOR_QUERY);
    private static final byte[] TOO_MANY_CLIENTS = WireBytes.of().int8('S').cstring("FATAL").int8('V').cstring("FATAL")
            .int8('C').cstring("53300").int8('M').cstring("sorry, too many clients already").int8(0).message('E');

    private StartupMessage startup() {
        Map<String, String> parameters = new LinkedHashMap<>();
        parameters.put("user", "alice");
        parameters.put("database", "app");
        return new StartupMessage(3, 0, parameters, List.of());
    }

    private ServerContext context() {
        return new ServerContext(Transport.nio(), new BackendTls(), roles, () -> CONNECT_TIMEOUT,
                () -> connectFailures++, dialer);
    }

    private ServerConnection connection(BackendConfig backend, StartupMessage startup) {
        ServerConnection s = new ServerConnection(context(), client.eventLoop(), backend, hosts(backend),
                () -> startup, owner);
        owner.server = s;
        return s;
    }

    private static BackendConfig backend(SslMode sslMode, TargetSessionAttrs attrs, int hosts) {
        List<BackendConfig.Endpoint> endpoints = new ArrayList<>();
        for (int i = 0; i < hosts; i++) {
            endpoints.add(new BackendConfig.Endpoint("db" + (i + 1), 5432));
        }
        return new BackendConfig(endpoints, null, null, null, sslMode, null, attrs, null);
    }

    private static List<ServerConnection.Host> hosts(BackendConfig backend) {
        List<ServerConnection.Host> hosts = new ArrayList<>();
        for (int i = 0; i < backend.hosts().size(); i++) {
            hosts.add(new ServerConnection.Host(i, backend.hosts().get(i), address(i)));
        }
        return hosts;
    }

    private static InetSocketAddress address(int host) {
        return new InetSocketAddress(InetAddress.getLoopbackAddress(), 5401 + host);
    }

    /** One read from the server. */
    private void serverSends(EmbeddedChannel host, byte[] bytes) {
        host.writeInbound(alloc.of(bytes));
    }

    /** Everything the server was sent since the last call, releasing each buffer. */
    private static byte[] outbound(EmbeddedChannel host) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (Object msg; (msg = host.readOutbound()) != null; ) {
            ByteBuf buf = (ByteBuf) msg;
            try {
                out.writeBytes(ByteBufUtil.getBytes(buf));
            } finally {
                buf.release();
            }
        }
        return out.toByteArray();
    }

    private static byte[] parameterStatus(String name, String value) {
        return WireBytes.of().cstring(name).cstring(value).message('S');
    }

    private static String message(byte[] frame) {
        return "message " + printable(frame);
    }

    private static byte[] concat(byte[]... parts) {
        WireBytes b = WireBytes.of();
        for (byte[] p : parts) {
            b.raw(p);
        }
        return b.bytes();
    }

    /** Bytes as text: printable ASCII as it is, every other byte as \xNN. */
    private static String printable(byte[] bytes) {
        StringBuilder s = new StringBuilder();
        for (byte b : bytes) {
            if (b >= 0x20 && b < 0x7F && b != '\\') {
                s.append((char) b);
            } else {
                s.append(String.format("\\x%02x", b & 0xFF));
            }
        }
        return s.toString();
    }

    /**
     * Hands out an unregistered {@link EmbeddedChannel} per host attempt; "connecting" registers it, and an
     * EmbeddedChannel is active once registered, so channelActive fires then, as after a TCP connect.
     */
    private final class TestDialer implements Dialer {
        final List<EmbeddedChannel> channels = new ArrayList<>();
        final List<EventLoop> loops = new ArrayList<>();
        final List<InetSocketAddress> connectedTo = new ArrayList<>();
        final List<EmbeddedChannel> connected = new ArrayList<>();

        @Override
        public ChannelFuture register(EventLoop loop, ChannelHandler handler, int connectTimeoutMillis) {
            assertThat(connectTimeoutMillis).isEqualTo((int) CONNECT_TIMEOUT.toMillis());
            loops.add(loop);
            EmbeddedChannel ch = EmbeddedChannel.builder().register(false).handlers(handler).build();
            ch.config().setAllocator(alloc);
            ch.config().setAutoRead(false);
            channels.add(ch);
            return new DefaultChannelPromise(ch, ImmediateEventExecutor.INSTANCE).setSuccess();
        }

        @Override
        public ChannelFuture connect(Channel channel, InetSocketAddress address) {
            connectedTo.add(address);
            EmbeddedChannel ch = (EmbeddedChannel) channel;
            connected.add(ch);
            try {
                ch.register();
            } catch (Exception e) {
                throw new AssertionError(e);
            }
            return ch.newSucceededFuture();
        }

        EmbeddedChannel channel(int attempt) {
            assertThat(channels).as("host attempts").hasSizeGreaterThan(attempt);
            return channels.get(attempt);
        }
    }

    /** Stands for the client session: records what it is told and reacts to some login messages by type. */
    private static final class Owner implements ServerOwner {
        final List<String> events = new ArrayList<>();
        final Map<Character, Consumer<ServerConnection>> reactions = new HashMap<>();
        ServerConnection server;

        void on(char type, Consumer<ServerConnection> reaction) {
            reactions.put(type, reaction);
        }

        @Override
        public void onLoginStarted() {
            events.add(LOGIN_STARTED);
        }

        @Override
        public void onLoginMessage(ByteBuf frame) {
            char type;
            try {
                type = (char) frame.getByte(frame.readerIndex());
                events.add(message(ByteBufUtil.getBytes(frame)));
            } finally {
                frame.release();
            }
            Consumer<ServerConnection> reaction = reactions.get(type);
            if (reaction != null) {
                reaction.accept(server);
            }
        }

        @Override
        public void onData(ByteBuf data) {
            try {
                events.add("data " + printable(ByteBufUtil.getBytes(data)));
            } finally {
                data.release();
            }
        }

        @Override
        public void onReadComplete() {
        }

        @Override
        public void onWritable() {
        }

        @Override
        public void onFailed(Failure failure, String why) {
            events.add("failed " + failure + ": " + why);
        }
    }
}
