package dev.pgmux.protocol;

import static dev.pgmux.protocol.MessageAssertions.bytes;
import static dev.pgmux.protocol.MessageAssertions.decodeInPlace;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.pgmux.protocol.BackendMessages.ProtocolNegotiation;
import dev.pgmux.protocol.backend.AuthenticationSASL;
import dev.pgmux.protocol.backend.BackendKeyData;
import dev.pgmux.protocol.backend.NegotiateProtocolVersion;
import dev.pgmux.protocol.frontend.Terminate;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.PooledByteBufAllocator;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The deprecated {@link BackendMessages} gives what the message types give, until the session code moves over and
 * both go. The messages themselves are tested in {@code backend.BackendMessageTest}, {@code
 * frontend.FrontendMessageTest} and {@link StartupPacketTest}.
 */
@SuppressWarnings("removal")
class BackendMessagesTest {
    private static final ByteBufAllocator ALLOC = PooledByteBufAllocator.DEFAULT;

    @Test
    void encodersGiveTheBytesOfTheMessageTypes() {
        byte[] secret = {1, 2, 3, 4, 5, 6, 7, 8};
        List<String> options = List.of("_pq_.a", "_pq_.bc");
        assertThat(bytes(BackendMessages.negotiateProtocolVersion(ALLOC, 2, options)))
                .isEqualTo(bytes(new NegotiateProtocolVersion(2, options).encode(ALLOC)))
                .isEqualTo(WireBytes.of().int32(0x0003_0002).int32(2).cstring("_pq_.a").cstring("_pq_.bc").message('v'));
        assertThat(bytes(BackendMessages.backendKeyData(ALLOC, 77, secret)))
                .isEqualTo(bytes(new BackendKeyData(77, secret).encode(ALLOC)));
        assertThat(bytes(BackendMessages.authenticationSasl(ALLOC, List.of("SCRAM-SHA-256"))))
                .isEqualTo(bytes(new AuthenticationSASL(List.of("SCRAM-SHA-256")).encode(ALLOC)));
        assertThat(bytes(BackendMessages.cancelRequest(ALLOC, 5, secret)))
                .isEqualTo(bytes(new StartupPacket.CancelRequest(5, secret).encode(ALLOC)));
        assertThat(bytes(BackendMessages.peerCancelRequest(ALLOC, 5, secret)))
                .isEqualTo(bytes(new StartupPacket.PeerCancelRequest(5, secret).encode(ALLOC)));
        assertThat(bytes(BackendMessages.sslRequest(ALLOC))).isEqualTo(bytes(new StartupPacket.SslRequest().encode(ALLOC)));
        assertThat(bytes(BackendMessages.terminate(ALLOC))).isEqualTo(bytes(new Terminate().encode(ALLOC)));
    }

    @Test
    void decodersGiveWhatTheMessageTypesGive() throws ProtocolException {
        byte[] negotiation = WireBytes.of().int32(0x0003_0001).int32(1).cstring("_pq_.z").message('v');
        byte[] sasl = WireBytes.of().int32(10).cstring("SCRAM-SHA-256-PLUS").cstring("SCRAM-SHA-256").int8(0).message('R');

        assertThat(decodeInPlace(negotiation, BackendMessages::decodeNegotiateProtocolVersion))
                .isEqualTo(new ProtocolNegotiation(1, List.of("_pq_.z")));
        assertThat(decodeInPlace(sasl, BackendMessages::authCode)).isEqualTo(BackendMessages.AUTH_SASL);
        assertThat(decodeInPlace(sasl, BackendMessages::saslMechanisms))
                .containsExactly("SCRAM-SHA-256-PLUS", "SCRAM-SHA-256");
        assertThatThrownBy(() -> decodeInPlace(WireBytes.of().int32(2).int32(-1).message('v'),
                BackendMessages::decodeNegotiateProtocolVersion)).isInstanceOf(ProtocolException.class);
    }

    @Test
    void constantsAreThoseOfTheMessageTypes() {
        assertThat(new byte[] {BackendMessages.AUTHENTICATION, BackendMessages.BACKEND_KEY_DATA,
                BackendMessages.NEGOTIATE_PROTOCOL_VERSION, BackendMessages.ERROR_RESPONSE,
                BackendMessages.READY_FOR_QUERY, BackendMessages.PARAMETER_STATUS})
                .containsExactly('R', 'K', 'v', 'E', 'Z', 'S');
        assertThat(List.of(BackendMessages.AUTH_OK, BackendMessages.AUTH_CLEARTEXT, BackendMessages.AUTH_MD5,
                BackendMessages.AUTH_SASL)).containsExactly(0, 3, 5, 10);
        assertThat(BackendMessages.SCRAM_PLUS).isEqualTo("SCRAM-SHA-256-PLUS");
    }
}
