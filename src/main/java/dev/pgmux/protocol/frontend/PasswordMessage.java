package dev.pgmux.protocol.frontend;

import dev.pgmux.protocol.MessageReader;
import dev.pgmux.protocol.ProtocolException;
import io.netty.buffer.ByteBuf;
import java.util.Arrays;

/**
 * PasswordMessage: the answer to AuthenticationCleartextPassword (the password) or AuthenticationMD5Password
 * ({@code "md5"} and 32 hex digits). Bytes rather than a String, so that the caller can wipe them; without the
 * terminator, which the wire adds.
 */
public record PasswordMessage(byte[] password) implements FrontendMessage {
    public static final byte TYPE = 'p';

    public PasswordMessage {
        for (byte b : password) {
            if (b == 0) {
                throw new IllegalArgumentException("password contains a zero byte");
            }
        }
    }

    @Override
    public void encode(ByteBuf out) {
        out.writeByte(TYPE).writeInt(4 + password.length + 1).writeBytes(password).writeByte(0);
    }

    /**
     * The body must be one String that ends exactly at the end of the message, as the server checks it
     * ({@code recv_password_packet}: "invalid password packet size").
     */
    public static PasswordMessage decode(ByteBuf frame) throws ProtocolException {
        MessageReader in = MessageReader.open(frame, TYPE, "PasswordMessage");
        byte[] body = in.readRest();
        int nul = indexOfZero(body);
        if (nul < 0) {
            throw in.invalid("password without terminator");
        }
        if (nul != body.length - 1) {
            throw in.invalid("bytes after the password's terminator");
        }
        return new PasswordMessage(Arrays.copyOf(body, nul));
    }

    private static int indexOfZero(byte[] bytes) {
        for (int i = 0; i < bytes.length; i++) {
            if (bytes[i] == 0) {
                return i;
            }
        }
        return -1;
    }
}
