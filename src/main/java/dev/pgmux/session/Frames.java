package dev.pgmux.session;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import java.nio.charset.StandardCharsets;

/**
 * The few byte-level edits transaction pooling makes to client messages: the statement name of Parse, Bind,
 * Describe and Close. Names and texts are read as ISO-8859-1, one char per byte, so that whatever the client's
 * encoding, what is written back is the very bytes it sent.
 */
final class Frames {
    private Frames() {
    }

    /** The zero-terminated string at {@code from}, one char per byte (to the end if unterminated). */
    static String cstring(ByteBuf frame, int from) {
        int end = frame.indexOf(from, frame.writerIndex(), (byte) 0);
        return frame.toString(from, (end < 0 ? frame.writerIndex() : end) - from, StandardCharsets.ISO_8859_1);
    }

    /** Where the zero byte ending the string at {@code from} is, or -1. */
    static int end(ByteBuf frame, int from) {
        return from > frame.writerIndex() ? -1 : frame.indexOf(from, frame.writerIndex(), (byte) 0);
    }

    /** The bytes of a Parse after its statement name: the query text, its terminator and the parameter types. */
    static byte[] parseRest(ByteBuf frame, int nameEnd) {
        byte[] rest = new byte[frame.writerIndex() - nameEnd - 1];
        frame.getBytes(nameEnd + 1, rest);
        return rest;
    }

    /** The query text within {@link #parseRest}. */
    static String query(byte[] rest) {
        int end = 0;
        while (end < rest.length && rest[end] != 0) {
            end++;
        }
        return new String(rest, 0, end, StandardCharsets.ISO_8859_1);
    }

    /** A Parse of {@code rest} (see {@link #parseRest}) under {@code name}. */
    static ByteBuf parse(ByteBufAllocator alloc, String name, byte[] rest) {
        ByteBuf out = alloc.buffer(5 + name.length() + 1 + rest.length);
        out.writeByte('P').writeInt(4 + name.length() + 1 + rest.length);
        out.writeCharSequence(name, StandardCharsets.ISO_8859_1);
        out.writeByte(0).writeBytes(rest);
        return out;
    }

    /** A simple Query of {@code sql}, one byte per char (the text as the client's bytes came, or ASCII). */
    static ByteBuf query(ByteBufAllocator alloc, String sql) {
        ByteBuf out = alloc.buffer(6 + sql.length());
        out.writeByte('Q').writeInt(4 + sql.length() + 1);
        out.writeCharSequence(sql, StandardCharsets.ISO_8859_1);
        return out.writeByte(0);
    }

    /** A Describe or Close ({@code type}) of statement or portal ({@code kind}) {@code name}. */
    static ByteBuf named(ByteBufAllocator alloc, byte type, byte kind, String name) {
        ByteBuf out = alloc.buffer(7 + name.length());
        out.writeByte(type).writeInt(4 + 1 + name.length() + 1).writeByte(kind);
        out.writeCharSequence(name, StandardCharsets.ISO_8859_1);
        return out.writeByte(0);
    }

    /** {@code frame} (a Bind) with the statement name between {@code from} and {@code nameEnd} replaced. */
    static ByteBuf rename(ByteBufAllocator alloc, ByteBuf frame, int from, int nameEnd, String name) {
        int head = from - frame.readerIndex();
        int tail = frame.writerIndex() - nameEnd;
        ByteBuf out = alloc.buffer(head + name.length() + tail);
        out.writeBytes(frame, frame.readerIndex(), head);
        out.writeCharSequence(name, StandardCharsets.ISO_8859_1);
        out.writeBytes(frame, nameEnd, tail);
        out.setInt(1, out.readableBytes() - 1);
        return out;
    }
}
