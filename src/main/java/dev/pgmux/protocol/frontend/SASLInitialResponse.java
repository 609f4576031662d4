package dev.pgmux.protocol.frontend;

import dev.pgmux.protocol.MessageReader;
import dev.pgmux.protocol.ProtocolException;
import dev.pgmux.protocol.Wire;
import io.netty.buffer.ByteBuf;

/**
 * SASLInitialResponse: the mechanism the client chose from AuthenticationSASL and its first message (for SCRAM,
 * the client-first-message).
 *
 * @param data the initial response, or {@code null} for none (a length of -1 on the wire), which differs from
 *             an empty one
 */
public record SASLInitialResponse(String mechanism, byte[] data) implements FrontendMessage {
    public static final byte TYPE = 'p';

    public SASLInitialResponse {
        Wire.checkCString(mechanism, "SASL mechanism");
    }

    @Override
    public void encode(ByteBuf out) {
        int start = Wire.beginMessage(out, TYPE);
        Wire.writeCString(out, mechanism);
        if (data == null) {
            out.writeInt(-1);
        } else {
            out.writeInt(data.length).writeBytes(data);
        }
        Wire.endMessage(out, start);
    }

    public static SASLInitialResponse decode(ByteBuf frame) throws ProtocolException {
        MessageReader in = MessageReader.open(frame, TYPE, "SASLInitialResponse");
        String mechanism = in.readCString();
        int length = in.readInt32();
        byte[] data = length == -1 ? null : in.readBytes(length);
        in.end();
        return new SASLInitialResponse(mechanism, data);
    }
}
