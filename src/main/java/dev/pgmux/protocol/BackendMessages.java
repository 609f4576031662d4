package dev.pgmux.protocol;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import java.util.ArrayList;
import java.util.List;

/**
 * Encoders and decoders for the few messages pgmux creates or looks into (protocol docs, "Message Formats").
 * Frames are passed whole: type byte, Int32 length, body.
 */
public final class BackendMessages {
    public static final byte AUTHENTICATION = 'R';
    public static final byte BACKEND_KEY_DATA = 'K';
    public static final byte NEGOTIATE_PROTOCOL_VERSION = 'v';
    public static final byte ERROR_RESPONSE = 'E';
    public static final byte READY_FOR_QUERY = 'Z';
    public static final byte PARAMETER_STATUS = 'S';

    public static final int AUTH_OK = 0;
    public static final int AUTH_CLEARTEXT = 3;
    public static final int AUTH_MD5 = 5;
    public static final int AUTH_SASL = 10;

    public static final String SCRAM_PLUS = "SCRAM-SHA-256-PLUS";

    private BackendMessages() {
    }

    /**
     * NegotiateProtocolVersion: the newest minor version supported and the options not recognized. The docs call
     * the first field the "newest minor protocol version", but PostgreSQL writes the whole version code
     * ({@code 3 << 16 | minor}) and libpq reads it so: pgmux writes what PostgreSQL writes.
     */
    public static ByteBuf negotiateProtocolVersion(ByteBufAllocator alloc, int newestMinor, List<String> unrecognized) {
        ByteBuf out = alloc.buffer(16 + 32 * unrecognized.size());
        int start = out.writerIndex();
        out.writeByte(NEGOTIATE_PROTOCOL_VERSION).writeInt(0).writeInt((3 << 16) | newestMinor)
                .writeInt(unrecognized.size());
        for (String option : unrecognized) {
            Wire.writeCString(out, option);
        }
        out.setInt(start + 1, out.writerIndex() - start - 1);
        return out;
    }

    /** Decoded NegotiateProtocolVersion body. */
    public record ProtocolNegotiation(int newestMinor, List<String> unrecognized) {
    }

    public static ProtocolNegotiation decodeNegotiateProtocolVersion(ByteBuf frame) throws ProtocolException {
        ByteBuf body = frame.slice(frame.readerIndex() + 5, frame.readableBytes() - 5);
        if (body.readableBytes() < 8) {
            throw new ProtocolException(SqlState.PROTOCOL_VIOLATION, "invalid NegotiateProtocolVersion message");
        }
        int minor = body.readInt() & 0xFFFF; // a version code (3 << 16 | minor), see above
        int n = body.readInt();
        if (n < 0 || n > body.readableBytes()) {
            throw new ProtocolException(SqlState.PROTOCOL_VIOLATION, "invalid NegotiateProtocolVersion message");
        }
        List<String> options = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            options.add(Wire.readCString(body));
        }
        return new ProtocolNegotiation(minor, options);
    }

    /** BackendKeyData: process id and a secret of 4 bytes (3.0) or up to 256 bytes (3.2). */
    public static ByteBuf backendKeyData(ByteBufAllocator alloc, int processId, byte[] secret) {
        ByteBuf out = alloc.buffer(9 + secret.length);
        out.writeByte(BACKEND_KEY_DATA).writeInt(8 + secret.length).writeInt(processId).writeBytes(secret);
        return out;
    }

    /** The authentication request code of an 'R' frame. */
    public static int authCode(ByteBuf frame) {
        return frame.getInt(frame.readerIndex() + 5);
    }

    /** The SASL mechanisms of an AuthenticationSASL frame. */
    public static List<String> saslMechanisms(ByteBuf frame) throws ProtocolException {
        ByteBuf body = frame.slice(frame.readerIndex() + 9, frame.readableBytes() - 9);
        List<String> mechanisms = new ArrayList<>();
        while (body.isReadable()) {
            String m = Wire.readCString(body);
            if (m.isEmpty()) {
                break;
            }
            mechanisms.add(m);
        }
        return mechanisms;
    }

    public static ByteBuf authenticationSasl(ByteBufAllocator alloc, List<String> mechanisms) {
        ByteBuf out = alloc.buffer(64);
        int start = out.writerIndex();
        out.writeByte(AUTHENTICATION).writeInt(0).writeInt(AUTH_SASL);
        for (String m : mechanisms) {
            Wire.writeCString(out, m);
        }
        out.writeByte(0);
        out.setInt(start + 1, out.writerIndex() - start - 1);
        return out;
    }

    /** A CancelRequest packet for a backend, with the backend's own key. */
    public static ByteBuf cancelRequest(ByteBufAllocator alloc, int processId, byte[] secret) {
        return cancelRequest(alloc, StartupPacket.CANCEL_REQUEST_CODE, processId, secret);
    }

    /** A cancel request for another pgmux instance of a cluster. */
    public static ByteBuf peerCancelRequest(ByteBufAllocator alloc, int processId, byte[] secret) {
        return cancelRequest(alloc, StartupPacket.PEER_CANCEL_REQUEST_CODE, processId, secret);
    }

    private static ByteBuf cancelRequest(ByteBufAllocator alloc, int code, int processId, byte[] secret) {
        ByteBuf out = alloc.buffer(12 + secret.length);
        out.writeInt(12 + secret.length).writeInt(code).writeInt(processId).writeBytes(secret);
        return out;
    }

    /** An SSLRequest packet, as sent to a backend. */
    public static ByteBuf sslRequest(ByteBufAllocator alloc) {
        return alloc.buffer(8).writeInt(8).writeInt(StartupPacket.SSL_REQUEST_CODE);
    }

    /** A Terminate ('X') message. */
    public static ByteBuf terminate(ByteBufAllocator alloc) {
        return alloc.buffer(5).writeByte('X').writeInt(4);
    }
}
