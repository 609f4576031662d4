package dev.pgmux.routing;

import dev.pgmux.TcpPort;
import java.io.ByteArrayOutputStream;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;
import org.postgresql.Driver;

/**
 * A control-plane connection string, as libpq spells it ({@code postgresql://user:pw@host:port/db?sslmode=require},
 * see "Connection URIs" in the libpq chapter of the PostgreSQL docs) or as pgjdbc does
 * ({@code jdbc:postgresql://host:port/db?user=...}), turned into what pgjdbc's DriverManager takes, plus a form
 * without the password for logs and error messages.
 *
 * <p>libpq query parameters that pgjdbc names differently are renamed ({@code connect_timeout},
 * {@code application_name}, {@code target_session_attrs}, {@code channel_binding}); any other parameter goes to
 * pgjdbc as it is, so pgjdbc's own options work too. No message here quotes the input: it may hold a password.
 */
final class Dsn {
    static final int DEFAULT_PORT = BackendSpec.DEFAULT_PORT;

    /** libpq parameter names that pgjdbc spells differently, with the same values. */
    private static final Map<String, String> LIBPQ_TO_PGJDBC = Map.of(
            "connect_timeout", "connectTimeout",
            "application_name", "ApplicationName",
            "channel_binding", "channelBinding");

    /** libpq's target_session_attrs values in pgjdbc's targetServerType spelling. */
    private static final Map<String, String> TARGET_SESSION_ATTRS = Map.of(
            "any", "any",
            "read-write", "primary",
            "primary", "primary",
            "read-only", "secondary",
            "standby", "secondary",
            "prefer-standby", "preferSecondary");

    private final String jdbcUrl;
    private final Properties properties;
    private final String display;

    private Dsn(String jdbcUrl, Properties properties, String display) {
        this.jdbcUrl = jdbcUrl;
        this.properties = properties;
        this.display = display;
    }

    /** @throws IllegalArgumentException if the text is neither form; the message never contains the text */
    static Dsn parse(String text) {
        if (text == null || text.isBlank()) {
            throw new IllegalArgumentException("no DSN given");
        }
        String dsn = text.strip();
        if (dsn.regionMatches(true, 0, "jdbc:postgresql:", 0, 16)) {
            return parseJdbc(dsn);
        }
        for (String scheme : List.of("postgresql://", "postgres://")) {
            if (dsn.regionMatches(true, 0, scheme, 0, scheme.length())) {
                return parseUri(dsn.substring(scheme.length()));
            }
        }
        throw new IllegalArgumentException("a DSN looks like postgresql://USER:PASSWORD@HOST:PORT/DATABASE"
                + " or jdbc:postgresql://HOST:PORT/DATABASE?user=USER");
    }

    /** Opens a connection; {@code defaults} are pgmux's settings, which the DSN's own parameters override. */
    Connection connect(Properties defaults) throws SQLException {
        Properties all = new Properties();
        all.putAll(defaults);
        all.putAll(properties);
        // pgjdbc lets URL parameters override these properties in turn, which is the order wanted here too.
        return DriverManager.getConnection(jdbcUrl, all);
    }

    String jdbcUrl() {
        return jdbcUrl;
    }

    /** A copy of the connection properties (these may include the password). */
    Properties properties() {
        Properties copy = new Properties();
        copy.putAll(properties);
        return copy;
    }

    /** {@code postgresql://user@host:port/database}: no password, no parameters (sslpassword is one). */
    @Override
    public String toString() {
        return display;
    }

    // ---- pgjdbc URL --------------------------------------------------------------------------------------

    private static Dsn parseJdbc(String url) {
        Properties parsed = Driver.parseURL(url, null);
        if (parsed == null) {
            throw new IllegalArgumentException("pgjdbc cannot parse this jdbc:postgresql: URL");
        }
        String[] hosts = parsed.getProperty("PGHOST", "localhost").split(",", -1);
        String[] ports = parsed.getProperty("PGPORT", Integer.toString(DEFAULT_PORT)).split(",", -1);
        List<String> addresses = new ArrayList<>();
        for (int i = 0; i < hosts.length; i++) {
            addresses.add(address(hosts[i], i < ports.length ? ports[i] : Integer.toString(DEFAULT_PORT)));
        }
        return new Dsn(url, new Properties(),
                display(parsed.getProperty("user"), addresses, parsed.getProperty("PGDBNAME", "")));
    }

    // ---- libpq URI ---------------------------------------------------------------------------------------

    /** {@code [user[:password]@][host][:port][,...][/dbname][?param=value&...]}, after the scheme. */
    private static Dsn parseUri(String rest) {
        Properties props = new Properties();
        String query = null;
        int q = rest.indexOf('?');
        if (q >= 0) {
            query = rest.substring(q + 1);
            rest = rest.substring(0, q);
        }
        String database = "";
        int slash = rest.indexOf('/');
        if (slash >= 0) {
            database = decode(rest.substring(slash + 1), "database");
            rest = rest.substring(0, slash);
        }
        // The last @: a password with an unencoded @ still parses.
        int at = rest.lastIndexOf('@');
        if (at >= 0) {
            String userInfo = rest.substring(0, at);
            rest = rest.substring(at + 1);
            int colon = userInfo.indexOf(':');
            String user = decode(colon < 0 ? userInfo : userInfo.substring(0, colon), "user name");
            if (!user.isEmpty()) {
                props.setProperty("user", user);
            }
            if (colon >= 0) {
                props.setProperty("password", decode(userInfo.substring(colon + 1), "password"));
            }
        }
        List<String> hosts = new ArrayList<>();
        List<String> ports = new ArrayList<>();
        for (String hostPort : rest.split(",", -1)) {
            splitHostPort(hostPort, hosts, ports);
        }
        if (query != null && !query.isEmpty()) {
            for (String pair : query.split("&")) {
                int eq = pair.indexOf('=');
                if (eq <= 0) {
                    throw new IllegalArgumentException("a DSN parameter must look like NAME=VALUE");
                }
                String name = decode(pair.substring(0, eq), "parameter name");
                String value = decode(pair.substring(eq + 1), "parameter " + name);
                switch (name) {
                    case "host" -> {
                        hosts.clear();
                        hosts.addAll(List.of(value.split(",", -1)));
                    }
                    case "port" -> {
                        ports.clear();
                        ports.addAll(List.of(value.split(",", -1)));
                    }
                    case "dbname" -> database = value;
                    case "target_session_attrs" -> {
                        String type = TARGET_SESSION_ATTRS.get(value.toLowerCase(Locale.ROOT));
                        if (type == null) {
                            throw new IllegalArgumentException("unknown target_session_attrs \"" + value + "\"");
                        }
                        props.setProperty("targetServerType", type);
                    }
                    case "keepalives" -> props.setProperty("tcpKeepAlive", Boolean.toString(!value.equals("0")));
                    default -> props.setProperty(LIBPQ_TO_PGJDBC.getOrDefault(name, name), value);
                }
            }
        }
        if (ports.size() == 1 && hosts.size() > 1) {
            ports.addAll(Collections.nCopies(hosts.size() - 1, ports.getFirst()));
        }
        if (ports.size() != hosts.size()) {
            throw new IllegalArgumentException("a DSN needs one port, or one port per host");
        }
        List<String> addresses = new ArrayList<>();
        for (int i = 0; i < hosts.size(); i++) {
            String host = hosts.get(i).isEmpty() ? "localhost" : hosts.get(i);
            if (host.startsWith("/")) {
                throw new IllegalArgumentException("Unix-domain sockets are not supported in a DSN: give a TCP host");
            }
            String port = ports.get(i).isEmpty() ? Integer.toString(DEFAULT_PORT) : ports.get(i);
            addresses.add(address(host, port));
        }
        String url = "jdbc:postgresql://" + String.join(",", addresses) + "/"
                + URLEncoder.encode(database, StandardCharsets.UTF_8);
        return new Dsn(url, props, display(props.getProperty("user"), addresses, database));
    }

    private static void splitHostPort(String hostPort, List<String> hosts, List<String> ports) {
        String host;
        String port = "";
        if (hostPort.startsWith("[")) {
            int close = hostPort.indexOf(']');
            if (close < 0) {
                throw new IllegalArgumentException("an IPv6 host in a DSN lacks its closing ]");
            }
            host = hostPort.substring(1, close);
            String after = hostPort.substring(close + 1);
            if (after.startsWith(":")) {
                port = after.substring(1);
            } else if (!after.isEmpty()) {
                throw new IllegalArgumentException("expected :PORT after ] in a DSN");
            }
        } else {
            int colon = hostPort.indexOf(':');
            host = colon < 0 ? hostPort : hostPort.substring(0, colon);
            port = colon < 0 ? "" : hostPort.substring(colon + 1);
        }
        hosts.add(decode(host, "host"));
        ports.add(port);
    }

    /** {@code host:port}, with brackets around an IPv6 address; checks the port. */
    private static String address(String host, String port) {
        int p;
        try {
            p = Integer.parseInt(port.strip());
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("the port in a DSN must be a number");
        }
        if (!TcpPort.isValid(p)) {
            throw new IllegalArgumentException("the port in a DSN must be between 1 and " + TcpPort.MAX);
        }
        return (host.indexOf(':') >= 0 && !host.startsWith("[") ? "[" + host + "]" : host) + ":" + p;
    }

    private static String display(String user, List<String> addresses, String database) {
        return "postgresql://" + (user == null || user.isEmpty() ? "" : user + "@") + String.join(",", addresses)
                + "/" + database;
    }

    /** RFC 3986 percent-decoding, as libpq does it: a {@code +} stays a plus sign. */
    private static String decode(String s, String what) {
        if (s.indexOf('%') < 0) {
            return s;
        }
        ByteArrayOutputStream out = new ByteArrayOutputStream(s.length());
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c != '%') {
                out.writeBytes(String.valueOf(c).getBytes(StandardCharsets.UTF_8));
                continue;
            }
            if (i + 2 >= s.length() || Character.digit(s.charAt(i + 1), 16) < 0
                    || Character.digit(s.charAt(i + 2), 16) < 0) {
                throw new IllegalArgumentException("bad %-escape in the DSN's " + what);
            }
            out.write(Character.digit(s.charAt(i + 1), 16) * 16 + Character.digit(s.charAt(i + 2), 16));
            i += 2;
        }
        return out.toString(StandardCharsets.UTF_8);
    }
}
