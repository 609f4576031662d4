package dev.pgmux.protocol.frontend;

import dev.pgmux.protocol.MessageReader;
import dev.pgmux.protocol.ProtocolException;
import dev.pgmux.protocol.Wire;
import io.netty.buffer.ByteBuf;

/**
 * Describe: asks for the parameters and result columns of a prepared statement, or the columns of a portal.
 *
 * @param kind {@link #STATEMENT} or {@link #PORTAL}
 * @param name the statement's or portal's name; empty for the unnamed one
 */
public record Describe(byte kind, String name) implements FrontendMessage {
    public static final byte TYPE = 'D';

    public Describe {
        if (kind != STATEMENT && kind != PORTAL) {
            throw new IllegalArgumentException("Describe kind " + Wire.typeName(kind) + " (expected 'S' or 'P')");
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

    /** A kind other than 'S' or 'P' is refused, as the server does ("invalid DESCRIBE message subtype"). */
    public static Describe decode(ByteBuf frame) throws ProtocolException {
        MessageReader in = MessageReader.open(frame, TYPE, "Describe");
        byte kind = in.readByte();
        if (kind != STATEMENT && kind != PORTAL) {
            throw in.invalid("kind " + Wire.typeName(kind) + " (expected 'S' or 'P')");
        }
        String name = in.readCString();
        in.end();
        return new Describe(kind, name);
    }
}
