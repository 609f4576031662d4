package dev.pgmux.protocol;

import io.netty.buffer.ByteBuf;
import java.nio.charset.StandardCharsets;

/** Small helpers for the protocol's basic types (Int32, String = null-terminated UTF-8). */
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
}
