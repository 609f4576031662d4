package dev.pgmux.protocol.backend;

import dev.pgmux.protocol.MessageReader;
import dev.pgmux.protocol.ProtocolException;
import dev.pgmux.protocol.Wire;
import io.netty.buffer.ByteBuf;

/**
 * BackendKeyData: the key a client needs to cancel a query (a CancelRequest). Protocol 3.0 has a secret of 4
 * bytes; 3.2 lets it run to the end of the message, at most 256 bytes (PostgreSQL 18 sends 32), and libpq
 * rejects a key outside 4 to 256 bytes. Which lengths a connection may use depends on its protocol version, which
 * the caller knows.
 */
public record BackendKeyData(int processId, byte[] secret) implements BackendMessage {
    public static final byte TYPE = 'K';
    public static final int MIN_SECRET_LENGTH = 4;
    public static final int MAX_SECRET_LENGTH = 256;

    public BackendKeyData {
        if (secret.length < MIN_SECRET_LENGTH || secret.length > MAX_SECRET_LENGTH) {
            throw new IllegalArgumentException("cancel key secret of " + secret.length + " bytes (4 to 256 allowed)");
        }
    }

    @Override
    public void encode(ByteBuf out) {
        int start = Wire.beginMessage(out, TYPE);
        out.writeInt(processId).writeBytes(secret);
        Wire.endMessage(out, start);
    }

    public static BackendKeyData decode(ByteBuf frame) throws ProtocolException {
        MessageReader in = MessageReader.open(frame, TYPE, "BackendKeyData");
        int processId = in.readInt32();
        int n = in.remaining();
        if (n < MIN_SECRET_LENGTH || n > MAX_SECRET_LENGTH) {
            throw in.invalid("secret of " + n + " bytes (4 to 256 allowed)");
        }
        return new BackendKeyData(processId, in.readRest());
    }
}
