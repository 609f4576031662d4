package dev.pgmux.protocol.frontend;

import dev.pgmux.protocol.MessageReader;
import dev.pgmux.protocol.ProtocolException;
import dev.pgmux.protocol.Wire;
import io.netty.buffer.ByteBuf;
import java.util.Objects;

/**
 * Parse: prepares a statement (extended query protocol).
 *
 * @param name           the prepared statement's name; empty for the unnamed statement
 * @param parameterTypes the OIDs of the parameter types the client fixes, 0 for "let the server infer"; fewer
 *                       than the statement's parameters is allowed
 */
public record Parse(String name, String query, int[] parameterTypes) implements FrontendMessage {
    public static final byte TYPE = 'P';
    /** The count is an Int16 that the server reads unsigned. */
    public static final int MAX_PARAMETER_TYPES = 0xFFFF;

    public Parse {
        Wire.checkCString(name, "statement name");
        Wire.checkCString(query, "query string");
        Objects.requireNonNull(parameterTypes, "parameterTypes");
        if (parameterTypes.length > MAX_PARAMETER_TYPES) {
            throw new IllegalArgumentException(parameterTypes.length + " parameter types (at most 65535)");
        }
    }

    @Override
    public void encode(ByteBuf out) {
        int start = Wire.beginMessage(out, TYPE);
        Wire.writeCString(out, name);
        Wire.writeCString(out, query);
        out.writeShort(parameterTypes.length);
        for (int oid : parameterTypes) {
            out.writeInt(oid);
        }
        Wire.endMessage(out, start);
    }

    public static Parse decode(ByteBuf frame) throws ProtocolException {
        MessageReader in = MessageReader.open(frame, TYPE, "Parse");
        String name = in.readCString();
        String query = in.readCString();
        int[] types = new int[in.checkCount(in.readCount16(), 4, "parameter type")];
        for (int i = 0; i < types.length; i++) {
            types[i] = in.readInt32();
        }
        in.end();
        return new Parse(name, query, types);
    }
}
