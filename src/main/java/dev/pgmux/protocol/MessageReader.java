package dev.pgmux.protocol;

import io.netty.buffer.ByteBuf;

/**
 * Reads the body of one whole frame (type byte, Int32 length, body) for the message decoders of
 * {@code dev.pgmux.protocol.backend} and {@code dev.pgmux.protocol.frontend}, so that they all reject the same
 * faults in the same words: a length word that does not match the frame, a field that runs past the end, a
 * string without its terminator, a count that cannot fit, bytes left over after the last field.
 *
 * <p>It reads a slice: the frame's reader and writer indices and its reference count are left alone.
 */
public final class MessageReader {
    private final ByteBuf body;
    private final String name;

    private MessageReader(ByteBuf body, String name) {
        this.body = body;
        this.name = name;
    }

    /**
     * Checks the header of a whole frame: a type byte and an Int32 length that counts itself and exactly the
     * bytes after it.
     *
     * @return the type byte
     */
    public static byte checkFrame(ByteBuf frame) throws ProtocolException {
        int size = frame.readableBytes();
        if (size < 5) {
            throw new ProtocolException(SqlState.PROTOCOL_VIOLATION, "incomplete message: " + size + " bytes");
        }
        byte type = frame.getByte(frame.readerIndex());
        int length = frame.getInt(frame.readerIndex() + 1);
        if (length != size - 1) {
            throw new ProtocolException(SqlState.PROTOCOL_VIOLATION, "invalid length " + length + " in message of type "
                    + Wire.typeName(type) + " (" + (size - 1) + " bytes follow the type byte)");
        }
        return type;
    }

    /**
     * Opens the body of a frame that must be of the given type.
     *
     * @param name the message's name in the protocol docs, for error messages
     */
    public static MessageReader open(ByteBuf frame, byte type, String name) throws ProtocolException {
        byte actual = checkFrame(frame);
        if (actual != type) {
            throw new ProtocolException(SqlState.PROTOCOL_VIOLATION, "expected " + name + " (type "
                    + Wire.typeName(type) + "), got a message of type " + Wire.typeName(actual));
        }
        return new MessageReader(frame.slice(frame.readerIndex() + 5, frame.readableBytes() - 5), name);
    }

    /** The body bytes not read yet. */
    public int remaining() {
        return body.readableBytes();
    }

    public byte readByte() throws ProtocolException {
        need(1);
        return body.readByte();
    }

    /** A signed Int16 (a column number, a type size, a format code). */
    public int readInt16() throws ProtocolException {
        need(2);
        return body.readShort();
    }

    /**
     * An Int16 count. PostgreSQL and libpq read these unsigned ({@code pq_getmsgint(msg, 2)}, {@code pqGetInt}),
     * so 0 to 65535, never negative.
     */
    public int readCount16() throws ProtocolException {
        need(2);
        return body.readUnsignedShort();
    }

    public int readInt32() throws ProtocolException {
        need(4);
        return body.readInt();
    }

    /** An Int32 that must have the given value, such as the code of an Authentication request. */
    public void expectInt32(int expected, String what) throws ProtocolException {
        int actual = readInt32();
        if (actual != expected) {
            throw invalid(what + " " + actual + " (expected " + expected + ")");
        }
    }

    /** A String: UTF-8 up to a zero byte, which must come before the end of the body. */
    public String readCString() throws ProtocolException {
        if (body.bytesBefore((byte) 0) < 0) {
            throw invalid("string without terminator");
        }
        return Wire.readCString(body);
    }

    /** {@code n} bytes, {@code n} coming from the peer. */
    public byte[] readBytes(int n) throws ProtocolException {
        if (n < 0) {
            throw invalid("negative field length " + n);
        }
        need(n);
        byte[] bytes = new byte[n];
        body.readBytes(bytes);
        return bytes;
    }

    /** Every byte left (a field that runs to the end of the message, such as SASL data). */
    public byte[] readRest() {
        byte[] bytes = new byte[body.readableBytes()];
        body.readBytes(bytes);
        return bytes;
    }

    /**
     * Checks a count read from the peer before anything is allocated for it: each of the {@code n} items takes
     * at least {@code minBytes} bytes, so a count larger than the bytes left cannot be right.
     */
    public int checkCount(int n, int minBytes, String what) throws ProtocolException {
        if (n < 0) {
            throw invalid("negative " + what + " count " + n);
        }
        if ((long) n * minBytes > body.readableBytes()) {
            throw invalid(what + " count " + n + " does not fit in the " + body.readableBytes() + " bytes left");
        }
        return n;
    }

    /**
     * Checks that nothing follows the last field. libpq rejects such a message ("message contents do not agree
     * with length") and so does the server for its own (pq_getmsgend: "invalid message format").
     */
    public void end() throws ProtocolException {
        if (body.isReadable()) {
            throw invalid(body.readableBytes() + " bytes after the last field");
        }
    }

    /** The error for a malformed body of this message. */
    public ProtocolException invalid(String reason) {
        return new ProtocolException(SqlState.PROTOCOL_VIOLATION, "malformed " + name + ": " + reason);
    }

    private void need(int n) throws ProtocolException {
        if (body.readableBytes() < n) {
            throw invalid("field of " + n + " bytes, " + body.readableBytes() + " left");
        }
    }
}
