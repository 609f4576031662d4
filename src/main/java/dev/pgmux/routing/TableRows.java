package dev.pgmux.routing;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.pgmux.BackendConfig;
import java.sql.ResultSet;
import java.sql.ResultSetMetaData;
import java.sql.SQLException;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

/**
 * Turns the routing table's rows into routes. Columns are found by name, so a hand-made table with only the
 * required ones ({@link TableSchema#REQUIRED_COLUMNS}) works, and extra columns of the operator's own are
 * ignored. A row that cannot be a route (a port out of range, an unknown sslmode, parameters that are not a
 * flat JSON object — possible when the table lacks pgmux's CHECKs) is left out with its reason; the others
 * still load, so that one bad row cannot freeze everyone else's routes.
 */
final class TableRows {
    private static final ObjectMapper JSON = new ObjectMapper();

    /**
     * @param routes   user name → backend
     * @param rejected user name → why that row is not a route
     */
    record Loaded(Map<String, BackendConfig> routes, Map<String, String> rejected) {
        Loaded {
            routes = Map.copyOf(routes);
            rejected = Map.copyOf(rejected);
        }
    }

    private TableRows() {
    }

    static String selectAll(TableName table) {
        return "SELECT * FROM " + table.sql();
    }

    static Loaded read(ResultSet rs, TableName table) throws SQLException {
        Map<String, Integer> columns = new HashMap<>();
        ResultSetMetaData meta = rs.getMetaData();
        for (int i = 1; i <= meta.getColumnCount(); i++) {
            columns.put(meta.getColumnName(i).toLowerCase(Locale.ROOT), i);
        }
        for (String required : TableSchema.REQUIRED_COLUMNS.stream().sorted().toList()) {
            if (!columns.containsKey(required)) {
                // undefined_column, as PostgreSQL would say for SELECT host FROM ...
                throw new SQLException("routing table " + table + " has no column " + required, "42703");
            }
        }
        Map<String, BackendConfig> routes = new HashMap<>();
        Map<String, String> rejected = new HashMap<>();
        while (rs.next()) {
            String user = rs.getString(columns.get("username"));
            if (user == null) {
                continue; // only possible without the primary key; nobody logs in as null
            }
            try {
                int portValue = rs.getInt(columns.get("port"));
                Integer port = rs.wasNull() ? null : portValue; // before any other get: wasNull is about the last
                routes.put(user, backend(rs.getString(columns.get("host")), port,
                        text(rs, columns, "backend_user"), text(rs, columns, "database"),
                        text(rs, columns, "sslmode"), text(rs, columns, "parameters"),
                        text(rs, columns, "target_session_attrs"), text(rs, columns, "load_balance_hosts"),
                        text(rs, columns, "auth"), text(rs, columns, "client_auth_method"),
                        text(rs, columns, "client_password"), text(rs, columns, "pool"),
                        text(rs, columns, "pool_size")));
            } catch (IllegalArgumentException | SQLException e) {
                rejected.put(user, e.getMessage());
            }
        }
        return new Loaded(routes, rejected);
    }

    /** A column as text (an integer column too, such as {@code pool_size}), or null when the table has none. */
    private static String text(ResultSet rs, Map<String, Integer> columns, String name) throws SQLException {
        Integer index = columns.get(name);
        return index == null ? null : rs.getString(index);
    }

    /**
     * One row as a backend, read as a route of the config file is ({@link BackendSpec}): null and blank columns
     * are not set (the client's user name, the client's database, sslmode disable, no extra startup parameters;
     * port 5432).
     *
     * @throws IllegalArgumentException with the reason the row is not a route
     */
    static BackendConfig backend(String host, Integer port, String backendUser, String database, String sslmode,
                                 String parametersJson) {
        return backend(host, port, backendUser, database, sslmode, parametersJson, null, null);
    }

    /** As above, with the columns for several hosts ({@code host} may be a comma-separated list). */
    static BackendConfig backend(String host, Integer port, String backendUser, String database, String sslmode,
                                 String parametersJson, String targetSessionAttrs, String loadBalanceHosts) {
        return backend(host, port, backendUser, database, sslmode, parametersJson, targetSessionAttrs,
                loadBalanceHosts, null, null, null);
    }

    /**
     * As above, with the authentication columns. A backend password has no column: it is named in the config file
     * only ({@link BackendSpec}).
     */
    static BackendConfig backend(String host, Integer port, String backendUser, String database, String sslmode,
                                 String parametersJson, String targetSessionAttrs, String loadBalanceHosts,
                                 String auth, String clientAuthMethod, String clientPassword) {
        return backend(host, port, backendUser, database, sslmode, parametersJson, targetSessionAttrs,
                loadBalanceHosts, auth, clientAuthMethod, clientPassword, null, null);
    }

    /**
     * As above, with the pool columns {@code pool} and {@code pool_size}; the other pool keys have no column and
     * are PgBouncer's defaults ({@link dev.pgmux.PoolConfig}).
     */
    static BackendConfig backend(String host, Integer port, String backendUser, String database, String sslmode,
                                 String parametersJson, String targetSessionAttrs, String loadBalanceHosts,
                                 String auth, String clientAuthMethod, String clientPassword, String pool,
                                 String poolSize) {
        return new BackendSpec(host, port == null ? null : port.toString(), null, backendUser, database, sslmode, null,
                targetSessionAttrs, loadBalanceHosts, parameters(parametersJson), auth, clientAuthMethod,
                clientPassword, null, null, null, null, null, pool, poolSize, null, null, null, null, null, null, null,
                null).toBackendConfig();
    }

    /**
     * A JSON object of startup parameters; strings as they are, numbers and booleans as their text, null as null
     * (not sent, as a null parameter of a route in the config file).
     */
    static Map<String, String> parameters(String json) {
        if (json == null) {
            return Map.of();
        }
        JsonNode node;
        try {
            node = JSON.readTree(json);
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException("parameters is not JSON");
        }
        if (node == null || node.isNull()) {
            return Map.of();
        }
        if (!node.isObject()) {
            throw new IllegalArgumentException("parameters must be a JSON object of name: value");
        }
        Map<String, String> parameters = new LinkedHashMap<>();
        for (Map.Entry<String, JsonNode> field : node.properties()) {
            JsonNode value = field.getValue();
            if (value.isNull()) {
                parameters.put(field.getKey(), null);
                continue;
            }
            if (!value.isValueNode()) {
                throw new IllegalArgumentException("parameter \"" + field.getKey() + "\" must be a string, number,"
                        + " boolean or null");
            }
            parameters.put(field.getKey(), value.asText());
        }
        return parameters;
    }
}
