package dev.pgmux.protocol.frontend;

import dev.pgmux.protocol.MessageReader;
import dev.pgmux.protocol.ProtocolException;
import dev.pgmux.protocol.Wire;
import io.netty.buffer.ByteBuf;

/** Query: a simple query, one or more SQL statements in one string. */
public record Query(String sql) implements FrontendMessage {
    public static final byte TYPE = 'Q';

    public Query {
        Wire.checkCString(sql, "query string");
    }

    @Override
    public void encode(ByteBuf out) {
        int start = Wire.beginMessage(out, TYPE);
        Wire.writeCString(out, sql);
        Wire.endMessage(out, start);
    }

    public static Query decode(ByteBuf frame) throws ProtocolException {
        MessageReader in = MessageReader.open(frame, TYPE, "Query");
        String sql = in.readCString();
        in.end();
        return new Query(sql);
    }
}
