package dev.pgmux.protocol;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.entry;

import dev.pgmux.protocol.StartupPacket.CancelRequest;
import dev.pgmux.protocol.StartupPacket.GssEncRequest;
import dev.pgmux.protocol.StartupPacket.PeerCancelRequest;
import dev.pgmux.protocol.StartupPacket.SslRequest;
import dev.pgmux.protocol.StartupPacket.StartupMessage;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.PooledByteBufAllocator;
import io.netty.buffer.Unpooled;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.IntStream;
import org.assertj.core.api.AbstractThrowableAssert;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Startup packets byte by byte (protocol docs, "Message Formats": StartupMessage, SSLRequest, GSSENCRequest, CancelRequest). */
class StartupPacketTest {
    private static final int V3_0 = 196608;
    private static final int V3_2 = 196610;

    /** Decodes a packet given with its length word, as the session does: the length is checked, then cut off. */
    private static StartupPacket decodePacket(byte[] packet) throws ProtocolException {
        ByteBuf buf = Unpooled.wrappedBuffer(packet);
        try {
            int length = StartupPacket.checkLength(buf.getInt(0));
            assertThat(length).as("length word").isEqualTo(packet.length);
            StartupPacket p = StartupPacket.decode(buf.slice(4, length - 4));
            assertThat(buf.refCnt()).as("decode neither releases nor retains").isEqualTo(1);
            return p;
        } finally {
            buf.release();
        }
    }

    private static AbstractThrowableAssert<?, ? extends Throwable> assertRejected(byte[] packet, String sqlState,
                                                                                   String message) {
        return assertThatThrownBy(() -> decodePacket(packet))
                .isInstanceOf(ProtocolException.class)
                .hasMessage(message)
                .satisfies(e -> assertThat(((ProtocolException) e).sqlState()).isEqualTo(sqlState));
    }

    // ---------------------------------------------------------------- StartupMessage

    @Test
    void decodesStartupMessage30InClientOrder() throws ProtocolException {
        byte[] packet = WireBytes.of().int32(V3_0)
                .cstring("user").cstring("alice")
                .cstring("database").cstring("app")
                .cstring("application_name").cstring("psql")
                .cstring("client_encoding").cstring("UTF8")
                .int8(0).packet();
        assertThat(packet).startsWith(0, 0, 0, 76, 0, 3, 0, 0);

        StartupMessage m = (StartupMessage) decodePacket(packet);

        assertThat(m.major()).isEqualTo(3);
        assertThat(m.minor()).isEqualTo(0);
        assertThat(m.parameters()).containsExactly(entry("user", "alice"), entry("database", "app"),
                entry("application_name", "psql"), entry("client_encoding", "UTF8"));
        assertThat(m.protocolOptions()).isEmpty();
        assertThat(m.user()).isEqualTo("alice");
        assertThat(m.database()).isEqualTo("app");
    }

    @Test
    void decodesStartupMessage32AndSplitsOutProtocolOptions() throws ProtocolException {
        byte[] packet = WireBytes.of().int32(V3_2)
                .cstring("_pq_.first").cstring("1")
                .cstring("user").cstring("bob")
                .cstring("_pq_.second").cstring("")
                .cstring("options").cstring("-c search_path=x")
                .int8(0).packet();

        StartupMessage m = (StartupMessage) decodePacket(packet);

        assertThat(m.major()).isEqualTo(3);
        assertThat(m.minor()).isEqualTo(2);
        assertThat(m.parameters()).containsExactly(entry("user", "bob"), entry("options", "-c search_path=x"));
        assertThat(m.protocolOptions()).containsExactly("_pq_.first", "_pq_.second");
    }

    @Test
    void acceptsUnknownMinorVersionForNegotiation() throws ProtocolException {
        byte[] packet = WireBytes.of().int32(0x0003_0063).cstring("user").cstring("u").int8(0).packet();

        StartupMessage m = (StartupMessage) decodePacket(packet);

        assertThat(m.major()).isEqualTo(3);
        assertThat(m.minor()).isEqualTo(99);
    }

    @Test
    void lastValueOfRepeatedParameterWinsAndTakesTheLastPosition() throws ProtocolException {
        byte[] packet = WireBytes.of().int32(V3_0)
                .cstring("user").cstring("first")
                .cstring("options").cstring("-c a=1")
                .cstring("user").cstring("second")
                .int8(0).packet();

        StartupMessage m = (StartupMessage) decodePacket(packet);

        assertThat(m.parameters()).containsExactly(entry("options", "-c a=1"), entry("user", "second"));
        assertThat(m.user()).isEqualTo("second");
    }

    @Test
    void databaseDefaultsToUser() throws ProtocolException {
        StartupMessage none = (StartupMessage) decodePacket(
                WireBytes.of().int32(V3_0).cstring("user").cstring("carol").int8(0).packet());
        StartupMessage empty = (StartupMessage) decodePacket(
                WireBytes.of().int32(V3_0).cstring("user").cstring("carol").cstring("database").cstring("").int8(0).packet());

        assertThat(none.database()).isEqualTo("carol");
        assertThat(empty.database()).isEqualTo("carol");
        assertThat(none.parameters()).doesNotContainKey("database");
    }

    @Test
    void decodesUtf8Values() throws ProtocolException {
        StartupMessage m = (StartupMessage) decodePacket(
                WireBytes.of().int32(V3_0).cstring("user").cstring("zoë").cstring("database").cstring("日本").int8(0).packet());

        assertThat(m.user()).isEqualTo("zoë");
        assertThat(m.database()).isEqualTo("日本");
    }

    @Test
    void parametersAreReadOnly() throws ProtocolException {
        StartupMessage m = (StartupMessage) decodePacket(
                WireBytes.of().int32(V3_0).cstring("user").cstring("u").int8(0).packet());

        assertThatThrownBy(() -> m.parameters().put("user", "other")).isInstanceOf(UnsupportedOperationException.class);
        assertThatThrownBy(() -> m.protocolOptions().add("_pq_.x")).isInstanceOf(UnsupportedOperationException.class);
    }

    // ---------------------------------------------------------------- negotiation and cancel requests

    @Test
    void decodesSslRequest() throws ProtocolException {
        byte[] packet = {0, 0, 0, 8, 0x04, (byte) 0xD2, 0x16, 0x2F};

        assertThat(decodePacket(packet)).isInstanceOf(SslRequest.class);
    }

    @Test
    void decodesGssEncRequest() throws ProtocolException {
        byte[] packet = {0, 0, 0, 8, 0x04, (byte) 0xD2, 0x16, 0x30};

        assertThat(decodePacket(packet)).isInstanceOf(GssEncRequest.class);
    }

    @Test
    void decodesCancelRequestWithFourByteSecret() throws ProtocolException {
        byte[] packet = {0, 0, 0, 16, 0x04, (byte) 0xD2, 0x16, 0x2E, 0, 0, 0x30, 0x39, 1, 2, 3, (byte) 0xFF};

        CancelRequest c = (CancelRequest) decodePacket(packet);

        assertThat(c.processId()).isEqualTo(12345);
        assertThat(c.secret()).containsExactly(1, 2, 3, 0xFF);
    }

    @Test
    void decodesCancelRequestWith32ByteSecret() throws ProtocolException {
        byte[] secret = new byte[32];
        for (int i = 0; i < secret.length; i++) {
            secret[i] = (byte) (0xF0 - i);
        }
        byte[] packet = WireBytes.of().int32(StartupPacket.CANCEL_REQUEST_CODE).int32(-7).raw(secret).packet();
        assertThat(packet).hasSize(44);

        CancelRequest c = (CancelRequest) decodePacket(packet);

        assertThat(c.processId()).isEqualTo(-7);
        assertThat(c.secret()).isEqualTo(secret);
    }

    @Test
    void acceptsCancelSecretUpTo256Bytes() throws ProtocolException {
        byte[] packet = WireBytes.of().int32(StartupPacket.CANCEL_REQUEST_CODE).int32(1).raw(new byte[256]).packet();

        assertThat(((CancelRequest) decodePacket(packet)).secret()).hasSize(256);
    }

    @ParameterizedTest
    @ValueSource(ints = {0, 3, 257})
    void rejectsCancelSecretOfBadLength(int secretLength) {
        byte[] packet = WireBytes.of().int32(StartupPacket.CANCEL_REQUEST_CODE).int32(1).raw(new byte[secretLength]).packet();

        assertRejected(packet, "08P01", "invalid length of cancel request packet");
        assertThatThrownBy(() -> decodePacket(packet)).isInstanceOfSatisfying(ProtocolException.class,
                e -> assertThat(e.silent()).as("closed without a word, as PostgreSQL does").isTrue());
    }

    @Test
    void rejectsCancelRequestWithoutProcessId() {
        assertRejected(WireBytes.of().int32(StartupPacket.CANCEL_REQUEST_CODE).packet(), "08P01",
                "invalid length of cancel request packet");
    }

    // ---------------------------------------------------------------- malformed startup messages

    @Test
    void rejectsMissingUser() {
        byte[] packet = WireBytes.of().int32(V3_0).cstring("database").cstring("app").int8(0).packet();

        assertRejected(packet, "28000", "no PostgreSQL user name specified in startup packet");
    }

    @Test
    void rejectsEmptyUser() {
        byte[] packet = WireBytes.of().int32(V3_0).cstring("user").cstring("").cstring("database").cstring("app")
                .int8(0).packet();

        assertRejected(packet, "28000", "no PostgreSQL user name specified in startup packet");
    }

    @Test
    void rejectsEmptyParameterList() {
        assertRejected(WireBytes.of().int32(V3_0).int8(0).packet(), "28000",
                "no PostgreSQL user name specified in startup packet");
    }

    @Test
    void rejectsVersionWithoutParameterList() {
        assertRejected(WireBytes.of().int32(V3_0).packet(), "08P01",
                "invalid startup packet layout: expected terminator as last byte");
    }

    @Test
    void rejectsLastValueWithoutTerminator() {
        // The last byte is zero, but it ends the value "alice": the list terminator is missing. PostgreSQL
        // requires the terminator exactly at the end of the packet.
        byte[] packet = WireBytes.of().int32(V3_0).cstring("user").cstring("alice").packet();

        assertRejected(packet, "08P01", "invalid startup packet layout: expected terminator as last byte");
    }

    @Test
    void rejectsUnterminatedValue() {
        byte[] packet = WireBytes.of().int32(V3_0).cstring("user").raw("alice").packet();

        assertRejected(packet, "08P01", "invalid startup packet layout: expected terminator as last byte");
    }

    @Test
    void rejectsNameWithoutValue() {
        byte[] packet = WireBytes.of().int32(V3_0).cstring("user").cstring("alice").cstring("database").packet();

        assertRejected(packet, "08P01", "invalid startup packet layout: expected terminator as last byte");
    }

    @Test
    void rejectsBytesAfterTerminator() {
        byte[] packet = WireBytes.of().int32(V3_0).cstring("user").cstring("alice").int8(0).cstring("junk").packet();

        assertRejected(packet, "08P01", "invalid startup packet layout: expected terminator as last byte");
    }

    @Test
    void rejectsProtocol2() {
        byte[] packet = WireBytes.of().int32(0x0002_0000).cstring("user").cstring("alice").int8(0).packet();

        assertRejected(packet, "0A000", "unsupported frontend protocol 2.0: server supports 3.0 to 3.2");
    }

    @Test
    void rejectsUnknownRequestCodeAsProtocolVersion() {
        // 1234.5678 to 1234.5680 are the cancel, SSL and GSS codes; 1234.5681 is none of them.
        byte[] packet = WireBytes.of().int32((1234 << 16) | 5681).packet();

        assertRejected(packet, "0A000", "unsupported frontend protocol 1234.5681: server supports 3.0 to 3.2");
    }

    @Test
    void checksVersionBeforeLayout() {
        byte[] packet = WireBytes.of().int32(0x0004_0001).raw("garbage").packet();

        assertRejected(packet, "0A000", "unsupported frontend protocol 4.1: server supports 3.0 to 3.2");
    }

    @Test
    void rejectsPacketShorterThanItsCode() {
        for (int n = 0; n < 4; n++) {
            ByteBuf buf = Unpooled.wrappedBuffer(new byte[n]);
            try {
                assertThatThrownBy(() -> StartupPacket.decode(buf))
                        .isInstanceOf(ProtocolException.class)
                        .hasMessage("invalid length of startup packet");
            } finally {
                buf.release();
            }
        }
    }

    // ---------------------------------------------------------------- length word

    @ParameterizedTest
    @ValueSource(ints = {8, 9, 10_000})
    void acceptsLengthsInRange(int length) throws ProtocolException {
        assertThat(StartupPacket.checkLength(length)).isEqualTo(length);
    }

    @ParameterizedTest
    @ValueSource(ints = {0, 4, 7, 10_001, 1 << 30, -1, Integer.MIN_VALUE})
    void rejectsLengthsOutOfRange(int length) {
        assertThatThrownBy(() -> StartupPacket.checkLength(length))
                .isInstanceOf(ProtocolException.class)
                .hasMessage("invalid length of startup packet")
                .satisfies(e -> assertThat(((ProtocolException) e).sqlState()).isEqualTo("08P01"));
    }

    // ---------------------------------------------------------------- encoding

    private static StartupMessage sample() {
        Map<String, String> params = new LinkedHashMap<>();
        params.put("user", "alice");
        params.put("database", "app");
        params.put("application_name", "pgmux ü");
        return new StartupMessage(3, 2, params, List.of());
    }

    private static byte[] sampleBytes() {
        return WireBytes.of().int32(V3_2)
                .cstring("user").cstring("alice")
                .cstring("database").cstring("app")
                .cstring("application_name").cstring("pgmux ü")
                .int8(0).packet();
    }

    @Test
    void encodesByteExact() {
        ByteBuf out = sample().encode(PooledByteBufAllocator.DEFAULT);
        try {
            assertThat(ByteBufUtil.getBytes(out)).isEqualTo(sampleBytes());
        } finally {
            out.release();
        }
    }

    @Test
    void encodeThenDecodeGivesTheSameMessage() throws ProtocolException {
        ByteBuf out = sample().encode(PooledByteBufAllocator.DEFAULT);
        byte[] bytes;
        try {
            bytes = ByteBufUtil.getBytes(out);
        } finally {
            out.release();
        }

        assertThat(decodePacket(bytes)).isEqualTo(sample());
    }

    @Test
    void encodesAtNonZeroWriterIndex() {
        PrefixedAllocator alloc = new PrefixedAllocator(7);

        byte[] all = PrefixedAllocator.drain(sample().encode(alloc));

        byte[] expected = WireBytes.of().raw(alloc.prefixBytes()).raw(sampleBytes()).bytes();
        assertThat(all).isEqualTo(expected);
    }

    @Test
    void encodesLongMessagesBeyondTheInitialCapacity() throws ProtocolException {
        Map<String, String> params = new LinkedHashMap<>();
        params.put("user", "u");
        IntStream.range(0, 50).forEach(i -> params.put("p" + i, "v".repeat(i)));
        StartupMessage m = new StartupMessage(3, 0, params, List.of());

        byte[] all = PrefixedAllocator.drain(m.encode(new PrefixedAllocator(3)));

        byte[] packet = java.util.Arrays.copyOfRange(all, 3, all.length);
        assertThat(decodePacket(packet)).isEqualTo(m);
    }

    // ---------------------------------------------------------------- packets pgmux sends to backends and peers

    @Test
    void encodesSslRequest() throws ProtocolException {
        byte[] expected = {0, 0, 0, 8, 0x04, (byte) 0xD2, 0x16, 0x2F};
        SslRequest ssl = new SslRequest();

        MessageAssertions.assertEncodes(ssl::encode, ssl::encode, expected);
        assertThat(decodePacket(expected)).isEqualTo(ssl);
    }

    @Test
    void encodesCancelRequestWithFourByteSecret() throws ProtocolException {
        byte[] expected = {0, 0, 0, 16, 0x04, (byte) 0xD2, 0x16, 0x2E, 0x0A, 0x0B, 0x0C, 0x0D, 1, 2, 3, 4};
        CancelRequest cancel = new CancelRequest(0x0A0B0C0D, new byte[] {1, 2, 3, 4});

        MessageAssertions.assertEncodes(cancel::encode, cancel::encode, expected);
        MessageAssertions.assertSameMessage(decodePacket(expected), cancel);
    }

    @Test
    void encodesCancelRequestWith32ByteSecret() throws ProtocolException {
        byte[] secret = new byte[32];
        secret[0] = 1;
        secret[31] = (byte) 0xFF;
        CancelRequest cancel = new CancelRequest(4242, secret);
        byte[] expected = WireBytes.of().int32(StartupPacket.CANCEL_REQUEST_CODE).int32(4242).raw(secret).packet();
        assertThat(expected).startsWith(0, 0, 0, 44);

        MessageAssertions.assertEncodes(cancel::encode, cancel::encode, expected);
        MessageAssertions.assertSameMessage(decodePacket(expected), cancel);
    }

    @Test
    void encodesPeerCancelRequest() throws ProtocolException {
        byte[] secret = new byte[32];
        secret[5] = 9;
        PeerCancelRequest cancel = new PeerCancelRequest(-7, secret);
        // pgmux's own code 1234.5699
        byte[] expected = WireBytes.of().int32(0x04D2_1643).int32(-7).raw(secret).packet();

        MessageAssertions.assertEncodes(cancel::encode, cancel::encode, expected);
        MessageAssertions.assertSameMessage(decodePacket(expected), cancel);
    }
}
