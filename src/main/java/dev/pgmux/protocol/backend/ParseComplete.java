package dev.pgmux.protocol.backend;

import dev.pgmux.protocol.MessageReader;
import dev.pgmux.protocol.ProtocolException;
import io.netty.buffer.ByteBuf;

/** ParseComplete: a Parse succeeded. */
public record ParseComplete() implements BackendMessage {
    public static final byte TYPE = '1';

    @Override
    public void encode(ByteBuf out) {
        out.writeByte(TYPE).writeInt(4);
    }

    public static ParseComplete decode(ByteBuf frame) throws ProtocolException {
        MessageReader.open(frame, TYPE, "ParseComplete").end();
        return new ParseComplete();
    }
}
