package dev.pgmux.protocol.backend;

import dev.pgmux.protocol.MessageReader;
import dev.pgmux.protocol.ProtocolException;
import dev.pgmux.protocol.Wire;
import io.netty.buffer.ByteBuf;

/**
 * ReadyForQuery: the server waits for a new query cycle, and says where the session's transaction stands. Only
 * the three statuses of the docs are accepted: a proxy that pools or routes by transaction must not guess.
 */
public record ReadyForQuery(byte status) implements BackendMessage {
    public static final byte TYPE = 'Z';
    public static final byte IDLE = 'I';
    public static final byte IN_TRANSACTION = 'T';
    public static final byte FAILED_TRANSACTION = 'E';

    public ReadyForQuery {
        if (!valid(status)) {
            throw new IllegalArgumentException("transaction status " + Wire.typeName(status));
        }
    }

    private static boolean valid(byte status) {
        return status == IDLE || status == IN_TRANSACTION || status == FAILED_TRANSACTION;
    }

    @Override
    public void encode(ByteBuf out) {
        int start = Wire.beginMessage(out, TYPE);
        out.writeByte(status);
        Wire.endMessage(out, start);
    }

    public static ReadyForQuery decode(ByteBuf frame) throws ProtocolException {
        MessageReader in = MessageReader.open(frame, TYPE, "ReadyForQuery");
        byte status = in.readByte();
        if (!valid(status)) {
            throw in.invalid("transaction status " + Wire.typeName(status) + " (expected 'I', 'T' or 'E')");
        }
        in.end();
        return new ReadyForQuery(status);
    }
}
