package dev.pgmux.protocol.frontend;

import dev.pgmux.protocol.MessageReader;
import dev.pgmux.protocol.ProtocolException;
import io.netty.buffer.ByteBuf;

/** Terminate: the client closes the connection; a proxy sends it too, to end a backend session cleanly. */
public record Terminate() implements FrontendMessage {
    public static final byte TYPE = 'X';

    @Override
    public void encode(ByteBuf out) {
        out.writeByte(TYPE).writeInt(4);
    }

    public static Terminate decode(ByteBuf frame) throws ProtocolException {
        MessageReader.open(frame, TYPE, "Terminate").end();
        return new Terminate();
    }
}
