package dev.pgmux.console;

import static dev.pgmux.console.Table.Type.INT4;
import static dev.pgmux.console.Table.Type.NUMERIC;
import static dev.pgmux.console.Table.Type.TEXT;

import dev.pgmux.console.Table.Column;
import java.net.InetSocketAddress;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.List;
import java.util.Map;

/**
 * The {@code SHOW} commands' tables: PgBouncer 1.25's column names and types for the commands PgBouncer has (so
 * that its exporters and scripts read pgmux unchanged), pgmux's own for {@code SHOW ROUTES} and {@code SHOW PINS}.
 *
 * <p>A "database" here is a pool ({@code user@database/host:port}, the name its metrics carry too), or for
 * passthrough sessions, which have a server each, the same name for their backend with pool mode
 * {@code passthrough}.
 */
public final class Shows {
    static final List<Column> POOLS = Table.columns(
            "database", TEXT, "user", TEXT, "cl_active", INT4, "cl_waiting", INT4, "cl_active_cancel_req", INT4,
            "cl_waiting_cancel_req", INT4, "sv_active", INT4, "sv_active_cancel", INT4, "sv_being_canceled", INT4,
            "sv_idle", INT4, "sv_used", INT4, "sv_tested", INT4, "sv_login", INT4, "maxwait", INT4,
            "maxwait_us", INT4, "pool_mode", TEXT, "load_balance_hosts", TEXT);
    static final List<Column> CLIENTS = Table.columns(
            "type", TEXT, "user", TEXT, "database", TEXT, "replication", TEXT, "state", TEXT, "addr", TEXT,
            "port", INT4, "local_addr", TEXT, "local_port", INT4, "connect_time", TEXT, "request_time", TEXT,
            "wait", INT4, "wait_us", INT4, "close_needed", INT4, "ptr", TEXT, "link", TEXT, "remote_pid", INT4,
            "tls", TEXT, "application_name", TEXT, "prepared_statements", INT4, "id", INT4);
    static final List<Column> SERVERS = CLIENTS;
    static final List<Column> STATS = Table.columns(
            "database", TEXT, "total_server_assignment_count", NUMERIC, "total_xact_count", NUMERIC,
            "total_query_count", NUMERIC, "total_received", NUMERIC, "total_sent", NUMERIC,
            "total_xact_time", NUMERIC, "total_query_time", NUMERIC, "total_wait_time", NUMERIC,
            "total_client_parse_count", NUMERIC, "total_server_parse_count", NUMERIC, "total_bind_count", NUMERIC,
            "avg_server_assignment_count", NUMERIC, "avg_xact_count", NUMERIC, "avg_query_count", NUMERIC,
            "avg_recv", NUMERIC, "avg_sent", NUMERIC, "avg_xact_time", NUMERIC, "avg_query_time", NUMERIC,
            "avg_wait_time", NUMERIC, "avg_client_parse_count", NUMERIC, "avg_server_parse_count", NUMERIC,
            "avg_bind_count", NUMERIC);
    static final List<Column> STATS_TOTALS = Table.columns(
            "database", TEXT, "server_assignment_count", NUMERIC, "xact_count", NUMERIC, "query_count", NUMERIC,
            "bytes_received", NUMERIC, "bytes_sent", NUMERIC, "xact_time", NUMERIC, "query_time", NUMERIC,
            "wait_time", NUMERIC, "client_parse_count", NUMERIC, "server_parse_count", NUMERIC,
            "bind_count", NUMERIC);
    static final List<Column> STATS_AVERAGES = Table.columns(
            "database", TEXT, "server_assignment_count", NUMERIC, "xact_count", NUMERIC, "query_count", NUMERIC,
            "bytes_received", NUMERIC, "bytes_sent", NUMERIC, "xact_time", NUMERIC, "query_time", NUMERIC,
            "wait_time", NUMERIC, "avg_client_parse_count", NUMERIC, "avg_server_parse_count", NUMERIC,
            "avg_bind_count", NUMERIC);
    static final List<Column> TOTALS = Table.columns("name", TEXT, "value", NUMERIC);
    static final List<Column> DATABASES = Table.columns(
            "name", TEXT, "host", TEXT, "port", INT4, "database", TEXT, "force_user", TEXT, "pool_size", INT4,
            "min_pool_size", INT4, "reserve_pool_size", INT4, "server_lifetime", INT4, "pool_mode", TEXT,
            "load_balance_hosts", TEXT, "max_connections", INT4, "current_connections", INT4,
            "max_client_connections", INT4, "current_client_connections", INT4, "paused", INT4, "disabled", INT4);
    static final List<Column> CONFIG = Table.columns("key", TEXT, "value", TEXT, "default", TEXT, "changeable", TEXT);
    static final List<Column> VERSION = Table.columns("version", TEXT);
    static final List<Column> LISTS = Table.columns("list", TEXT, "items", INT4);
    static final List<Column> STATE = Table.columns("key", TEXT, "value", TEXT);
    static final List<Column> USERS = Table.columns(
            "name", TEXT, "pool_size", TEXT, "reserve_pool_size", TEXT, "pool_mode", TEXT,
            "max_user_connections", INT4, "current_connections", INT4, "max_user_client_connections", INT4,
            "current_client_connections", INT4);
    /** pgmux's own: the routes the routers know now, with where each comes from. */
    static final List<Column> ROUTES = Table.columns(
            "name", TEXT, "source", TEXT, "host", TEXT, "port", INT4, "database", TEXT, "user", TEXT, "auth", TEXT,
            "pool_mode", TEXT, "pool_size", INT4);
    /** pgmux's own: clients pinned to their server connection, by pool and cause, since start. */
    static final List<Column> PINS = Table.columns("database", TEXT, "cause", TEXT, "count", NUMERIC);

    private static final Map<String, List<Column>> BY_NAME = Map.ofEntries(
            Map.entry("POOLS", POOLS), Map.entry("CLIENTS", CLIENTS), Map.entry("SERVERS", SERVERS),
            Map.entry("STATS", STATS), Map.entry("STATS_TOTALS", STATS_TOTALS),
            Map.entry("STATS_AVERAGES", STATS_AVERAGES), Map.entry("TOTALS", TOTALS), Map.entry("DATABASES", DATABASES),
            Map.entry("CONFIG", CONFIG), Map.entry("VERSION", VERSION), Map.entry("LISTS", LISTS),
            Map.entry("STATE", STATE), Map.entry("USERS", USERS), Map.entry("ROUTES", ROUTES), Map.entry("PINS", PINS));

    private static final DateTimeFormatter TIME = DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm:ss 'UTC'")
            .withZone(ZoneOffset.UTC);

    private Shows() {
    }

    /** The columns of {@code SHOW what}, or null for a {@code SHOW} the console does not know ({@code HELP} has none). */
    public static List<Column> columns(String what) {
        return BY_NAME.get(what);
    }

    /** The names {@code SHOW} takes, for {@code SHOW HELP}. */
    public static java.util.Set<String> names() {
        return new java.util.TreeSet<>(BY_NAME.keySet());
    }

    /** A client or server connection, for {@code SHOW CLIENTS} and {@code SHOW SERVERS}. */
    public record Connection(long id, String user, String database, String replication, String state,
                             InetSocketAddress addr, InetSocketAddress local, long connectMillis, long requestMillis,
                             long waitMicros, boolean closeNeeded, String link, int remotePid, String tls,
                             String applicationName, int preparedStatements) {
    }

    public static Table connections(List<Connection> rows, boolean servers) {
        Table t = new Table(CLIENTS);
        for (Connection c : rows) {
            t.row(servers ? "S" : "C", c.user(), c.database(), c.replication(), c.state(), host(c.addr()),
                    port(c.addr()), host(c.local()), port(c.local()), time(c.connectMillis()),
                    time(c.requestMillis()), (int) (c.waitMicros() / 1_000_000), (int) (c.waitMicros() % 1_000_000),
                    c.closeNeeded() ? 1 : 0, servers ? serverPtr(c.id()) : clientPtr(c.id()),
                    c.link() == null ? "" : c.link(), c.remotePid(), c.tls() == null ? "" : c.tls(),
                    c.applicationName() == null ? "" : c.applicationName(), c.preparedStatements(),
                    (int) c.id());
        }
        return t;
    }

    /** A client's {@code ptr}: unique among clients and servers, as PgBouncer's addresses are. */
    public static String clientPtr(long id) {
        return "0x" + Long.toHexString(id * 2);
    }

    public static String serverPtr(long id) {
        return "0x" + Long.toHexString(id * 2 + 1);
    }

    /** PgBouncer's time format ({@code 2026-12-07 10:27:53 UTC}); 0 is never. */
    static String time(long epochMillis) {
        return epochMillis == 0 ? "" : TIME.format(Instant.ofEpochMilli(epochMillis));
    }

    static String host(InetSocketAddress a) {
        return a == null ? "unix" : a.getAddress() == null ? a.getHostString() : a.getAddress().getHostAddress();
    }

    static int port(InetSocketAddress a) {
        return a == null ? 0 : a.getPort();
    }
}
