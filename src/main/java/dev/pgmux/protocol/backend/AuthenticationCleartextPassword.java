package dev.pgmux.protocol.backend;

import dev.pgmux.protocol.MessageReader;
import dev.pgmux.protocol.ProtocolException;
import dev.pgmux.protocol.Wire;
import io.netty.buffer.ByteBuf;

/** AuthenticationCleartextPassword: the client must send its password as it is (a PasswordMessage). */
public record AuthenticationCleartextPassword() implements Authentication {

    @Override
    public int code() {
        return CLEARTEXT_PASSWORD;
    }

    @Override
    public void encode(ByteBuf out) {
        int start = Wire.beginMessage(out, TYPE);
        out.writeInt(CLEARTEXT_PASSWORD);
        Wire.endMessage(out, start);
    }

    public static AuthenticationCleartextPassword decode(ByteBuf frame) throws ProtocolException {
        MessageReader in = MessageReader.open(frame, TYPE, "AuthenticationCleartextPassword");
        in.expectInt32(CLEARTEXT_PASSWORD, "authentication code");
        in.end();
        return new AuthenticationCleartextPassword();
    }
}
