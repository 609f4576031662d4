package dev.pgmux.protocol.backend;

import dev.pgmux.protocol.MessageReader;
import dev.pgmux.protocol.ProtocolException;
import dev.pgmux.protocol.Wire;
import io.netty.buffer.ByteBuf;

/** CommandComplete: the command tag of a finished command, such as {@code SELECT 3} or {@code INSERT 0 1}. */
public record CommandComplete(String tag) implements BackendMessage {
    public static final byte TYPE = 'C';

    public CommandComplete {
        Wire.checkCString(tag, "command tag");
    }

    @Override
    public void encode(ByteBuf out) {
        int start = Wire.beginMessage(out, TYPE);
        Wire.writeCString(out, tag);
        Wire.endMessage(out, start);
    }

    public static CommandComplete decode(ByteBuf frame) throws ProtocolException {
        MessageReader in = MessageReader.open(frame, TYPE, "CommandComplete");
        String tag = in.readCString();
        in.end();
        return new CommandComplete(tag);
    }
}
