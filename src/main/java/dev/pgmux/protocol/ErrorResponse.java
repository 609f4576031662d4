package dev.pgmux.protocol;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import java.nio.charset.StandardCharsets;

/**
 * An ErrorResponse ('E') that pgmux itself sends. The one place where pgmux's errors are built, so that every
 * one carries a severity (localized and not, fields S and V), a SQLSTATE (C) and a message (M).
 *
 * @param severity FATAL for errors that end the connection, ERROR otherwise
 * @param detail   optional (null) detail, field D
 * @param hint     optional (null) hint, field H
 */
public record ErrorResponse(String severity, String sqlState, String message, String detail, String hint) {
    public static final byte TYPE = 'E';

    public static ErrorResponse fatal(String sqlState, String message) {
        return new ErrorResponse("FATAL", sqlState, message, null, null);
    }

    public static ErrorResponse fatal(String sqlState, String message, String hint) {
        return new ErrorResponse("FATAL", sqlState, message, null, hint);
    }

    public ByteBuf encode(ByteBufAllocator alloc) {
        return encode(alloc, java.util.Map.of());
    }

    /**
     * Encodes this error with more fields after the usual ones, in the map's order, e.g. the source location
     * fields F, L and R that PostgreSQL puts last.
     */
    public ByteBuf encode(ByteBufAllocator alloc, java.util.Map<Character, String> more) {
        ByteBuf out = alloc.buffer(64 + message.length());
        int start = out.writerIndex();
        out.writeByte(TYPE).writeInt(0);
        field(out, 'S', severity);
        field(out, 'V', severity);
        field(out, 'C', sqlState);
        field(out, 'M', message);
        if (detail != null) {
            field(out, 'D', detail);
        }
        if (hint != null) {
            field(out, 'H', hint);
        }
        more.forEach((code, value) -> field(out, code, value));
        out.writeByte(0);
        out.setInt(start + 1, out.writerIndex() - start - 1);
        return out;
    }

    private static void field(ByteBuf out, char code, String value) {
        out.writeByte(code);
        Wire.writeCString(out, value);
    }

    /** Reads the SQLSTATE (field C) of an ErrorResponse or NoticeResponse body, or null. */
    public static String sqlStateOf(ByteBuf body) {
        return fieldOf(body, 'C');
    }

    /** Reads one field of an ErrorResponse or NoticeResponse body (without type and length), or null. */
    public static String fieldOf(ByteBuf body, char code) {
        int i = body.readerIndex();
        int end = body.writerIndex();
        while (i < end) {
            byte type = body.getByte(i++);
            if (type == 0) {
                return null;
            }
            int nul = body.indexOf(i, end, (byte) 0);
            if (nul < 0) {
                return null;
            }
            if (type == code) {
                return body.toString(i, nul - i, StandardCharsets.UTF_8);
            }
            i = nul + 1;
        }
        return null;
    }
}
