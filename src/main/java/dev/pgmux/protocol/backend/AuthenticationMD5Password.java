package dev.pgmux.protocol.backend;

import dev.pgmux.protocol.MessageReader;
import dev.pgmux.protocol.ProtocolException;
import dev.pgmux.protocol.Wire;
import io.netty.buffer.ByteBuf;

/**
 * AuthenticationMD5Password: the client must send an MD5 hash of its password, salted with these 4 bytes (a
 * PasswordMessage holding {@code "md5" + hex}).
 */
public record AuthenticationMD5Password(byte[] salt) implements Authentication {
    public static final int SALT_LENGTH = 4;

    public AuthenticationMD5Password {
        if (salt.length != SALT_LENGTH) {
            throw new IllegalArgumentException("MD5 salt of " + salt.length + " bytes (4 expected)");
        }
    }

    @Override
    public int code() {
        return MD5_PASSWORD;
    }

    @Override
    public void encode(ByteBuf out) {
        int start = Wire.beginMessage(out, TYPE);
        out.writeInt(MD5_PASSWORD).writeBytes(salt);
        Wire.endMessage(out, start);
    }

    public static AuthenticationMD5Password decode(ByteBuf frame) throws ProtocolException {
        MessageReader in = MessageReader.open(frame, TYPE, "AuthenticationMD5Password");
        in.expectInt32(MD5_PASSWORD, "authentication code");
        byte[] salt = in.readBytes(SALT_LENGTH);
        in.end();
        return new AuthenticationMD5Password(salt);
    }
}
