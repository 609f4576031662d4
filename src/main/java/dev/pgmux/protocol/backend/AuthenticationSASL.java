package dev.pgmux.protocol.backend;

import dev.pgmux.protocol.MessageReader;
import dev.pgmux.protocol.ProtocolException;
import dev.pgmux.protocol.Wire;
import io.netty.buffer.ByteBuf;
import java.util.ArrayList;
import java.util.List;

/**
 * AuthenticationSASL: the SASL mechanisms the server accepts, in its order of preference. On the wire each name
 * is a String and an empty one ends the list (a zero byte), so a name cannot be empty.
 */
public record AuthenticationSASL(List<String> mechanisms) implements Authentication {

    public AuthenticationSASL {
        mechanisms = List.copyOf(mechanisms);
        for (String m : mechanisms) {
            if (Wire.checkCString(m, "SASL mechanism").isEmpty()) {
                throw new IllegalArgumentException("empty SASL mechanism name");
            }
        }
    }

    @Override
    public int code() {
        return SASL;
    }

    @Override
    public void encode(ByteBuf out) {
        int start = Wire.beginMessage(out, TYPE);
        out.writeInt(SASL);
        for (String m : mechanisms) {
            Wire.writeCString(out, m);
        }
        out.writeByte(0);
        Wire.endMessage(out, start);
    }

    /** The list must end with its zero byte, and nothing may follow it. */
    public static AuthenticationSASL decode(ByteBuf frame) throws ProtocolException {
        MessageReader in = MessageReader.open(frame, TYPE, "AuthenticationSASL");
        in.expectInt32(SASL, "authentication code");
        List<String> mechanisms = new ArrayList<>();
        for (String m = in.readCString(); !m.isEmpty(); m = in.readCString()) {
            mechanisms.add(m);
        }
        in.end();
        return new AuthenticationSASL(mechanisms);
    }
}
