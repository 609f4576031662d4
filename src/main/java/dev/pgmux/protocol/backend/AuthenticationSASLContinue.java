package dev.pgmux.protocol.backend;

import dev.pgmux.protocol.MessageReader;
import dev.pgmux.protocol.ProtocolException;
import dev.pgmux.protocol.Wire;
import io.netty.buffer.ByteBuf;
import java.util.Objects;

/** AuthenticationSASLContinue: a SASL challenge; for SCRAM, the server-first-message. The data runs to the end. */
public record AuthenticationSASLContinue(byte[] data) implements Authentication {

    public AuthenticationSASLContinue {
        Objects.requireNonNull(data, "data");
    }

    @Override
    public int code() {
        return SASL_CONTINUE;
    }

    @Override
    public void encode(ByteBuf out) {
        int start = Wire.beginMessage(out, TYPE);
        out.writeInt(SASL_CONTINUE).writeBytes(data);
        Wire.endMessage(out, start);
    }

    public static AuthenticationSASLContinue decode(ByteBuf frame) throws ProtocolException {
        MessageReader in = MessageReader.open(frame, TYPE, "AuthenticationSASLContinue");
        in.expectInt32(SASL_CONTINUE, "authentication code");
        return new AuthenticationSASLContinue(in.readRest());
    }
}
