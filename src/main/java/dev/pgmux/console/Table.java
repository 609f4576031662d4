package dev.pgmux.console;

import dev.pgmux.protocol.backend.DataRow;
import dev.pgmux.protocol.backend.RowDescription;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/** A console answer with rows: its columns, then rows of values in text form (null for SQL NULL). */
public final class Table {

    /** The column types the console uses, with their {@code pg_type} OIDs and sizes. */
    public enum Type {
        TEXT(25, -1), INT4(23, 4), INT8(20, 8), NUMERIC(1700, -1);

        final int oid;
        final int size;

        Type(int oid, int size) {
            this.oid = oid;
            this.size = size;
        }

        public int oid() {
            return oid;
        }
    }

    public record Column(String name, Type type) {
    }

    private final List<Column> columns;
    private final List<Object[]> rows = new ArrayList<>();

    public Table(List<Column> columns) {
        this.columns = List.copyOf(columns);
    }

    public List<Column> columns() {
        return columns;
    }

    public List<Object[]> rows() {
        return rows;
    }

    /** Adds a row; each value's {@code toString()} is its text form; null is NULL. */
    public Table row(Object... values) {
        if (values.length != columns.size()) {
            throw new IllegalArgumentException(values.length + " values for " + columns.size() + " columns");
        }
        rows.add(values.clone());
        return this;
    }

    public static RowDescription describe(List<Column> columns) {
        List<RowDescription.Field> fields = new ArrayList<>(columns.size());
        for (Column c : columns) {
            fields.add(new RowDescription.Field(c.name(), 0, 0, c.type().oid, c.type().size, -1, 0));
        }
        return new RowDescription(fields);
    }

    /** The DataRow of row {@code i}, encoded. */
    public ByteBuf encodeRow(ByteBufAllocator alloc, int i) {
        Object[] row = rows.get(i);
        byte[][] values = new byte[row.length][];
        for (int c = 0; c < row.length; c++) {
            values[c] = row[c] == null ? null : row[c].toString().getBytes(StandardCharsets.UTF_8);
        }
        return new DataRow(Arrays.asList(values)).encode(alloc);
    }

    /** Column list shorthand: names and types alternating ({@code "database", TEXT, "cl_active", INT4, ...}). */
    public static List<Column> columns(Object... namesAndTypes) {
        List<Column> out = new ArrayList<>(namesAndTypes.length / 2);
        for (int i = 0; i < namesAndTypes.length; i += 2) {
            out.add(new Column((String) namesAndTypes[i], (Type) namesAndTypes[i + 1]));
        }
        return List.copyOf(out);
    }
}
