package dev.pgmux.protocol.backend;

import dev.pgmux.protocol.MessageReader;
import dev.pgmux.protocol.ProtocolException;
import io.netty.buffer.ByteBuf;

/** EmptyQueryResponse: the answer to an empty query string, in place of CommandComplete. */
public record EmptyQueryResponse() implements BackendMessage {
    public static final byte TYPE = 'I';

    @Override
    public void encode(ByteBuf out) {
        out.writeByte(TYPE).writeInt(4);
    }

    public static EmptyQueryResponse decode(ByteBuf frame) throws ProtocolException {
        MessageReader.open(frame, TYPE, "EmptyQueryResponse").end();
        return new EmptyQueryResponse();
    }
}
