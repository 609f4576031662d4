package dev.pgmux.protocol.backend;

import dev.pgmux.protocol.MessageReader;
import dev.pgmux.protocol.ProtocolException;
import io.netty.buffer.ByteBuf;

/** CloseComplete: a Close succeeded. */
public record CloseComplete() implements BackendMessage {
    public static final byte TYPE = '3';

    @Override
    public void encode(ByteBuf out) {
        out.writeByte(TYPE).writeInt(4);
    }

    public static CloseComplete decode(ByteBuf frame) throws ProtocolException {
        MessageReader.open(frame, TYPE, "CloseComplete").end();
        return new CloseComplete();
    }
}
