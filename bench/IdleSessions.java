import java.io.InputStream;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * Opens N authenticated sessions, runs {@code select 1} on each, prints {@code ready N} and holds them open until
 * standard input is closed; then closes them and exits. Used by {@code bench/run} (scenario 8) to measure the
 * memory that idle sessions cost pgmux.
 *
 * <pre>java -cp pgmux.jar bench/IdleSessions.java N HOST PORT USER PASSWORD [DATABASE]</pre>
 *
 * pgjdbc comes from pgmux.jar. Exit status: 0 after a clean run, 1 when a session could not be opened, 2 on
 * bad arguments.
 */
public class IdleSessions {

    public static void main(String[] args) throws Exception {
        if (args.length < 5 || args.length > 6) {
            System.err.println("usage: IdleSessions N HOST PORT USER PASSWORD [DATABASE]");
            System.exit(2);
        }
        int count = Integer.parseInt(args[0]);
        String url = "jdbc:postgresql://" + args[1] + ":" + Integer.parseInt(args[2]) + "/"
                + (args.length == 6 ? args[5] : "postgres");
        Properties props = new Properties();
        props.setProperty("user", args[3]);
        props.setProperty("password", args[4]);
        props.setProperty("sslmode", "disable");
        props.setProperty("ApplicationName", "pgmux-bench-idle");
        props.setProperty("connectTimeout", "60");
        props.setProperty("loginTimeout", "60");

        List<Connection> sessions = new ArrayList<>(count);
        // A few sessions at a time: SCRAM costs the server a few milliseconds of CPU per login.
        ExecutorService pool = Executors.newFixedThreadPool(Math.max(1, Math.min(4, count)));
        try {
            List<Future<Connection>> opening = new ArrayList<>(count);
            for (int i = 0; i < count; i++) {
                opening.add(pool.submit(() -> open(url, props)));
            }
            for (Future<Connection> f : opening) {
                sessions.add(f.get());
            }
        } catch (ExecutionException e) {
            System.err.println("could not open session " + (sessions.size() + 1) + " of " + count + ": "
                    + e.getCause());
            closeAll(sessions);
            System.exit(1);
        } finally {
            pool.shutdown();
        }
        System.out.println("ready " + sessions.size());
        System.out.flush();

        InputStream in = System.in;
        byte[] buf = new byte[256];
        while (in.read(buf) >= 0) {
            // hold the sessions until stdin closes
        }
        closeAll(sessions);
    }

    private static Connection open(String url, Properties props) throws SQLException {
        Connection c = DriverManager.getConnection(url, props);
        try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery("select 1")) {
            if (!rs.next() || rs.getInt(1) != 1) {
                c.close();
                throw new SQLException("select 1 returned no 1");
            }
        }
        return c;
    }

    private static void closeAll(List<Connection> sessions) {
        for (Connection c : sessions) {
            try {
                c.close();
            } catch (SQLException ignored) {
                // closing anyway
            }
        }
    }
}
