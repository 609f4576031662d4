package dev.pgmux.routing;

import dev.pgmux.TcpPort;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The routing table's schema (docs/ROUTING-TABLE.md) and its idempotent creation: the table, a statement-level
 * trigger that calls {@code pg_notify(channel, TG_OP)} after every INSERT, UPDATE, DELETE and TRUNCATE, and a
 * row-level trigger that keeps {@code updated_at} current on UPDATE.
 *
 * <p>The notification is a signal only (the operation, no row): routers reload the whole table on it, which
 * for thousands of rows costs milliseconds and cannot drift from the table. A statement-level trigger sends
 * one notification per statement, however many rows it touches, and is the only kind TRUNCATE fires.
 */
final class TableSchema {

    /** Columns a router cannot do without; a table lacking one is not a routing table. */
    static final Set<String> REQUIRED_COLUMNS = Set.of("username", "host", "port");

    /**
     * Every column with its definition, in table order. The optional ones can be added to an older or
     * hand-made table with ADD COLUMN; the CHECKs keep rows that could never be routes out of the table.
     */
    static final Map<String, String> COLUMNS = columns();

    /**
     * What {@code client_password} may hold, as a PostgreSQL regular expression: the form
     * {@link dev.pgmux.BackendConfig#clientCredential()} checks (an MD5 hash's length is checked beside it). No
     * braces, which pgjdbc's escape processing looks at, and {@code [$]} rather than a backslash, which means
     * something else with {@code standard_conforming_strings} off.
     */
    static final String CLIENT_PASSWORD_FORM = "^(md5[0-9a-f]+|SCRAM-SHA-256[$][0-9]+:[A-Za-z0-9+/]+=*[$]"
            + "[A-Za-z0-9+/]+=*:[A-Za-z0-9+/]+=*)$";

    /** pg_advisory_xact_lock key ("pgmux" in ASCII): two init runs at once wait for each other. */
    private static final long INIT_LOCK = 0x70676d7578L;

    private TableSchema() {
    }

    private static Map<String, String> columns() {
        Map<String, String> c = new LinkedHashMap<>();
        c.put("username", "text PRIMARY KEY CHECK (username <> '')");
        c.put("host", "text NOT NULL CHECK (host <> '')");
        c.put("port", "integer NOT NULL DEFAULT 5432 CHECK (port BETWEEN 1 AND " + TcpPort.MAX + ")");
        c.put("backend_user", "text CHECK (backend_user <> '')");
        c.put("database", "text CHECK (database <> '')");
        c.put("sslmode", "text CHECK (sslmode IN ('disable', 'allow', 'prefer', 'require', 'verify-ca',"
                + " 'verify-full'))");
        c.put("parameters", "jsonb CHECK (jsonb_typeof(parameters) = 'object')");
        c.put("target_session_attrs", "text CHECK (target_session_attrs IN ('any', 'read-write', 'read-only',"
                + " 'primary', 'standby', 'prefer-standby'))");
        c.put("load_balance_hosts", "text CHECK (load_balance_hosts IN ('disable', 'random', 'round-robin'))");
        c.put("auth", "text CHECK (auth IN ('passthrough', 'proxy'))");
        c.put("client_auth_method", "text CHECK (client_auth_method IN ('scram-sha-256', 'md5', 'password', 'trust',"
                + " 'cert'))");
        // A verifier or an MD5 hash, as BackendConfig takes them: a plain password never enters the table.
        c.put("client_password", "text CHECK (client_password ~ '" + CLIENT_PASSWORD_FORM + "'"
                + " AND (left(client_password, 3) <> 'md5' OR length(client_password) = 35))");
        c.put("pool", "text CHECK (pool IN ('none', 'session', 'transaction'))");
        c.put("pool_size", "integer CHECK (pool_size >= 1)");
        c.put("updated_at", "timestamptz NOT NULL DEFAULT now()");
        return c;
    }

    static String createTable(TableName table) {
        StringBuilder sql = new StringBuilder("CREATE TABLE IF NOT EXISTS ").append(table.sql()).append(" (");
        String separator = "\n    ";
        for (Map.Entry<String, String> column : COLUMNS.entrySet()) {
            sql.append(separator).append(column.getKey()).append(' ').append(column.getValue());
            separator = ",\n    ";
        }
        return sql.append("\n)").toString();
    }

    /** The body of the notify function; compared with pg_proc.prosrc to tell "unchanged" from "replaced". */
    static String notifyBody(TableName table) {
        // The channel is a string literal here; TableName allows no quote in it.
        return "\nBEGIN\n    PERFORM pg_notify('" + table.channel() + "', TG_OP);\n    RETURN NULL;\nEND\n";
    }

    static String touchBody() {
        return "\nBEGIN\n    NEW.updated_at := now();\n    RETURN NEW;\nEND\n";
    }

    static String createFunction(String qualifiedName, String body) {
        return "CREATE OR REPLACE FUNCTION " + qualifiedName + "() RETURNS trigger LANGUAGE plpgsql AS $body$"
                + body + "$body$";
    }

    static String createNotifyTrigger(TableName table) {
        return "CREATE TRIGGER " + TableName.quote(table.notifyTrigger())
                + " AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON " + table.sql()
                + " FOR EACH STATEMENT EXECUTE FUNCTION " + table.qualify(table.notifyTrigger()) + "()";
    }

    static String createTouchTrigger(TableName table) {
        return "CREATE TRIGGER " + TableName.quote(table.touchTrigger()) + " BEFORE UPDATE ON " + table.sql()
                + " FOR EACH ROW EXECUTE FUNCTION " + table.qualify(table.touchTrigger()) + "()";
    }

    /**
     * Creates what is missing, in one transaction, and says what it did, one line per object.
     *
     * @throws SQLException as PostgreSQL reported it (nothing is left half-made: the transaction rolls back)
     */
    static List<String> create(Connection c, TableName requested) throws SQLException {
        List<String> done = new ArrayList<>();
        boolean autoCommit = c.getAutoCommit();
        c.setAutoCommit(false);
        try (Statement st = c.createStatement()) {
            st.execute("SELECT pg_advisory_xact_lock(" + INIT_LOCK + ")");
            boolean existed = regclass(c, requested.sql()) != null;
            st.execute(createTable(requested));
            // Functions and triggers live next to the table, wherever search_path put it.
            TableName table = requested.inSchema(schemaOf(c, requested));
            if (!existed) {
                st.execute("COMMENT ON TABLE " + table.sql() + " IS 'pgmux routes: one row per client user name."
                        + " Changes reach every pgmux within a second (NOTIFY " + table.channel() + ").'");
                done.add("table " + table + ": created");
            } else {
                done.add("table " + table + ": exists");
                done.addAll(addMissingColumns(c, st, table));
            }
            done.add(function(c, st, table, table.notifyTrigger(), notifyBody(table)));
            done.add(function(c, st, table, table.touchTrigger(), touchBody()));
            done.add(trigger(c, st, table, table.notifyTrigger(), createNotifyTrigger(table)));
            done.add(trigger(c, st, table, table.touchTrigger(), createTouchTrigger(table)));
            long rows;
            try (ResultSet rs = st.executeQuery("SELECT count(*) FROM " + table.sql())) {
                rs.next();
                rows = rs.getLong(1);
            }
            c.commit();
            done.add("ready: " + rows + (rows == 1 ? " route" : " routes") + "; changes are announced on"
                    + " channel " + table.channel());
            return done;
        } catch (SQLException | RuntimeException e) {
            c.rollback();
            throw e;
        } finally {
            c.setAutoCommit(autoCommit);
        }
    }

    private static List<String> addMissingColumns(Connection c, Statement st, TableName table) throws SQLException {
        Set<String> present = new HashSet<>();
        try (PreparedStatement ps = c.prepareStatement("SELECT attname FROM pg_attribute"
                + " WHERE attrelid = to_regclass(?) AND attnum > 0 AND NOT attisdropped")) {
            ps.setString(1, table.sql());
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    present.add(rs.getString(1));
                }
            }
        }
        List<String> missingRequired = REQUIRED_COLUMNS.stream().filter(col -> !present.contains(col))
                .sorted().toList();
        if (!missingRequired.isEmpty()) {
            throw new SQLException("table " + table + " exists but has no column " + String.join(", ", missingRequired)
                    + ": it is not a pgmux routing table (choose another --table)", "42703");
        }
        List<String> done = new ArrayList<>();
        for (Map.Entry<String, String> column : COLUMNS.entrySet()) {
            if (!present.contains(column.getKey())) {
                st.execute("ALTER TABLE " + table.sql() + " ADD COLUMN " + column.getKey() + " " + column.getValue());
                done.add("column " + table + "." + column.getKey() + ": added");
            }
        }
        return done;
    }

    private static String function(Connection c, Statement st, TableName table, String name, String body)
            throws SQLException {
        String qualified = table.qualify(name);
        String current = null;
        boolean exists = false;
        try (PreparedStatement ps = c.prepareStatement(
                "SELECT prosrc FROM pg_proc WHERE oid = to_regprocedure(?)")) {
            ps.setString(1, qualified + "()");
            try (ResultSet rs = ps.executeQuery()) {
                if (rs.next()) {
                    exists = true;
                    current = rs.getString(1);
                }
            }
        }
        String label = "function " + displayName(table, name) + "()";
        if (exists && body.equals(current)) {
            return label + ": unchanged";
        }
        st.execute(createFunction(qualified, body));
        return label + (exists ? ": replaced" : ": created");
    }

    private static String trigger(Connection c, Statement st, TableName table, String name, String create)
            throws SQLException {
        String label = "trigger " + name + " on " + table;
        try (PreparedStatement ps = c.prepareStatement("SELECT 1 FROM pg_trigger"
                + " WHERE tgrelid = to_regclass(?) AND tgname = ? AND NOT tgisinternal")) {
            ps.setString(1, table.sql());
            ps.setString(2, name);
            try (ResultSet rs = ps.executeQuery()) {
                if (rs.next()) {
                    return label + ": exists";
                }
            }
        }
        st.execute(create);
        return label + ": created";
    }

    private static String displayName(TableName table, String object) {
        return table.schema() == null ? object : table.schema() + "." + object;
    }

    /** The table's oid as text, or null if there is no such relation. */
    private static String regclass(Connection c, String table) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("SELECT to_regclass(?)::oid")) {
            ps.setString(1, table);
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                return rs.getString(1);
            }
        }
    }

    private static String schemaOf(Connection c, TableName table) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("SELECT n.nspname FROM pg_class t"
                + " JOIN pg_namespace n ON n.oid = t.relnamespace WHERE t.oid = to_regclass(?)")) {
            ps.setString(1, table.sql());
            try (ResultSet rs = ps.executeQuery()) {
                if (!rs.next()) {
                    throw new SQLException("table " + table + " vanished while being set up", "42P01");
                }
                return rs.getString(1);
            }
        }
    }
}
