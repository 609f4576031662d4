package dev.pgmux.protocol.backend;

import dev.pgmux.protocol.MessageReader;
import dev.pgmux.protocol.ProtocolException;
import dev.pgmux.protocol.Wire;
import io.netty.buffer.ByteBuf;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * DataRow: one row of a result, each value in the format its RowDescription field names; {@code null} for SQL
 * NULL, which the wire writes as a length of -1.
 */
public record DataRow(List<byte[]> values) implements BackendMessage {
    public static final byte TYPE = 'D';
    /** The column count is an Int16 that PostgreSQL and libpq read unsigned. */
    public static final int MAX_VALUES = 0xFFFF;

    public DataRow {
        values = Collections.unmodifiableList(new ArrayList<>(values)); // List.copyOf refuses the nulls
        if (values.size() > MAX_VALUES) {
            throw new IllegalArgumentException(values.size() + " values (at most 65535)");
        }
    }

    @Override
    public void encode(ByteBuf out) {
        int start = Wire.beginMessage(out, TYPE);
        out.writeShort(values.size());
        for (byte[] v : values) {
            if (v == null) {
                out.writeInt(-1);
            } else {
                out.writeInt(v.length).writeBytes(v);
            }
        }
        Wire.endMessage(out, start);
    }

    public static DataRow decode(ByteBuf frame) throws ProtocolException {
        MessageReader in = MessageReader.open(frame, TYPE, "DataRow");
        int n = in.checkCount(in.readCount16(), 4, "column");
        List<byte[]> values = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            int length = in.readInt32();
            values.add(length == -1 ? null : in.readBytes(length));
        }
        in.end();
        return new DataRow(values);
    }
}
