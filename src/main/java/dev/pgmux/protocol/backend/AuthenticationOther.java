package dev.pgmux.protocol.backend;

import dev.pgmux.protocol.MessageReader;
import dev.pgmux.protocol.ProtocolException;
import dev.pgmux.protocol.Wire;
import io.netty.buffer.ByteBuf;
import java.util.Objects;

/**
 * An authentication request pgmux has no record for (KerberosV5, GSS, GSSContinue, SSPI, or a code from a later
 * PostgreSQL): the code and the rest of the body, unread, so that it can still be relayed or refused by code.
 */
public record AuthenticationOther(int code, byte[] data) implements Authentication {

    /** A known code has its own record, so that each request has one representation. */
    public AuthenticationOther {
        Objects.requireNonNull(data, "data");
        switch (code) {
            case OK, CLEARTEXT_PASSWORD, MD5_PASSWORD, SASL, SASL_CONTINUE, SASL_FINAL ->
                    throw new IllegalArgumentException("authentication code " + code + " has its own record");
            default -> {
            }
        }
    }

    @Override
    public void encode(ByteBuf out) {
        int start = Wire.beginMessage(out, TYPE);
        out.writeInt(code).writeBytes(data);
        Wire.endMessage(out, start);
    }

    public static AuthenticationOther decode(ByteBuf frame) throws ProtocolException {
        MessageReader in = MessageReader.open(frame, TYPE, "Authentication");
        int code = in.readInt32();
        return switch (code) {
            case OK, CLEARTEXT_PASSWORD, MD5_PASSWORD, SASL, SASL_CONTINUE, SASL_FINAL ->
                    throw in.invalid("authentication code " + code + " has its own record");
            default -> new AuthenticationOther(code, in.readRest());
        };
    }
}
