package dev.pgmux.protocol.frontend;

import dev.pgmux.protocol.MessageReader;
import dev.pgmux.protocol.ProtocolException;
import io.netty.buffer.ByteBuf;

/** Flush: asks the server to send what it has buffered, without ending the cycle. */
public record Flush() implements FrontendMessage {
    public static final byte TYPE = 'H';

    @Override
    public void encode(ByteBuf out) {
        out.writeByte(TYPE).writeInt(4);
    }

    public static Flush decode(ByteBuf frame) throws ProtocolException {
        MessageReader.open(frame, TYPE, "Flush").end();
        return new Flush();
    }
}
