package dev.pgmux.routing;

import java.util.Locale;
import java.util.regex.Pattern;

/**
 * The routing table's name, {@code [schema.]name}, and the names derived from it: the NOTIFY channel, the
 * trigger functions and the triggers. Only plain identifiers are accepted, folded to lower case as PostgreSQL
 * folds an unquoted name, so that {@code INSERT INTO pgmux_routes ...} typed by hand reaches the same table.
 * pgmux always quotes them, so that a reserved word (e.g. {@code routes.user}) is a name like any other.
 *
 * @param schema the schema, or null for the connection's search_path
 * @param name   the table's own name
 */
record TableName(String schema, String name) {
    static final String DEFAULT = "pgmux_routes";
    /** PostgreSQL's identifier limit (NAMEDATALEN - 1 bytes, ASCII here); see "Identifiers and Key Words". */
    static final int MAX_IDENTIFIER = 63;
    private static final String NOTIFY_SUFFIX = "_notify";
    private static final String TOUCH_SUFFIX = "_touch";
    /** The function names add a suffix to the table's name; the whole must still fit. */
    static final int MAX_NAME = MAX_IDENTIFIER - NOTIFY_SUFFIX.length();
    private static final Pattern IDENTIFIER = Pattern.compile("[a-z_][a-z0-9_]*");

    /** @throws IllegalArgumentException with the reason */
    static TableName parse(String text) {
        if (text == null || text.isBlank()) {
            throw new IllegalArgumentException("no table name given");
        }
        String folded = text.strip().toLowerCase(Locale.ROOT);
        String[] parts = folded.split("\\.", -1);
        if (parts.length > 2) {
            throw new IllegalArgumentException("table name \"" + text + "\" must be NAME or SCHEMA.NAME");
        }
        for (String part : parts) {
            if (!IDENTIFIER.matcher(part).matches()) {
                throw new IllegalArgumentException("table name \"" + text + "\" must be made of letters, digits"
                        + " and underscores, not starting with a digit (SCHEMA.NAME for a schema)");
            }
        }
        String name = parts[parts.length - 1];
        String schema = parts.length == 2 ? parts[0] : null;
        if (name.length() > MAX_NAME) {
            throw new IllegalArgumentException("table name \"" + name + "\" is longer than " + MAX_NAME
                    + " characters (its trigger function adds \"" + NOTIFY_SUFFIX + "\" within PostgreSQL's "
                    + MAX_IDENTIFIER + ")");
        }
        if (schema != null && schema.length() > MAX_IDENTIFIER) {
            throw new IllegalArgumentException("schema name \"" + schema + "\" is longer than " + MAX_IDENTIFIER
                    + " characters");
        }
        return new TableName(schema, name);
    }

    /** The same table, qualified with the schema it was found in. */
    TableName inSchema(String schema) {
        return new TableName(schema, name);
    }

    /** The table for SQL: {@code "schema"."name"} or {@code "name"}. */
    String sql() {
        return qualify(name);
    }

    /**
     * The NOTIFY channel: the table's name without the schema, because a channel name is an identifier too
     * (63 bytes at most) and {@code schema.name} may not fit. Two routing tables of one name in two schemas of
     * one database then wake each other's routers: a spare reload, never a missed one.
     */
    String channel() {
        return name;
    }

    /** The statement-level trigger (and its function) that calls {@code pg_notify}. */
    String notifyTrigger() {
        return name + NOTIFY_SUFFIX;
    }

    /** The row-level BEFORE UPDATE trigger (and its function) that sets {@code updated_at}. */
    String touchTrigger() {
        return name + TOUCH_SUFFIX;
    }

    /** {@code "schema"."object"} or {@code "object"}: an object living next to the table. */
    String qualify(String object) {
        return schema == null ? quote(object) : quote(schema) + "." + quote(object);
    }

    /** A quoted identifier; the schema may come from the catalog ({@link #inSchema}) and hold any character. */
    static String quote(String identifier) {
        return '"' + identifier.replace("\"", "\"\"") + '"';
    }

    @Override
    public String toString() {
        return schema == null ? name : schema + "." + name;
    }
}
