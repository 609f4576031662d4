package dev.pgmux.listen;

import static dev.pgmux.testing.ProxyHeaderBytes.authority;
import static dev.pgmux.testing.ProxyHeaderBytes.concat;
import static dev.pgmux.testing.ProxyHeaderBytes.tlv;
import static dev.pgmux.testing.ProxyHeaderBytes.v1;
import static dev.pgmux.testing.ProxyHeaderBytes.v2;
import static dev.pgmux.testing.ProxyHeaderBytes.v2Local;
import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import dev.pgmux.testing.TrackingAllocator;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.embedded.EmbeddedChannel;
import java.io.ByteArrayOutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

/**
 * The PROXY header's decoder and reader in a channel of their own, with a stand-in for the session's handler: what
 * reaches the session (when it starts, with which address, which bytes) for good headers, and what closes the
 * connection for bad ones.
 */
class ProxyHeaderTest {
    static final Duration TIMEOUT = Duration.ofSeconds(15);
    /** An SSLRequest: what a PostgreSQL client sends first, 8 bytes. */
    static final byte[] SSL_REQUEST = {0, 0, 0, 8, 0x04, (byte) 0xD2, 0x16, 0x2F};

    final TrackingAllocator alloc = new TrackingAllocator();
    final List<EmbeddedChannel> channels = new ArrayList<>();
    final ListAppender<ILoggingEvent> logs = new ListAppender<>();

    /** Stands in for the session's handler: when it became active, and the bytes it got. */
    static final class Session extends ChannelInboundHandlerAdapter {
        boolean active;
        InetSocketAddress address;
        String authority;
        final ByteArrayOutputStream bytes = new ByteArrayOutputStream();

        @Override
        public void channelActive(ChannelHandlerContext ctx) {
            active = true;
            address = ClientAddress.of(ctx.channel());
            authority = ClientAddress.authority(ctx.channel());
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            ByteBuf buf = (ByteBuf) msg;
            assertThat(active).as("bytes only after the session started").isTrue();
            bytes.writeBytes(ByteBufUtil.getBytes(buf));
            buf.release();
        }
    }

    @BeforeEach
    void captureLogs() {
        logs.start();
        ((Logger) LoggerFactory.getLogger(ProxyHeaders.class)).addAppender(logs);
    }

    @AfterEach
    void releaseEverything() {
        ((Logger) LoggerFactory.getLogger(ProxyHeaders.class)).detachAppender(logs);
        for (EmbeddedChannel ch : channels) {
            ch.finishAndReleaseAll();
        }
        alloc.assertAllReleased();
    }

    EmbeddedChannel trusted(Session session) {
        ProxyHeaderDecoder decoder = new ProxyHeaderDecoder();
        EmbeddedChannel ch = EmbeddedChannel.builder().register(false)
                .handlers(decoder, new ProxyHeaderReader(decoder, TIMEOUT), session).build();
        ch.config().setAllocator(alloc);
        ch.config().setAutoRead(false);
        try {
            ch.register();
        } catch (Exception e) {
            throw new AssertionError(e);
        }
        channels.add(ch);
        return ch;
    }

    void send(EmbeddedChannel ch, byte[] bytes) {
        ch.writeInbound(alloc.of(bytes));
        ch.runPendingTasks();
    }

    List<String> refusals() {
        return logs.list.stream().map(ILoggingEvent::getFormattedMessage).toList();
    }

    @Test
    void aV1HeaderGivesTheClientAddressAndWhatFollowsGoesToTheSession() {
        Session session = new Session();
        EmbeddedChannel ch = trusted(session);
        assertThat(session.active).as("no session before the header").isFalse();

        send(ch, concat(v1("PROXY TCP4 203.0.113.7 192.0.2.1 4242 5434"), SSL_REQUEST));

        assertThat(session.active).isTrue();
        assertThat(session.address).isEqualTo(new InetSocketAddress("203.0.113.7", 4242));
        assertThat(session.authority).isNull();
        assertThat(session.bytes.toByteArray()).isEqualTo(SSL_REQUEST);
        assertThat(ch.pipeline().get(ProxyHeaderDecoder.class)).as("the decoder removed itself").isNull();
        assertThat(ch.pipeline().get(ProxyHeaderReader.class)).as("the reader removed itself").isNull();
        assertThat(ch.isOpen()).isTrue();
        assertThat(refusals()).isEmpty();
    }

    @Test
    void aHeaderThatArrivesByteByByteIsWaitedFor() {
        Session session = new Session();
        EmbeddedChannel ch = trusted(session);
        byte[] all = concat(v1("PROXY TCP6 2001:db8::7 2001:db8::1 50000 5434"), SSL_REQUEST);
        for (byte b : all) {
            send(ch, new byte[] {b});
        }
        assertThat(session.address).isEqualTo(new InetSocketAddress("2001:db8::7", 50000));
        assertThat(session.bytes.toByteArray()).isEqualTo(SSL_REQUEST);
    }

    @Test
    void aV2HeaderWithAnAuthorityTlvGivesAddressAndServerName() throws Exception {
        Session session = new Session();
        EmbeddedChannel ch = trusted(session);

        send(ch, concat(v2("198.51.100.9", 61000, "192.0.2.1", 5434, tlv(0x05, new byte[] {1, 2, 3}),
                authority("Tenant-1.DB.example.com")), SSL_REQUEST));

        assertThat(session.address).isEqualTo(new InetSocketAddress("198.51.100.9", 61000));
        assertThat(session.authority).isEqualTo("tenant-1.db.example.com");
        assertThat(session.bytes.toByteArray()).isEqualTo(SSL_REQUEST);
    }

    @Test
    void aV2LocalCommandKeepsTheConnectionsOwnAddress() {
        Session session = new Session();
        EmbeddedChannel ch = trusted(session);

        send(ch, v2Local());

        assertThat(session.active).isTrue();
        assertThat(session.address).as("an embedded channel's own peer is no IP address").isNull();
        assertThat(ch.isOpen()).isTrue();
    }

    @Test
    void aV1UnknownHeaderKeepsTheConnectionsOwnAddress() {
        Session session = new Session();
        EmbeddedChannel ch = trusted(session);

        send(ch, v1("PROXY UNKNOWN"));

        assertThat(session.active).isTrue();
        assertThat(session.address).isNull();
    }

    @Test
    void aTrustedPeerWithoutAHeaderIsClosedAtOnce() {
        Session session = new Session();
        EmbeddedChannel ch = trusted(session);

        send(ch, SSL_REQUEST); // 8 bytes: Netty's decoder alone would wait for 13 before deciding

        assertThat(ch.isOpen()).isFalse();
        assertThat(session.active).isFalse();
        assertThat(refusals()).singleElement().asString()
                .contains("reason=\"the connection does not start with a PROXY protocol header\"");
    }

    @Test
    void garbageIsClosedEvenWhenItStartsLikeAHeader() {
        Session session = new Session();
        EmbeddedChannel ch = trusted(session);
        send(ch, "PROXIMITY\r\n".getBytes(StandardCharsets.US_ASCII));
        assertThat(ch.isOpen()).isFalse();

        Session second = new Session();
        EmbeddedChannel other = trusted(second);
        send(other, v1("PROXY TCP4 203.0.113.300 192.0.2.1 1 2"));
        assertThat(other.isOpen()).isFalse();
        assertThat(second.active).isFalse();
        assertThat(refusals()).hasSize(2);
    }

    @Test
    void aV1LineLongerThanTheProtocolAllowsIsClosed() {
        Session session = new Session();
        EmbeddedChannel ch = trusted(session);

        send(ch, ("PROXY TCP4 " + "1".repeat(120)).getBytes(StandardCharsets.US_ASCII));

        assertThat(ch.isOpen()).isFalse();
        assertThat(refusals()).singleElement().asString().contains("exceeds the allowed maximum (108)");
    }

    @Test
    void v2TlvsBeyondTheCapAreClosed() throws Exception {
        Session session = new Session();
        EmbeddedChannel ch = trusted(session);

        // Netty counts the cap beyond the largest address block (216 bytes, AF_UNIX's).
        send(ch, v2("198.51.100.9", 1, "192.0.2.1", 2, tlv(0xE0, new byte[ProxyHeaderDecoder.MAX_TLV_BYTES + 216])));

        assertThat(ch.isOpen()).isFalse();
        assertThat(session.active).isFalse();
        assertThat(refusals()).singleElement().asString().contains("exceeds the allowed maximum");
    }

    @Test
    void aTruncatedHeaderIsClosedAtTheTimeout() throws Exception {
        Session session = new Session();
        EmbeddedChannel ch = trusted(session);
        byte[] header = v2("198.51.100.9", 1, "192.0.2.1", 2);

        send(ch, java.util.Arrays.copyOf(header, header.length - 3));
        ch.advanceTimeBy(TIMEOUT.toMillis() - 1000, TimeUnit.MILLISECONDS);
        ch.runScheduledPendingTasks();
        assertThat(ch.isOpen()).as("still waiting for the rest").isTrue();

        ch.advanceTimeBy(1000, TimeUnit.MILLISECONDS);
        ch.runScheduledPendingTasks();
        assertThat(ch.isOpen()).isFalse();
        assertThat(session.active).isFalse();
        assertThat(refusals()).singleElement().asString()
                .contains("reason=\"no complete PROXY protocol header within 15000 ms\"");
    }

    @Test
    void aPeerThatLeavesMidHeaderIsLoggedOneThatSendsNothingIsNot() {
        Session session = new Session();
        EmbeddedChannel ch = trusted(session);
        send(ch, "PROXY TCP4 203.0".getBytes(StandardCharsets.US_ASCII));
        ch.close();
        assertThat(refusals()).singleElement().asString().contains("closed in the middle of its PROXY protocol header");

        EmbeddedChannel healthCheck = trusted(new Session());
        healthCheck.close();
        assertThat(refusals()).hasSize(1);
    }

    @Test
    void startsLikeHeaderLooksOnlyAtTheBytesThereAre() {
        assertThat(ProxyHeaders.startsLikeHeader(Unpooled.wrappedBuffer("PROX".getBytes(StandardCharsets.US_ASCII))))
                .isTrue();
        assertThat(ProxyHeaders.startsLikeHeader(Unpooled.wrappedBuffer(v1("PROXY TCP4 1.2.3.4 1.2.3.5 1 2"))))
                .isTrue();
        assertThat(ProxyHeaders.startsLikeHeader(Unpooled.wrappedBuffer(v2Local()))).isTrue();
        assertThat(ProxyHeaders.startsLikeHeader(Unpooled.wrappedBuffer(new byte[] {0x0D, 0x0A, 0x0D, 0x0B})))
                .isFalse();
        assertThat(ProxyHeaders.startsLikeHeader(Unpooled.wrappedBuffer("PROXIMITY".getBytes(StandardCharsets.US_ASCII))))
                .isFalse();
        assertThat(ProxyHeaders.startsLikeHeader(Unpooled.wrappedBuffer(SSL_REQUEST))).isFalse();
        assertThat(ProxyHeaders.startsLikeHeader(Unpooled.EMPTY_BUFFER)).isFalse();
    }
}
