package dev.pgmux.protocol.frontend;

import dev.pgmux.protocol.MessageReader;
import dev.pgmux.protocol.ProtocolException;
import dev.pgmux.protocol.Wire;
import io.netty.buffer.ByteBuf;

/**
 * Close: drops a prepared statement or a portal.
 *
 * @param kind {@link #STATEMENT} or {@link #PORTAL}
 * @param name the statement's or portal's name; empty for the unnamed one
 */
public record Close(byte kind, String name) implements FrontendMessage {
    public static final byte TYPE = 'C';

    public Close {
        if (kind != STATEMENT && kind != PORTAL) {
            throw new IllegalArgumentException("Close kind " + Wire.typeName(kind) + " (expected 'S' or 'P')");
        }
        Wire.checkCString(name, "name");
    }

    @Override
    public void encode(ByteBuf out) {
        int start = Wire.beginMessage(out, TYPE);
        out.writeByte(kind);
        Wire.writeCString(out, name);
        Wire.endMessage(out, start);
    }

    /** A kind other than 'S' or 'P' is refused, as the server does ("invalid CLOSE message subtype"). */
    public static Close decode(ByteBuf frame) throws ProtocolException {
        MessageReader in = MessageReader.open(frame, TYPE, "Close");
        byte kind = in.readByte();
        if (kind != STATEMENT && kind != PORTAL) {
            throw in.invalid("kind " + Wire.typeName(kind) + " (expected 'S' or 'P')");
        }
        String name = in.readCString();
        in.end();
        return new Close(kind, name);
    }
}
