package dev.pgmux.protocol.backend;

import dev.pgmux.protocol.MessageReader;
import dev.pgmux.protocol.ProtocolException;
import dev.pgmux.protocol.Wire;
import io.netty.buffer.ByteBuf;
import java.util.Objects;

/** AuthenticationSASLFinal: the outcome of SASL; for SCRAM, the server-final-message. The data runs to the end. */
public record AuthenticationSASLFinal(byte[] data) implements Authentication {

    public AuthenticationSASLFinal {
        Objects.requireNonNull(data, "data");
    }

    @Override
    public int code() {
        return SASL_FINAL;
    }

    @Override
    public void encode(ByteBuf out) {
        int start = Wire.beginMessage(out, TYPE);
        out.writeInt(SASL_FINAL).writeBytes(data);
        Wire.endMessage(out, start);
    }

    public static AuthenticationSASLFinal decode(ByteBuf frame) throws ProtocolException {
        MessageReader in = MessageReader.open(frame, TYPE, "AuthenticationSASLFinal");
        in.expectInt32(SASL_FINAL, "authentication code");
        return new AuthenticationSASLFinal(in.readRest());
    }
}
