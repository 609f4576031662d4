package dev.pgmux.protocol;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.pgmux.protocol.BackendMessages.ProtocolNegotiation;
import dev.pgmux.protocol.StartupPacket.CancelRequest;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.PooledByteBufAllocator;
import io.netty.buffer.Unpooled;
import java.util.List;
import java.util.function.Function;
import org.junit.jupiter.api.Test;

/** The messages pgmux writes or looks into, byte by byte (protocol docs, "Message Formats"). */
class BackendMessagesTest {
    private static final ByteBufAllocator ALLOC = PooledByteBufAllocator.DEFAULT;

    private static byte[] bytes(ByteBuf buf) {
        try {
            return ByteBufUtil.getBytes(buf);
        } finally {
            buf.release();
        }
    }

    /** The encoder's output through an allocator whose buffers start with a prefix: the prefix, then the message. */
    private static void assertEncodesAfterPrefix(Function<ByteBufAllocator, ByteBuf> encoder, byte[] expected) {
        PrefixedAllocator alloc = new PrefixedAllocator(9);
        byte[] all = PrefixedAllocator.drain(encoder.apply(alloc));
        assertThat(all).isEqualTo(WireBytes.of().raw(alloc.prefixBytes()).raw(expected).bytes());
    }

    // ---------------------------------------------------------------- NegotiateProtocolVersion

    @Test
    void encodesNegotiateProtocolVersion() {
        // The version field holds the whole version code 3.2, as PostgreSQL writes it and libpq reads it.
        byte[] expected = {
            'v', 0, 0, 0, 27,
            0, 3, 0, 2,
            0, 0, 0, 2,
            '_', 'p', 'q', '_', '.', 'a', 0,
            '_', 'p', 'q', '_', '.', 'b', 'c', 0,
        };

        assertThat(bytes(BackendMessages.negotiateProtocolVersion(ALLOC, 2, List.of("_pq_.a", "_pq_.bc"))))
                .isEqualTo(expected);
    }

    @Test
    void encodesNegotiateProtocolVersionWithoutOptions() {
        assertThat(bytes(BackendMessages.negotiateProtocolVersion(ALLOC, 0, List.of())))
                .containsExactly('v', 0, 0, 0, 12, 0, 3, 0, 0, 0, 0, 0, 0);
    }

    @Test
    void encodesNegotiateProtocolVersionAtNonZeroWriterIndex() {
        List<String> options = List.of("_pq_.x", "_pq_.an_option_name_longer_than_thirty_two_bytes");
        assertEncodesAfterPrefix(a -> BackendMessages.negotiateProtocolVersion(a, 1, options),
                WireBytes.of().int32(0x0003_0001).int32(2).cstring(options.get(0)).cstring(options.get(1)).message('v'));
    }

    @Test
    void decodesNegotiateProtocolVersion() throws ProtocolException {
        ByteBuf frame = BackendMessages.negotiateProtocolVersion(ALLOC, 1, List.of("_pq_.a", "_pq_.b"));
        try {
            assertThat(BackendMessages.decodeNegotiateProtocolVersion(frame))
                    .isEqualTo(new ProtocolNegotiation(1, List.of("_pq_.a", "_pq_.b")));
            assertThat(frame.readerIndex()).isZero();
        } finally {
            frame.release();
        }
    }

    @Test
    void decodesNegotiateProtocolVersionFromTheReaderIndex() throws ProtocolException {
        byte[] message = WireBytes.of().int32(0x0003_0000).int32(1).cstring("_pq_.z").message('v');
        ByteBuf frame = Unpooled.wrappedBuffer(WireBytes.of().raw("prev").raw(message).raw("next").bytes())
                .skipBytes(4).writerIndex(4 + message.length);

        assertThat(BackendMessages.decodeNegotiateProtocolVersion(frame))
                .isEqualTo(new ProtocolNegotiation(0, List.of("_pq_.z")));
    }

    @Test
    void decodesTheMinorVersionOfAVersionCode() throws ProtocolException {
        byte[] fromPostgres = WireBytes.of().int32(0x0003_0001).int32(0).message('v');

        assertThat(BackendMessages.decodeNegotiateProtocolVersion(Unpooled.wrappedBuffer(fromPostgres)))
                .isEqualTo(new ProtocolNegotiation(1, List.of()));
    }

    @Test
    void rejectsMalformedNegotiateProtocolVersion() {
        List<byte[]> bad = List.of(
                WireBytes.of().int32(2).message('v'),                               // no option count
                WireBytes.of().int32(2).int32(-1).message('v'),                     // negative count
                WireBytes.of().int32(2).int32(3).cstring("_pq_.a").message('v'),   // fewer options than counted
                WireBytes.of().int32(2).int32(100).message('v'),                    // count beyond the frame
                WireBytes.of().int32(2).int32(1).raw("_pq_.a").message('v'));      // option without terminator
        for (byte[] frame : bad) {
            assertThatThrownBy(() -> BackendMessages.decodeNegotiateProtocolVersion(Unpooled.wrappedBuffer(frame)))
                    .isInstanceOf(ProtocolException.class)
                    .satisfies(e -> assertThat(((ProtocolException) e).sqlState()).isEqualTo("08P01"));
        }
    }

    // ---------------------------------------------------------------- BackendKeyData

    @Test
    void encodesBackendKeyDataWithFourByteSecret() {
        assertThat(bytes(BackendMessages.backendKeyData(ALLOC, 0x01020304, new byte[] {9, 8, 7, 6})))
                .containsExactly('K', 0, 0, 0, 12, 1, 2, 3, 4, 9, 8, 7, 6);
    }

    @Test
    void encodesBackendKeyDataWith32ByteSecret() {
        byte[] secret = new byte[32];
        for (int i = 0; i < 32; i++) {
            secret[i] = (byte) (i * 7);
        }

        byte[] out = bytes(BackendMessages.backendKeyData(ALLOC, -2, secret));

        assertThat(out).isEqualTo(WireBytes.of().int32(-2).raw(secret).message('K'));
        assertThat(out).startsWith('K', 0, 0, 0, 40);
    }

    @Test
    void encodesBackendKeyDataAtNonZeroWriterIndex() {
        byte[] secret = {1, 2, 3, 4, 5, 6, 7, 8};
        assertEncodesAfterPrefix(a -> BackendMessages.backendKeyData(a, 77, secret),
                WireBytes.of().int32(77).raw(secret).message('K'));
    }

    // ---------------------------------------------------------------- AuthenticationSASL

    @Test
    void encodesAuthenticationSasl() {
        byte[] expected = WireBytes.of().int32(10).cstring("SCRAM-SHA-256").int8(0).message('R');
        assertThat(expected).startsWith('R', 0, 0, 0, 23, 0, 0, 0, 10);

        assertThat(bytes(BackendMessages.authenticationSasl(ALLOC, List.of("SCRAM-SHA-256")))).isEqualTo(expected);
    }

    @Test
    void encodesAuthenticationSaslAtNonZeroWriterIndex() {
        List<String> mechanisms = List.of("SCRAM-SHA-256", "A-MECHANISM-NAME-THAT-OVERFLOWS-SIXTY-FOUR-BYTES-OF-INITIAL-CAPACITY");
        assertEncodesAfterPrefix(a -> BackendMessages.authenticationSasl(a, mechanisms),
                WireBytes.of().int32(10).cstring(mechanisms.get(0)).cstring(mechanisms.get(1)).int8(0).message('R'));
    }

    @Test
    void parsesSaslMechanisms() throws ProtocolException {
        byte[] frame = WireBytes.of().int32(10).cstring("SCRAM-SHA-256-PLUS").cstring("SCRAM-SHA-256").int8(0).message('R');
        ByteBuf buf = Unpooled.wrappedBuffer(frame);

        assertThat(BackendMessages.authCode(buf)).isEqualTo(BackendMessages.AUTH_SASL);
        assertThat(BackendMessages.saslMechanisms(buf)).containsExactly("SCRAM-SHA-256-PLUS", "SCRAM-SHA-256");
        assertThat(buf.readerIndex()).isZero();
    }

    @Test
    void parsesSaslMechanismsFromTheReaderIndex() throws ProtocolException {
        byte[] frame = WireBytes.of().int32(10).cstring("SCRAM-SHA-256").int8(0).message('R');
        ByteBuf buf = Unpooled.wrappedBuffer(WireBytes.of().raw("xyz").raw(frame).raw("Z").bytes()).skipBytes(3);
        ByteBuf slice = buf.readSlice(frame.length);

        assertThat(BackendMessages.authCode(slice)).isEqualTo(10);
        assertThat(BackendMessages.saslMechanisms(slice)).containsExactly("SCRAM-SHA-256");
    }

    @Test
    void parsesSaslMechanismsWithoutFinalTerminator() throws ProtocolException {
        byte[] frame = WireBytes.of().int32(10).cstring("SCRAM-SHA-256").message('R');

        assertThat(BackendMessages.saslMechanisms(Unpooled.wrappedBuffer(frame))).containsExactly("SCRAM-SHA-256");
    }

    @Test
    void rejectsUnterminatedSaslMechanism() {
        byte[] frame = WireBytes.of().int32(10).raw("SCRAM-SHA-256").message('R');

        assertThatThrownBy(() -> BackendMessages.saslMechanisms(Unpooled.wrappedBuffer(frame)))
                .isInstanceOf(ProtocolException.class);
    }

    @Test
    void encodedSaslRoundTrips() throws ProtocolException {
        ByteBuf frame = BackendMessages.authenticationSasl(ALLOC, List.of("SCRAM-SHA-256", "OTHER"));
        try {
            assertThat(BackendMessages.authCode(frame)).isEqualTo(10);
            assertThat(BackendMessages.saslMechanisms(frame)).containsExactly("SCRAM-SHA-256", "OTHER");
        } finally {
            frame.release();
        }
    }

    // ---------------------------------------------------------------- packets pgmux sends to backends

    @Test
    void encodesCancelRequestWithFourByteSecret() {
        assertThat(bytes(BackendMessages.cancelRequest(ALLOC, 0x0A0B0C0D, new byte[] {1, 2, 3, 4})))
                .containsExactly(0, 0, 0, 16, 0x04, 0xD2, 0x16, 0x2E, 0x0A, 0x0B, 0x0C, 0x0D, 1, 2, 3, 4);
    }

    @Test
    void encodedCancelRequestDecodesBack() throws ProtocolException {
        byte[] secret = new byte[32];
        secret[0] = 1;
        secret[31] = (byte) 0xFF;
        ByteBuf out = BackendMessages.cancelRequest(ALLOC, 4242, secret);
        try {
            assertThat(out.readableBytes()).isEqualTo(44);
            assertThat(out.getInt(0)).isEqualTo(44);
            CancelRequest c = (CancelRequest) StartupPacket.decode(out.slice(4, 40));
            assertThat(c.processId()).isEqualTo(4242);
            assertThat(c.secret()).isEqualTo(secret);
        } finally {
            out.release();
        }
    }

    @Test
    void encodesCancelRequestAtNonZeroWriterIndex() {
        assertEncodesAfterPrefix(a -> BackendMessages.cancelRequest(a, 5, new byte[] {4, 3, 2, 1}),
                WireBytes.of().int32(StartupPacket.CANCEL_REQUEST_CODE).int32(5).raw(new byte[] {4, 3, 2, 1}).packet());
    }

    @Test
    void encodesSslRequestAndTerminate() {
        assertThat(bytes(BackendMessages.sslRequest(ALLOC))).containsExactly(0, 0, 0, 8, 0x04, 0xD2, 0x16, 0x2F);
        assertThat(bytes(BackendMessages.terminate(ALLOC))).containsExactly('X', 0, 0, 0, 4);
        assertEncodesAfterPrefix(BackendMessages::sslRequest, new byte[] {0, 0, 0, 8, 0x04, (byte) 0xD2, 0x16, 0x2F});
        assertEncodesAfterPrefix(BackendMessages::terminate, new byte[] {'X', 0, 0, 0, 4});
    }
}
