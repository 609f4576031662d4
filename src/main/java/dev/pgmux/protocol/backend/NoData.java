package dev.pgmux.protocol.backend;

import dev.pgmux.protocol.MessageReader;
import dev.pgmux.protocol.ProtocolException;
import io.netty.buffer.ByteBuf;

/** NoData: the statement or portal a Describe asked about returns no rows. */
public record NoData() implements BackendMessage {
    public static final byte TYPE = 'n';

    @Override
    public void encode(ByteBuf out) {
        out.writeByte(TYPE).writeInt(4);
    }

    public static NoData decode(ByteBuf frame) throws ProtocolException {
        MessageReader.open(frame, TYPE, "NoData").end();
        return new NoData();
    }
}
