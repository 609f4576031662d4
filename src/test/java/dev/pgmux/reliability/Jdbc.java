package dev.pgmux.reliability;

import dev.pgmux.embedded.LocalPostgres;
import dev.pgmux.testing.TestServers;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.Properties;

/** pgjdbc through a proxy port: the "normal client" every reliability test checks is still served. */
final class Jdbc {
    /** A database of its own on one shared server, for the tests that create and fill tables. */
    static final String DATABASE = "reliability";

    private Jdbc() {
    }

    static Connection connect(int port, String user, String password) throws SQLException {
        return connect(port, user, password, "postgres", new Properties());
    }

    static Connection connect(int port, String user, String password, String database, Properties extra)
            throws SQLException {
        Properties p = new Properties();
        p.setProperty("user", user);
        if (password != null) {
            p.setProperty("password", password);
        }
        p.setProperty("sslmode", "disable");
        p.setProperty("connectTimeout", "10");
        p.setProperty("socketTimeout", "60");
        p.putAll(extra);
        return DriverManager.getConnection("jdbc:postgresql://127.0.0.1:" + port + "/" + database, p);
    }

    static String one(Connection c, String sql) throws SQLException {
        try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery(sql)) {
            return rs.next() ? rs.getString(1) : null;
        }
    }

    /**
     * Checks that a normal client (alice, SCRAM) logs in and queries. A login cut off by a short login timeout
     * (57014) is tried again, twice: on a loaded machine a SCRAM login can outlast the one second some test
     * proxies allow, while a proxy that stopped serving fails every attempt.
     */
    static void assertServes(int port) throws SQLException {
        for (int attempt = 1; ; attempt++) {
            try (Connection c = connect(port, TestServers.ALICE, TestServers.ALICE_PASSWORD)) {
                if (!"still serving".equals(one(c, "select 'still serving'"))) {
                    throw new AssertionError("wrong answer through port " + port);
                }
                return;
            } catch (SQLException e) {
                if (attempt == 3 || !"57014".equals(e.getSQLState())) {
                    throw e;
                }
            }
        }
    }

    /** The SQLSTATE of the first SQLException in the cause chain, or null. */
    static String sqlState(Throwable t) {
        while (t != null && !(t instanceof SQLException)) {
            t = t.getCause();
        }
        return t == null ? null : ((SQLException) t).getSQLState();
    }

    /** Creates {@link #DATABASE} owned by alice on {@code pg} unless it exists. */
    static synchronized void ensureDatabase(LocalPostgres pg) {
        try (Connection c = pg.connect("postgres", TestServers.SUPERUSER, TestServers.SUPERUSER_PASSWORD)) {
            if (one(c, "select 1 from pg_database where datname = '" + DATABASE + "'") == null) {
                try (Statement s = c.createStatement()) {
                    s.execute("create database " + DATABASE + " owner " + TestServers.ALICE);
                }
            }
        } catch (SQLException e) {
            throw new AssertionError(e);
        }
    }
}
