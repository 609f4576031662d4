package dev.pgmux.protocol.backend;

import dev.pgmux.protocol.MessageReader;
import dev.pgmux.protocol.ProtocolException;
import dev.pgmux.protocol.Wire;
import io.netty.buffer.ByteBuf;

/** AuthenticationOk: the client is authenticated. */
public record AuthenticationOk() implements Authentication {

    @Override
    public int code() {
        return OK;
    }

    @Override
    public void encode(ByteBuf out) {
        int start = Wire.beginMessage(out, TYPE);
        out.writeInt(OK);
        Wire.endMessage(out, start);
    }

    public static AuthenticationOk decode(ByteBuf frame) throws ProtocolException {
        MessageReader in = MessageReader.open(frame, TYPE, "AuthenticationOk");
        in.expectInt32(OK, "authentication code");
        in.end();
        return new AuthenticationOk();
    }
}
