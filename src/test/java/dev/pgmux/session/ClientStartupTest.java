package dev.pgmux.session;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

import dev.pgmux.Limits;
import dev.pgmux.RouteRequest;
import dev.pgmux.Router;
import dev.pgmux.RoutingException;
import dev.pgmux.protocol.StartupPacket;
import dev.pgmux.protocol.WireBytes;
import dev.pgmux.testing.TrackingAllocator;
import dev.pgmux.transport.Transport;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The client side of startup, driven through an {@link EmbeddedChannel}: negotiation requests, malformed
 * packets, limits and routing failures, each answered with the exact bytes PostgreSQL would send (or none).
 * Routing fails in every test here, so no backend connection is ever opened.
 *
 * <p>Every buffer the session allocates comes from a tracking allocator and must be released by the end of the
 * test, as must every buffer written into the channel.
 */
class ClientStartupTest {
    private static final int V3_0 = 196608;
    private static final Duration AWAIT = Duration.ofSeconds(5);

    private final TrackingAllocator alloc = new TrackingAllocator();
    private final List<EmbeddedChannel> channels = new ArrayList<>();
    private final List<ByteBuf> inbound = new ArrayList<>();
    private final List<ProxyContext> proxies = new ArrayList<>();
    private final List<ExecutorService> routerThreads = new ArrayList<>();
    private final List<RouteRequest> routed = new CopyOnWriteArrayList<>();
    private final List<Boolean> routedOnVirtualThread = new CopyOnWriteArrayList<>();

    /** Refuses every user, as a router without a matching route does. */
    private final Router noRoute = request -> {
        record(request);
        throw new RoutingException("28000", "no route for user \"" + request.user() + "\"");
    };

    @AfterEach
    void everythingReleased() {
        for (EmbeddedChannel ch : channels) {
            ch.finishAndReleaseAll();
        }
        routerThreads.forEach(ExecutorService::shutdownNow);
        assertThat(inbound).as("buffers written into the channel").allSatisfy(b -> assertThat(b.refCnt()).isZero());
        alloc.assertAllReleased();
        for (ProxyContext p : proxies) {
            assertThat(p.stats().current()).as("open connections").isZero();
            assertThat(p.sessions()).isEmpty();
        }
    }

    // ---------------------------------------------------------------- SSLRequest and GSSENCRequest

    @Test
    void sslRequestWithoutTlsIsAnsweredNThenStartupIsRouted() {
        EmbeddedChannel ch = connect(proxy(noRoute, Limits.DEFAULT));

        send(ch, sslRequest());
        assertThat(outbound(ch)).containsExactly('N');
        assertThat(ch.isOpen()).isTrue();
        assertThat(routed).isEmpty();

        send(ch, startup("user", "x", "database", "app", "application_name", "psql"));
        assertFatalAndClosed(ch, awaitOutbound(ch), "28000", "no route for user \"x\"");

        assertThat(routed).singleElement().satisfies(r -> {
            assertThat(r.user()).isEqualTo("x");
            assertThat(r.database()).isEqualTo("app");
            assertThat(r.applicationName()).isEqualTo("psql");
            assertThat(r.parameters()).containsOnlyKeys("user", "database", "application_name");
            assertThat(r.tls()).isFalse();
            assertThat(r.sniHost()).isNull();
        });
        assertThat(routedOnVirtualThread).containsExactly(true);
    }

    @Test
    void gssEncRequestThenSslRequestThenStartup() {
        EmbeddedChannel ch = connect(proxy(noRoute, Limits.DEFAULT));

        send(ch, gssEncRequest());
        assertThat(outbound(ch)).containsExactly('N');
        send(ch, sslRequest());
        assertThat(outbound(ch)).containsExactly('N');
        assertThat(ch.isOpen()).isTrue();

        send(ch, startup("user", "x"));
        assertFatalAndClosed(ch, awaitOutbound(ch), "28000", "no route for user \"x\"");
        assertThat(routed).singleElement().satisfies(r -> assertThat(r.database()).isEqualTo("x"));
    }

    @Test
    void secondGssEncRequestIsRejected() {
        EmbeddedChannel ch = connect(proxy(noRoute, Limits.DEFAULT));

        send(ch, gssEncRequest());
        assertThat(outbound(ch)).containsExactly('N');
        send(ch, gssEncRequest());

        assertFatalAndClosed(ch, outbound(ch), "0A000", "unsupported frontend protocol 1234.5680: server supports 3.0 to 3.2");
        assertThat(routed).isEmpty();
    }

    @Test
    void secondSslRequestIsRejected() {
        // PostgreSQL takes one SSLRequest per connection: after its answer, "regular startup packet, cancel, etc
        // packet should follow, but not another SSL negotiation request" (ProcessStartupPacket), and a second one
        // is refused as an unsupported protocol version.
        EmbeddedChannel ch = connect(proxy(noRoute, Limits.DEFAULT));

        send(ch, sslRequest());
        assertThat(outbound(ch)).containsExactly('N');
        send(ch, sslRequest());

        assertFatalAndClosed(ch, outbound(ch), "0A000", "unsupported frontend protocol 1234.5679: server supports 3.0 to 3.2");
    }

    @Test
    void negotiationAndStartupInOneWriteAreAnsweredInOrder() {
        EmbeddedChannel ch = connect(proxy(noRoute, Limits.DEFAULT));

        send(ch, concat(gssEncRequest(), sslRequest(), startup("user", "x")));

        // The router may answer before the write returns: then the error is already there with the two 'N's.
        byte[] all = outbound(ch);
        if (all.length <= 2) {
            all = concat(all, awaitOutbound(ch));
        }
        assertThat(all).startsWith('N', 'N');
        assertFatalAndClosed(ch, java.util.Arrays.copyOfRange(all, 2, all.length), "28000", "no route for user \"x\"");
    }

    @Test
    void startupSentOneByteAtATime() {
        EmbeddedChannel ch = connect(proxy(noRoute, Limits.DEFAULT));
        byte[] bytes = concat(sslRequest(), startup("user", "x", "database", "db"));

        for (int i = 0; i < bytes.length - 1; i++) {
            send(ch, new byte[] {bytes[i]});
            byte[] out = outbound(ch);
            if (i == 7) {
                assertThat(out).as("the answer to SSLRequest, after its last byte").containsExactly('N');
            } else {
                assertThat(out).as("nothing after byte %d", i).isEmpty();
                assertThat(ch.isOpen()).isTrue();
            }
        }
        assertThat(routed).isEmpty();
        send(ch, new byte[] {bytes[bytes.length - 1]});

        assertFatalAndClosed(ch, awaitOutbound(ch), "28000", "no route for user \"x\"");
        assertThat(routed).singleElement().satisfies(r -> assertThat(r.database()).isEqualTo("db"));
    }

    // ---------------------------------------------------------------- malformed first packets

    @ParameterizedTest
    @ValueSource(ints = {0, 3, 7, 10_001, 1 << 24, -1, Integer.MIN_VALUE})
    void badLengthIsClosedSilentlyBeforeAnythingElse(int length) {
        // PostgreSQL's ProcessStartupPacket logs "invalid length of startup packet" (COMMERROR) and closes.
        EmbeddedChannel ch = connect(proxy(noRoute, Limits.DEFAULT));

        send(ch, WireBytes.of().int32(length).bytes());

        assertClosedWithNothingWritten(ch);
        assertThat(routed).isEmpty();
    }

    @Test
    void missingUserIsRejected() {
        EmbeddedChannel ch = connect(proxy(noRoute, Limits.DEFAULT));

        send(ch, startup("database", "app"));

        assertFatalAndClosed(ch, outbound(ch), "28000", "no PostgreSQL user name specified in startup packet");
        assertThat(routed).isEmpty();
    }

    @Test
    void protocol2IsRejected() {
        EmbeddedChannel ch = connect(proxy(noRoute, Limits.DEFAULT));

        send(ch, WireBytes.of().int32(0x0002_0000).cstring("user").cstring("x").int8(0).packet());

        assertFatalAndClosed(ch, outbound(ch), "0A000", "unsupported frontend protocol 2.0: server supports 3.0 to 3.2");
    }

    @Test
    void unknownRequestCodeIsRejected() {
        EmbeddedChannel ch = connect(proxy(noRoute, Limits.DEFAULT));

        send(ch, WireBytes.of().int32((1234 << 16) | 5681).packet());

        assertFatalAndClosed(ch, outbound(ch), "0A000", "unsupported frontend protocol 1234.5681: server supports 3.0 to 3.2");
    }

    @Test
    void startupWithoutTerminatorIsRejected() {
        EmbeddedChannel ch = connect(proxy(noRoute, Limits.DEFAULT));

        send(ch, WireBytes.of().int32(V3_0).cstring("user").cstring("x").packet());

        assertFatalAndClosed(ch, outbound(ch), "08P01", "invalid startup packet layout: expected terminator as last byte");
        assertThat(routed).isEmpty();
    }

    @Test
    void directTlsWithoutTlsConfiguredIsClosedSilently() {
        EmbeddedChannel ch = connect(proxy(noRoute, Limits.DEFAULT));

        send(ch, new byte[] {0x16, 0x03, 0x01, 0x00, 0x05, 0x01, 0, 0, 1, 0});

        assertClosedWithNothingWritten(ch);
    }

    @Test
    void incompletePacketWaitsThenTheLoginTimeoutClosesSilently() {
        EmbeddedChannel ch = connect(proxy(noRoute, Limits.DEFAULT.withLoginTimeout(Duration.ofSeconds(3))));

        send(ch, WireBytes.of().int32(100).int32(V3_0).cstring("user").bytes());
        ch.runPendingTasks();
        ch.runScheduledPendingTasks();
        assertThat(outbound(ch)).isEmpty();
        assertThat(ch.isOpen()).isTrue();

        ch.advanceTimeBy(3_001, TimeUnit.MILLISECONDS);
        ch.runScheduledPendingTasks();

        // PostgreSQL closes a connection that never completes its startup packet without a word.
        assertClosedWithNothingWritten(ch);
    }

    // ---------------------------------------------------------------- cancel requests

    @Test
    void cancelRequestWithUnknownKeyIsClosedSilently() {
        ProxyContext proxy = proxy(noRoute, Limits.DEFAULT);
        EmbeddedChannel ch = connect(proxy);

        send(ch, WireBytes.of().int32(StartupPacket.CANCEL_REQUEST_CODE).int32(4711).raw(new byte[] {1, 2, 3, 4}).packet());

        assertClosedWithNothingWritten(ch);
        assertThat(proxy.stats().cancels()).isEqualTo(1);
        assertThat(routed).isEmpty();
    }

    @ParameterizedTest
    @ValueSource(ints = {0, 257})
    void cancelRequestOfBadLengthIsClosedSilently(int secretLength) {
        // PostgreSQL logs "invalid length of cancel request packet" (COMMERROR) and closes without a word.
        ProxyContext proxy = proxy(noRoute, Limits.DEFAULT);
        EmbeddedChannel ch = connect(proxy);

        send(ch, WireBytes.of().int32(StartupPacket.CANCEL_REQUEST_CODE).int32(4711).raw(new byte[secretLength]).packet());

        assertClosedWithNothingWritten(ch);
        assertThat(proxy.stats().cancels()).isZero();
    }

    @Test
    void terminateBeforeTheStartupMessageIsClosedSilently() {
        // A driver that gives up while still connecting (node-postgres' end()) may send Terminate first: its bytes
        // read as a startup length of 1,476,395,008, which PostgreSQL answers with a close and nothing else.
        EmbeddedChannel ch = connect(proxy(noRoute, Limits.DEFAULT));

        send(ch, new byte[] {'X', 0, 0, 0, 4});

        assertClosedWithNothingWritten(ch);
        assertThat(routed).isEmpty();
    }

    @Test
    void cancelRequestWithUnknownLongKeyIsClosedSilently() {
        ProxyContext proxy = proxy(noRoute, Limits.DEFAULT);
        EmbeddedChannel ch = connect(proxy);

        send(ch, WireBytes.of().int32(StartupPacket.CANCEL_REQUEST_CODE).int32(4711).raw(new byte[32]).packet());

        assertClosedWithNothingWritten(ch);
        assertThat(proxy.stats().cancels()).isEqualTo(1);
    }

    @Test
    void cancelRequestIsServedAtTheConnectionLimit() {
        // Ctrl-C must work when the proxy is full: the limit applies to sessions, not to cancel requests.
        ProxyContext proxy = proxy(noRoute, Limits.DEFAULT.withMaxClientConnections(1));
        EmbeddedChannel session = connect(proxy);
        EmbeddedChannel cancel = connect(proxy);

        send(cancel, WireBytes.of().int32(StartupPacket.CANCEL_REQUEST_CODE).int32(1).raw(new byte[4]).packet());

        assertClosedWithNothingWritten(cancel);
        assertThat(proxy.stats().cancels()).isEqualTo(1);
        assertThat(proxy.stats().rejected()).isZero();
        assertThat(session.isOpen()).isTrue();
    }

    // ---------------------------------------------------------------- routing

    @Test
    void routerReturningNullMeansNoRoute() {
        EmbeddedChannel ch = connect(proxy(request -> {
            record(request);
            return null;
        }, Limits.DEFAULT));

        send(ch, startup("user", "nobody"));

        assertFatalAndClosed(ch, awaitOutbound(ch), "28000", "no route for user \"nobody\"");
        assertThat(routedOnVirtualThread).containsExactly(true);
    }

    @Test
    void routingExceptionKeepsItsSqlStateAndMessage() {
        EmbeddedChannel ch = connect(proxy(request -> {
            throw new RoutingException("3D000", "database \"nope\" does not exist");
        }, Limits.DEFAULT));

        send(ch, startup("user", "x", "database", "nope"));

        assertFatalAndClosed(ch, awaitOutbound(ch), "3D000", "database \"nope\" does not exist");
    }

    @Test
    void routerFailureDoesNotRevealItsCause() {
        ProxyContext proxy = proxy(request -> {
            record(request);
            throw new IllegalStateException("lookup of db7.internal:5432 failed: password=hunter2");
        }, Limits.DEFAULT);
        EmbeddedChannel ch = connect(proxy);

        send(ch, startup("user", "x"));

        byte[] out = awaitOutbound(ch);
        assertFatalAndClosed(ch, out, "08006", "could not route the connection");
        assertThat(new String(out, StandardCharsets.UTF_8)).doesNotContain("db7", "hunter2", "IllegalState");
        assertThat(proxy.stats().rejected()).isEqualTo(1);
    }

    @Test
    void slowRouterTimesOut() {
        EmbeddedChannel ch = connect(proxy(request -> {
            record(request);
            try {
                Thread.sleep(10_000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            return null;
        }, Limits.DEFAULT.withRouterTimeout(Duration.ofMillis(200))));

        long start = System.nanoTime();
        send(ch, startup("user", "x"));
        byte[] out = awaitOutbound(ch);
        long elapsedMillis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);

        assertFatalAndClosed(ch, out, "08006", "could not route the connection: timed out");
        assertThat(elapsedMillis).isBetween(150L, 5_000L);
    }

    @Test
    void bytesSentDuringRoutingAreDroppedWhenRoutingFails() throws InterruptedException {
        CountDownLatch routerCalled = new CountDownLatch(1);
        CountDownLatch answer = new CountDownLatch(1);
        EmbeddedChannel ch = connect(proxy(request -> {
            routerCalled.countDown();
            try {
                answer.await();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            throw RoutingException.noRoute(request.user());
        }, Limits.DEFAULT));
        byte[] query = WireBytes.of().cstring("SELECT 1").message('Q');

        // Pipelined: a query in the same write as the startup packet, and another while the router works.
        send(ch, concat(startup("user", "x"), query));
        assertThat(routerCalled.await(AWAIT.toMillis(), TimeUnit.MILLISECONDS)).isTrue();
        send(ch, query);
        send(ch, query);
        assertThat(outbound(ch)).isEmpty();
        answer.countDown();

        assertFatalAndClosed(ch, awaitOutbound(ch), "28000", "no route for user \"x\"");
    }

    // ---------------------------------------------------------------- limits and shutdown

    @Test
    void connectionBeyondTheLimitIsRefusedAfterItsStartupMessage() throws Exception {
        ProxyContext proxy = proxy(noRoute, Limits.DEFAULT.withMaxClientConnections(1));
        EmbeddedChannel first = connect(proxy);
        EmbeddedChannel second = connect(proxy);
        assertThat(outbound(second)).as("nothing before the startup message").isEmpty();

        send(second, startup("user", "x"));

        assertFatalAndClosed(second, outbound(second), "53300", "sorry, too many clients already");
        assertThat(first.isOpen()).isTrue();
        assertThat(routed).isEmpty();

        first.close().sync();
        first.runPendingTasks();
        assertThat(proxy.stats().current()).isZero();
        EmbeddedChannel third = connect(proxy);
        send(third, startup("user", "x"));
        assertFatalAndClosed(third, awaitOutbound(third), "28000", "no route for user \"x\"");
    }

    @Test
    void aConnectionAcceptedJustBeforeTheListenersClosedIsStillRouted() {
        // During a rolling restart the next process takes the new connections; one the draining process accepted
        // before its listeners closed logs in there, rather than failing with 57P03.
        ProxyContext proxy = proxy(noRoute, Limits.DEFAULT);
        proxy.startDraining();
        EmbeddedChannel ch = connect(proxy);

        send(ch, startup("user", "x"));

        assertFatalAndClosed(ch, awaitOutbound(ch), "28000", "no route for user \"x\"");
        assertThat(routed).hasSize(1);
    }

    // ---------------------------------------------------------------- helpers

    private void record(RouteRequest request) {
        routed.add(request);
        routedOnVirtualThread.add(Thread.currentThread().isVirtual());
    }

    private ProxyContext proxy(Router router, Limits limits) {
        ExecutorService executor = Executors.newVirtualThreadPerTaskExecutor();
        routerThreads.add(executor);
        ProxyContext proxy = new ProxyContext(router, limits, null, Transport.nio(), executor);
        proxies.add(proxy);
        return proxy;
    }

    /** A client connection: the channel becomes active with the tracking allocator in place. */
    private EmbeddedChannel connect(ProxyContext proxy) {
        EmbeddedChannel ch = EmbeddedChannel.builder().register(false).handlers(new ClientHandler(proxy)).build();
        ch.config().setAllocator(alloc);
        try {
            ch.register();
        } catch (Exception e) {
            throw new AssertionError(e);
        }
        channels.add(ch);
        return ch;
    }

    private void send(EmbeddedChannel ch, byte[] bytes) {
        ByteBuf buf = Unpooled.wrappedBuffer(bytes);
        inbound.add(buf);
        ch.writeInbound(buf);
    }

    /** Everything written to the client so far, releasing each buffer. */
    private static byte[] outbound(EmbeddedChannel ch) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (Object msg; (msg = ch.readOutbound()) != null; ) {
            ByteBuf buf = (ByteBuf) msg;
            try {
                byte[] b = new byte[buf.readableBytes()];
                buf.getBytes(buf.readerIndex(), b);
                out.writeBytes(b);
            } finally {
                buf.release();
            }
        }
        return out.toByteArray();
    }

    /**
     * Waits for the answer that comes after routing: the router runs on a virtual thread and its result comes
     * back as a task on the channel's event loop, which an {@link EmbeddedChannel} runs only when asked to.
     */
    private static byte[] awaitOutbound(EmbeddedChannel ch) {
        long deadline = System.nanoTime() + AWAIT.toNanos();
        while (true) {
            ch.runPendingTasks();
            byte[] out = outbound(ch);
            if (out.length > 0) {
                return out;
            }
            if (System.nanoTime() > deadline) {
                fail("nothing written to the client within " + AWAIT);
            }
            try {
                Thread.sleep(5);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new AssertionError(e);
            }
        }
    }

    /** The exact bytes of a FATAL ErrorResponse as pgmux sends them: S and V both FATAL, then C and M. */
    private static byte[] fatal(String sqlState, String message) {
        return WireBytes.of()
                .int8('S').cstring("FATAL")
                .int8('V').cstring("FATAL")
                .int8('C').cstring(sqlState)
                .int8('M').cstring(message)
                .int8(0).message('E');
    }

    private static void assertFatalAndClosed(EmbeddedChannel ch, byte[] out, String sqlState, String message) {
        byte[] expected = fatal(sqlState, message);
        assertThat(printable(out)).isEqualTo(printable(expected));
        assertThat(out).isEqualTo(expected);
        ch.runPendingTasks();
        assertThat(ch.isOpen()).as("closed after the error").isFalse();
        assertThat(outbound(ch)).as("nothing after the error").isEmpty();
    }

    private static void assertClosedWithNothingWritten(EmbeddedChannel ch) {
        ch.runPendingTasks();
        assertThat(outbound(ch)).isEmpty();
        assertThat(ch.isOpen()).isFalse();
    }

    /** Bytes as text with zero bytes shown as '|' and the length word in brackets, for readable failures. */
    private static String printable(byte[] b) {
        if (b.length < 5) {
            return java.util.Arrays.toString(b);
        }
        int length = ((b[1] & 0xFF) << 24) | ((b[2] & 0xFF) << 16) | ((b[3] & 0xFF) << 8) | (b[4] & 0xFF);
        String rest = new String(b, 5, b.length - 5, StandardCharsets.UTF_8).replace('\0', '|');
        return (char) b[0] + "[" + length + "]" + rest;
    }

    private static byte[] startup(String... namesAndValues) {
        WireBytes b = WireBytes.of().int32(V3_0);
        for (String s : namesAndValues) {
            b.cstring(s);
        }
        return b.int8(0).packet();
    }

    private static byte[] sslRequest() {
        return WireBytes.of().int32(StartupPacket.SSL_REQUEST_CODE).packet();
    }

    private static byte[] gssEncRequest() {
        return WireBytes.of().int32(StartupPacket.GSSENC_REQUEST_CODE).packet();
    }

    private static byte[] concat(byte[]... parts) {
        WireBytes b = WireBytes.of();
        for (byte[] p : parts) {
            b.raw(p);
        }
        return b.bytes();
    }
}
