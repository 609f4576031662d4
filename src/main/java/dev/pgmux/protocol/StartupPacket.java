package dev.pgmux.protocol;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The first packets a client sends: Int32 length, Int32 code, body, and no type byte (protocol docs, "Message
 * Formats": StartupMessage, SSLRequest, GSSENCRequest, CancelRequest).
 */
public sealed interface StartupPacket {

    /** Packets longer than this are rejected before any allocation, as PostgreSQL does (MAX_STARTUP_PACKET_LENGTH). */
    int MAX_LENGTH = 10_000;
    int MIN_LENGTH = 8;

    int SSL_REQUEST_CODE = 80877103;
    int GSSENC_REQUEST_CODE = 80877104;
    int CANCEL_REQUEST_CODE = 80877102;
    /**
     * pgmux's own code (1234.5699) for a cancel request passed on by another instance of a cluster: handled where
     * it arrives and never passed on again, so that inconsistent peer lists cannot make a loop.
     */
    int PEER_CANCEL_REQUEST_CODE = (1234 << 16) | 5699;

    /** The newest protocol minor version pgmux speaks (3.2, PostgreSQL 18). */
    int NEWEST_MINOR = 2;

    record SslRequest() implements StartupPacket {
        /** Writes the packet at the writer index of {@code out}, as pgmux sends it to a backend. */
        public void encode(ByteBuf out) {
            out.writeInt(8).writeInt(SSL_REQUEST_CODE);
        }

        public ByteBuf encode(ByteBufAllocator alloc) {
            ByteBuf out = alloc.buffer(8);
            encode(out);
            return out;
        }
    }

    record GssEncRequest() implements StartupPacket {
    }

    /** A cancel key: the process id and a secret of 4 bytes (protocol 3.0) or up to 256 bytes (3.2). */
    record CancelRequest(int processId, byte[] secret) implements StartupPacket {
        /** Writes the packet at the writer index of {@code out}, as pgmux sends it to a backend with its own key. */
        public void encode(ByteBuf out) {
            encodeCancel(out, CANCEL_REQUEST_CODE, processId, secret);
        }

        public ByteBuf encode(ByteBufAllocator alloc) {
            ByteBuf out = alloc.buffer(12 + secret.length);
            encode(out);
            return out;
        }
    }

    /** A {@link CancelRequest} passed on by another pgmux instance (see {@link #PEER_CANCEL_REQUEST_CODE}). */
    record PeerCancelRequest(int processId, byte[] secret) implements StartupPacket {
        /** Writes the packet at the writer index of {@code out}, as pgmux sends it to another instance. */
        public void encode(ByteBuf out) {
            encodeCancel(out, PEER_CANCEL_REQUEST_CODE, processId, secret);
        }

        public ByteBuf encode(ByteBufAllocator alloc) {
            ByteBuf out = alloc.buffer(12 + secret.length);
            encode(out);
            return out;
        }
    }

    private static void encodeCancel(ByteBuf out, int code, int processId, byte[] secret) {
        out.writeInt(12 + secret.length).writeInt(code).writeInt(processId).writeBytes(secret);
    }

    /**
     * A StartupMessage. {@code parameters} keeps the client's order, the last value of a repeated name, and no
     * {@code _pq_.} protocol options, which are listed apart.
     */
    record StartupMessage(int major, int minor, Map<String, String> parameters, java.util.List<String> protocolOptions)
            implements StartupPacket {
        public StartupMessage {
            parameters = Collections.unmodifiableMap(new LinkedHashMap<>(parameters));
            protocolOptions = java.util.List.copyOf(protocolOptions);
        }

        public String user() {
            return parameters.get("user");
        }

        /** The database, which defaults to the user name as in PostgreSQL. */
        public String database() {
            String db = parameters.get("database");
            return db == null || db.isEmpty() ? user() : db;
        }

        /** Encodes this message for a backend; the length is patched relative to the message start. */
        public ByteBuf encode(ByteBufAllocator alloc) {
            ByteBuf out = alloc.buffer(128);
            int start = out.writerIndex();
            out.writeInt(0).writeInt((major << 16) | minor);
            parameters.forEach((k, v) -> {
                Wire.writeCString(out, k);
                Wire.writeCString(out, v);
            });
            out.writeByte(0);
            out.setInt(start, out.writerIndex() - start);
            return out;
        }
    }

    /** The length word of a startup packet, or an error if it is out of range. */
    static int checkLength(int length) throws ProtocolException {
        if (length < MIN_LENGTH || length > MAX_LENGTH) {
            throw ProtocolException.silent(SqlState.PROTOCOL_VIOLATION, "invalid length of startup packet");
        }
        return length;
    }

    /**
     * Decodes one whole packet: {@code packet} holds exactly the bytes after the length word.
     *
     * @throws ProtocolException with the SQLSTATE and message PostgreSQL uses for the same fault
     */
    static StartupPacket decode(ByteBuf packet) throws ProtocolException {
        if (packet.readableBytes() < MIN_LENGTH - 4) {
            throw ProtocolException.silent(SqlState.PROTOCOL_VIOLATION, "invalid length of startup packet");
        }
        int length = packet.readableBytes() + 4;
        int code = packet.readInt();
        switch (code) {
            case SSL_REQUEST_CODE:
                return new SslRequest();
            case GSSENC_REQUEST_CODE:
                return new GssEncRequest();
            case CANCEL_REQUEST_CODE, PEER_CANCEL_REQUEST_CODE: {
                if (length < 16 || length > 12 + 256) {
                    // PostgreSQL logs this and closes without a word, as for every fault in a cancel request.
                    throw ProtocolException.silent(SqlState.PROTOCOL_VIOLATION, "invalid length of cancel request packet");
                }
                int pid = packet.readInt();
                byte[] secret = new byte[packet.readableBytes()];
                packet.readBytes(secret);
                return code == CANCEL_REQUEST_CODE ? new CancelRequest(pid, secret) : new PeerCancelRequest(pid, secret);
            }
            default:
                return decodeStartup(code, packet);
        }
    }

    private static StartupMessage decodeStartup(int code, ByteBuf packet) throws ProtocolException {
        int major = code >>> 16;
        int minor = code & 0xFFFF;
        if (major != 3) {
            throw new ProtocolException(SqlState.FEATURE_NOT_SUPPORTED,
                    "unsupported frontend protocol " + major + "." + minor + ": server supports 3.0 to 3." + NEWEST_MINOR);
        }
        // The parameter list must end with a zero byte as its last byte (PostgreSQL: "invalid startup packet
        // layout: expected terminator as last byte").
        if (!packet.isReadable() || packet.getByte(packet.writerIndex() - 1) != 0) {
            throw new ProtocolException(SqlState.PROTOCOL_VIOLATION,
                    "invalid startup packet layout: expected terminator as last byte");
        }
        Map<String, String> params = new LinkedHashMap<>();
        java.util.List<String> options = new java.util.ArrayList<>();
        boolean terminated = false;
        while (packet.isReadable()) {
            String name = Wire.readCString(packet);
            if (name.isEmpty()) {
                terminated = true;
                break;
            }
            if (!packet.isReadable()) {
                throw new ProtocolException(SqlState.PROTOCOL_VIOLATION,
                        "invalid startup packet layout: expected terminator as last byte");
            }
            String value = Wire.readCString(packet);
            if (name.startsWith("_pq_.")) {
                options.add(name);
            } else {
                params.remove(name);
                params.put(name, value);
            }
        }
        // "user\0alice\0" ends in a zero byte too, but that byte ends the value: the list terminator must follow it.
        if (!terminated || packet.isReadable()) {
            throw new ProtocolException(SqlState.PROTOCOL_VIOLATION,
                    "invalid startup packet layout: expected terminator as last byte");
        }
        String user = params.get("user");
        if (user == null || user.isEmpty()) {
            throw new ProtocolException(SqlState.INVALID_AUTHORIZATION_SPECIFICATION,
                    "no PostgreSQL user name specified in startup packet");
        }
        return new StartupMessage(major, minor, params, options);
    }
}
