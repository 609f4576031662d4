package dev.pgmux.protocol.frontend;

import dev.pgmux.protocol.MessageReader;
import dev.pgmux.protocol.ProtocolException;
import dev.pgmux.protocol.Wire;
import io.netty.buffer.ByteBuf;
import java.util.Objects;

/** SASLResponse: a client's later SASL message (for SCRAM, the client-final-message). The data runs to the end. */
public record SASLResponse(byte[] data) implements FrontendMessage {
    public static final byte TYPE = 'p';

    public SASLResponse {
        Objects.requireNonNull(data, "data");
    }

    @Override
    public void encode(ByteBuf out) {
        int start = Wire.beginMessage(out, TYPE);
        out.writeBytes(data);
        Wire.endMessage(out, start);
    }

    public static SASLResponse decode(ByteBuf frame) throws ProtocolException {
        return new SASLResponse(MessageReader.open(frame, TYPE, "SASLResponse").readRest());
    }
}
