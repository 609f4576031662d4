package dev.pgmux.protocol.backend;

import dev.pgmux.protocol.MessageReader;
import dev.pgmux.protocol.ProtocolException;
import dev.pgmux.protocol.Wire;
import io.netty.buffer.ByteBuf;

/** ParameterStatus: the current value of a run-time parameter the server reports (protocol docs, "Asynchronous Operations"). */
public record ParameterStatus(String name, String value) implements BackendMessage {
    public static final byte TYPE = 'S';

    public ParameterStatus {
        Wire.checkCString(name, "parameter name");
        Wire.checkCString(value, "parameter value");
    }

    @Override
    public void encode(ByteBuf out) {
        int start = Wire.beginMessage(out, TYPE);
        Wire.writeCString(out, name);
        Wire.writeCString(out, value);
        Wire.endMessage(out, start);
    }

    public static ParameterStatus decode(ByteBuf frame) throws ProtocolException {
        MessageReader in = MessageReader.open(frame, TYPE, "ParameterStatus");
        String name = in.readCString();
        String value = in.readCString();
        in.end();
        return new ParameterStatus(name, value);
    }
}
