package dev.pgmux.protocol;

import io.netty.buffer.ByteBuf;
import java.nio.charset.StandardCharsets;
import java.util.Objects;

/** Small helpers for the protocol's basic types (Int32, String = null-terminated UTF-8) and message framing. */
public final class Wire {
    private Wire() {
    }

    public static void writeCString(ByteBuf out, String s) {
        out.writeCharSequence(s, StandardCharsets.UTF_8);
        out.writeByte(0);
    }

    /**
     * Reads a null-terminated string starting at the reader index and moves past its terminator.
     *
     * @throws ProtocolException when no terminator is found before the writer index
     */
    public static String readCString(ByteBuf in) throws ProtocolException {
        int nul = in.indexOf(in.readerIndex(), in.writerIndex(), (byte) 0);
        if (nul < 0) {
            throw new ProtocolException(SqlState.PROTOCOL_VIOLATION, "invalid string in message");
        }
        String s = in.toString(in.readerIndex(), nul - in.readerIndex(), StandardCharsets.UTF_8);
        in.readerIndex(nul + 1);
        return s;
    }

    /**
     * Checks that {@code s} can be written as a protocol String: a zero byte inside it would end the field early
     * and let the rest be read as further fields.
     *
     * @return {@code s}
     * @throws IllegalArgumentException if {@code s} holds a zero byte
     */
    public static String checkCString(String s, String what) {
        Objects.requireNonNull(s, what);
        if (s.indexOf('\0') >= 0) {
            throw new IllegalArgumentException(what + " contains a zero byte");
        }
        return s;
    }

    /**
     * Starts a message at the writer index: the type byte and a length word that {@link #endMessage} fills in.
     *
     * @return where the message starts, for {@link #endMessage}
     */
    public static int beginMessage(ByteBuf out, byte type) {
        int start = out.writerIndex();
        out.writeByte(type).writeInt(0);
        return start;
    }

    /**
     * Fills in the length word of the message begun at {@code start}. The length counts itself and the body but
     * not the type byte ("Message Data Types"), and is patched relative to the message start, not at index 1: the
     * buffer may hold other messages before this one.
     */
    public static void endMessage(ByteBuf out, int start) {
        out.setInt(start + 1, out.writerIndex() - start - 1);
    }

    /** A type byte as a reader of the docs knows it: {@code 'S'}, or {@code 0x07} when it is not printable. */
    public static String typeName(byte type) {
        return type >= 0x21 && type <= 0x7E ? "'" + (char) type + "'" : String.format("0x%02x", type & 0xFF);
    }
}
