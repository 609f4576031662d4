package dev.pgmux.protocol.frontend;

import dev.pgmux.protocol.MessageReader;
import dev.pgmux.protocol.ProtocolException;
import io.netty.buffer.ByteBuf;

/** Sync: ends an extended-query cycle; the server answers with ReadyForQuery. */
public record Sync() implements FrontendMessage {
    public static final byte TYPE = 'S';

    @Override
    public void encode(ByteBuf out) {
        out.writeByte(TYPE).writeInt(4);
    }

    public static Sync decode(ByteBuf frame) throws ProtocolException {
        MessageReader.open(frame, TYPE, "Sync").end();
        return new Sync();
    }
}
