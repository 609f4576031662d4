package dev.pgmux.protocol.backend;

import dev.pgmux.protocol.MessageReader;
import dev.pgmux.protocol.ProtocolException;
import dev.pgmux.protocol.Wire;
import io.netty.buffer.ByteBuf;
import java.util.ArrayList;
import java.util.List;

/**
 * RowDescription: the columns of the rows that follow, for answers pgmux builds itself (an admin console) as
 * well as for reading a server's.
 */
public record RowDescription(List<Field> fields) implements BackendMessage {
    public static final byte TYPE = 'T';
    /** The field count is an Int16 that PostgreSQL and libpq read unsigned. */
    public static final int MAX_FIELDS = 0xFFFF;
    /** The fixed part of a field: an empty name's terminator and the six numbers. */
    private static final int MIN_FIELD_BYTES = 1 + 4 + 2 + 4 + 2 + 4 + 2;

    /**
     * One column. The Int16 fields ({@code column}, {@code typeSize}, {@code format}) are signed on the wire: a
     * type size of -1 is a varlena type, -2 a C string.
     *
     * @param tableOid     the table's OID if the column comes straight from one, else 0
     * @param column       the column's attribute number in that table, else 0
     * @param typeOid      the data type's OID ({@code pg_type.oid}), such as 25 for {@code text}
     * @param typeModifier the type modifier ({@code pg_attribute.atttypmod}), -1 for none
     * @param format       0 for text, 1 for binary
     */
    public record Field(String name, int tableOid, int column, int typeOid, int typeSize, int typeModifier,
                        int format) {
        public Field {
            Wire.checkCString(name, "field name");
            checkInt16(column, "column number");
            checkInt16(typeSize, "type size");
            checkInt16(format, "format code");
        }

        private static void checkInt16(int value, String what) {
            if (value != (short) value) {
                throw new IllegalArgumentException(what + " out of Int16 range: " + value);
            }
        }
    }

    public RowDescription {
        fields = List.copyOf(fields);
        if (fields.size() > MAX_FIELDS) {
            throw new IllegalArgumentException(fields.size() + " fields (at most 65535)");
        }
    }

    @Override
    public void encode(ByteBuf out) {
        int start = Wire.beginMessage(out, TYPE);
        out.writeShort(fields.size());
        for (Field f : fields) {
            Wire.writeCString(out, f.name());
            out.writeInt(f.tableOid()).writeShort(f.column()).writeInt(f.typeOid()).writeShort(f.typeSize())
                    .writeInt(f.typeModifier()).writeShort(f.format());
        }
        Wire.endMessage(out, start);
    }

    public static RowDescription decode(ByteBuf frame) throws ProtocolException {
        MessageReader in = MessageReader.open(frame, TYPE, "RowDescription");
        int n = in.checkCount(in.readCount16(), MIN_FIELD_BYTES, "field");
        List<Field> fields = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            fields.add(new Field(in.readCString(), in.readInt32(), in.readInt16(), in.readInt32(), in.readInt16(),
                    in.readInt32(), in.readInt16()));
        }
        in.end();
        return new RowDescription(fields);
    }
}
