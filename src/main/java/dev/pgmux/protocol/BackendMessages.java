package dev.pgmux.protocol;

import dev.pgmux.protocol.backend.Authentication;
import dev.pgmux.protocol.backend.AuthenticationSASL;
import dev.pgmux.protocol.backend.BackendKeyData;
import dev.pgmux.protocol.backend.NegotiateProtocolVersion;
import dev.pgmux.protocol.backend.ParameterStatus;
import dev.pgmux.protocol.backend.ReadyForQuery;
import dev.pgmux.protocol.frontend.Terminate;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import java.util.List;

/**
 * The former home of the few messages pgmux wrote or looked into, kept only until the session code uses the
 * message types: every method delegates to them, so each message is still encoded in one place. Replacements:
 * the records of {@link dev.pgmux.protocol.backend} ({@link NegotiateProtocolVersion}, {@link BackendKeyData},
 * {@link AuthenticationSASL}, the codes and mechanism names in {@link Authentication}), {@link Terminate} of
 * {@link dev.pgmux.protocol.frontend}, and {@link StartupPacket.SslRequest}, {@link StartupPacket.CancelRequest}
 * and {@link StartupPacket.PeerCancelRequest} for the packets a client sends.
 */
@Deprecated(forRemoval = true)
public final class BackendMessages {
    public static final byte AUTHENTICATION = Authentication.TYPE;
    public static final byte BACKEND_KEY_DATA = BackendKeyData.TYPE;
    public static final byte NEGOTIATE_PROTOCOL_VERSION = NegotiateProtocolVersion.TYPE;
    public static final byte ERROR_RESPONSE = ErrorResponse.TYPE;
    public static final byte READY_FOR_QUERY = ReadyForQuery.TYPE;
    public static final byte PARAMETER_STATUS = ParameterStatus.TYPE;

    public static final int AUTH_OK = Authentication.OK;
    public static final int AUTH_CLEARTEXT = Authentication.CLEARTEXT_PASSWORD;
    public static final int AUTH_MD5 = Authentication.MD5_PASSWORD;
    public static final int AUTH_SASL = Authentication.SASL;

    public static final String SCRAM_PLUS = Authentication.SCRAM_SHA_256_PLUS;

    private BackendMessages() {
    }

    /** Use {@link NegotiateProtocolVersion#encode(ByteBufAllocator)}. */
    public static ByteBuf negotiateProtocolVersion(ByteBufAllocator alloc, int newestMinor, List<String> unrecognized) {
        return new NegotiateProtocolVersion(newestMinor, unrecognized).encode(alloc);
    }

    /** Use {@link NegotiateProtocolVersion}. */
    public record ProtocolNegotiation(int newestMinor, List<String> unrecognized) {
    }

    /** Use {@link NegotiateProtocolVersion#decode}. */
    public static ProtocolNegotiation decodeNegotiateProtocolVersion(ByteBuf frame) throws ProtocolException {
        NegotiateProtocolVersion n = NegotiateProtocolVersion.decode(frame);
        return new ProtocolNegotiation(n.newestMinor(), n.unrecognized());
    }

    /** Use {@link BackendKeyData#encode(ByteBufAllocator)}. */
    public static ByteBuf backendKeyData(ByteBufAllocator alloc, int processId, byte[] secret) {
        return new BackendKeyData(processId, secret).encode(alloc);
    }

    /** The authentication request code of an 'R' frame, unchecked. Use {@link Authentication#decode}. */
    public static int authCode(ByteBuf frame) {
        return frame.getInt(frame.readerIndex() + 5);
    }

    /** Use {@link AuthenticationSASL#decode}. */
    public static List<String> saslMechanisms(ByteBuf frame) throws ProtocolException {
        return AuthenticationSASL.decode(frame).mechanisms();
    }

    /** Use {@link AuthenticationSASL#encode(ByteBufAllocator)}. */
    public static ByteBuf authenticationSasl(ByteBufAllocator alloc, List<String> mechanisms) {
        return new AuthenticationSASL(mechanisms).encode(alloc);
    }

    /** Use {@link StartupPacket.CancelRequest#encode(ByteBufAllocator)}. */
    public static ByteBuf cancelRequest(ByteBufAllocator alloc, int processId, byte[] secret) {
        return new StartupPacket.CancelRequest(processId, secret).encode(alloc);
    }

    /** Use {@link StartupPacket.PeerCancelRequest#encode(ByteBufAllocator)}. */
    public static ByteBuf peerCancelRequest(ByteBufAllocator alloc, int processId, byte[] secret) {
        return new StartupPacket.PeerCancelRequest(processId, secret).encode(alloc);
    }

    /** Use {@link StartupPacket.SslRequest#encode(ByteBufAllocator)}. */
    public static ByteBuf sslRequest(ByteBufAllocator alloc) {
        return new StartupPacket.SslRequest().encode(alloc);
    }

    /** Use {@link Terminate#encode(ByteBufAllocator)}. */
    public static ByteBuf terminate(ByteBufAllocator alloc) {
        return new Terminate().encode(alloc);
    }
}
