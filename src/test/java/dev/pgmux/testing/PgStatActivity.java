package dev.pgmux.testing;

import dev.pgmux.embedded.LocalPostgres;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.function.IntPredicate;

/**
 * What a test server shows in {@code pg_stat_activity}, and waits on it.
 *
 * <p>A test that cancels a query waits with {@link #awaitRunning} until the backend shows the query as active
 * instead of sleeping a fixed time: a cancel that reaches a backend still waiting for the query is dropped
 * (PostgreSQL ignores a cancel while it reads a command), so a fixed sleep is too short on a loaded machine and
 * wasted time everywhere else. Once a backend shows the statement as active it is executing it, or is about
 * to with the rest of an extended-protocol batch already sent, and a cancel ends it.
 *
 * <p>Only client backends count, never the connection this class asks with. {@code where} arguments are SQL
 * over the view's columns, written by the tests themselves.
 */
public final class PgStatActivity {
    /** How long the waits below give a query to start, ample on a loaded machine. */
    public static final Duration START = Duration.ofSeconds(10);

    private PgStatActivity() {
    }

    /** Waits until backend {@code pid} on {@code pg} runs {@code query} (exactly that text). */
    public static void awaitRunning(LocalPostgres pg, int pid, String query) {
        await(pg, "pid = " + pid + " and " + running(query), n -> n == 1, START);
    }

    /**
     * Waits until a backend on {@code pg} runs {@code query} (exactly that text): for a client whose backend
     * process id the test does not know (psql, a pgmux cluster key).
     */
    public static void awaitRunning(LocalPostgres pg, String query) {
        await(pg, running(query), n -> n >= 1, START);
    }

    /** Waits until exactly {@code count} client backends on {@code pg} match {@code where}. */
    public static void awaitCount(LocalPostgres pg, String where, int count, Duration within) {
        await(pg, where, n -> n == count, within);
    }

    /** Waits until no client backend matching {@code where} is left on {@code pg}: no orphaned backend session. */
    public static void awaitNone(LocalPostgres pg, String where, Duration within) {
        await(pg, where, n -> n == 0, within);
    }

    /** The client backends on {@code pg} that match {@code where} now. */
    public static int count(LocalPostgres pg, String where) {
        try (Connection c = connect(pg)) {
            return count(c, where);
        } catch (SQLException e) {
            throw new AssertionError(e);
        }
    }

    private static String running(String query) {
        return "state = 'active' and query = '" + query.replace("'", "''") + "'";
    }

    private static void await(LocalPostgres pg, String where, IntPredicate done, Duration within) {
        // One connection for all the polls; each query in autocommit reads a fresh snapshot of the view.
        try (Connection c = connect(pg)) {
            int[] last = {-1};
            Await.until(within, () -> last[0] + " client backends where " + where, () -> {
                try {
                    last[0] = count(c, where);
                } catch (SQLException e) {
                    throw new AssertionError(e);
                }
                return done.test(last[0]);
            });
        } catch (SQLException e) {
            throw new AssertionError(e);
        }
    }

    private static Connection connect(LocalPostgres pg) throws SQLException {
        return pg.connect("postgres", TestServers.SUPERUSER, TestServers.SUPERUSER_PASSWORD);
    }

    private static int count(Connection c, String where) throws SQLException {
        try (Statement s = c.createStatement();
             ResultSet rs = s.executeQuery("select count(*) from pg_stat_activity where backend_type = 'client backend'"
                     + " and pid <> pg_backend_pid() and (" + where + ")")) {
            rs.next();
            return rs.getInt(1);
        }
    }
}
