package dev.pgmux.protocol.backend;

import dev.pgmux.protocol.MessageReader;
import dev.pgmux.protocol.ProtocolException;
import io.netty.buffer.ByteBuf;

/** BindComplete: a Bind succeeded. */
public record BindComplete() implements BackendMessage {
    public static final byte TYPE = '2';

    @Override
    public void encode(ByteBuf out) {
        out.writeByte(TYPE).writeInt(4);
    }

    public static BindComplete decode(ByteBuf frame) throws ProtocolException {
        MessageReader.open(frame, TYPE, "BindComplete").end();
        return new BindComplete();
    }
}
