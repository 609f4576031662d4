package dev.pgmux.compat;

import java.io.StringReader;
import java.io.StringWriter;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.postgresql.PGConnection;
import org.postgresql.PGNotification;
import org.postgresql.PGStatement;
import org.postgresql.copy.CopyManager;
import org.postgresql.util.DriverInfo;

/** The checks with pgjdbc: server-prepared statements past {@code prepareThreshold}, batches, CopyManager. */
final class PgjdbcChecks extends JavaChecks {
    private Connection main;

    PgjdbcChecks(Target target) {
        super(target);
    }

    @Override
    Map<String, String> versions() {
        Map<String, String> v = new LinkedHashMap<>();
        v.put("pgjdbc", DriverInfo.DRIVER_VERSION);
        return v;
    }

    Connection connect(String... extra) throws SQLException {
        Properties p = new Properties();
        p.setProperty("user", target.user());
        p.setProperty("password", target.password());
        p.setProperty("sslmode", "disable");
        p.setProperty("connectTimeout", "10");
        p.setProperty("socketTimeout", "40");
        for (int i = 0; i < extra.length; i += 2) {
            p.setProperty(extra[i], extra[i + 1]);
        }
        return DriverManager.getConnection(
                "jdbc:postgresql://" + target.host() + ":" + target.port() + "/" + target.database(), p);
    }

    private Connection main() throws SQLException {
        if (main == null) {
            main = connect();
        }
        return main;
    }

    static String one(Connection c, String sql) throws SQLException, Failed {
        try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery(sql)) {
            expect(rs.next(), "no row from " + sql);
            return rs.getString(1);
        }
    }

    static void run(Connection c, String sql) throws SQLException {
        try (Statement s = c.createStatement()) {
            s.execute(sql);
        }
    }

    static String sqlState(Connection c, String sql) {
        try {
            run(c, sql);
            return "no error";
        } catch (SQLException e) {
            return e.getSQLState();
        }
    }

    @Override
    String killed() throws Exception {
        try (Connection c = connect("socketTimeout", "10")) {
            c.setAutoCommit(false);
            for (int i = 0; i < 5; i++) {
                expect(one(c, "select " + i).equals(String.valueOf(i)), "wrong answer");
                c.commit();
            }
        }
        return null;
    }

    @Override
    String login() throws Exception {
        try (Connection c = connect()) {
            expect(one(c, "select current_database()").equals(target.database()), "wrong database");
        }
        try {
            connect("password", "wrong" + target.password()).close();
            throw new Failed("a wrong password logged in");
        } catch (SQLException e) {
            expect("28P01".equals(e.getSQLState()), "a wrong password got " + e.getSQLState() + " " + e.getMessage());
        }
        return null;
    }

    @Override
    String tls() throws Exception {
        try (Connection c = connect("sslmode", "require")) {
            expect(one(c, "select 1").equals("1"), "wrong answer");
        }
        return null;
    }

    @Override
    String channelBinding() throws Exception {
        try (Connection c = connect("sslmode", "require", "channelBinding", "require")) {
            expect(one(c, "select 1").equals("1"), "wrong answer");
        }
        return null;
    }

    @Override
    String simple() throws Exception {
        try (Connection c = connect("preferQueryMode", "simple")) {
            expect(one(c, "select 'simple'").equals("simple"), "wrong answer");
        }
        return null;
    }

    @Override
    String params() throws Exception {
        try (PreparedStatement ps = main().prepareStatement("select ?::int + ?::int")) {
            ps.setInt(1, 2);
            ps.setInt(2, 3);
            try (ResultSet rs = ps.executeQuery()) {
                expect(rs.next() && rs.getInt(1) == 5, "wrong answer");
            }
        }
        return null;
    }

    @Override
    String prepared() throws Exception {
        List<Integer> pids = new ArrayList<>();
        try (Connection a = connect(); Connection holder = connect();
             PreparedStatement ps = a.prepareStatement("select ?::int * 2, pg_backend_pid()")) {
            a.setAutoCommit(false);
            holder.setAutoCommit(false);
            for (int i = 0; i < PREPARED_TRANSACTIONS; i++) {
                boolean hold = i % 2 == 1;
                if (hold) {
                    one(holder, "select 1");
                }
                ps.setInt(1, i);
                try (ResultSet rs = ps.executeQuery()) {
                    expect(rs.next() && rs.getInt(1) == 2 * i, "wrong answer");
                    pids.add(rs.getInt(2));
                }
                a.commit();
                if (hold) {
                    holder.commit();
                }
            }
            // pgjdbc's default prepareThreshold is 5: from the fifth execution on, a named server-side statement
            expect(ps.unwrap(PGStatement.class).isUseServerPrepare(), "pgjdbc did not prepare on the server");
        }
        return servers(pids);
    }

    private void freshTable(Connection c) throws SQLException {
        run(c, "drop table if exists " + target.table());
        run(c, "create table " + target.table() + "(i int, t text)");
    }

    @Override
    String pipeline() throws Exception {
        Connection c = main();
        freshTable(c);
        try (PreparedStatement ps = c.prepareStatement("insert into " + target.table() + " values (?, ?)")) {
            for (int i = 0; i < 1000; i++) {
                ps.setInt(1, i);
                ps.setString(2, "row " + i);
                ps.addBatch();
            }
            int[] counts = ps.executeBatch();
            expect(counts.length == 1000, "batch answered " + counts.length + " counts");
        }
        expect(one(c, "select count(*) from " + target.table()).equals("1000"), "rows missing");
        return null;
    }

    @Override
    String copyIn() throws Exception {
        Connection c = main();
        freshTable(c);
        long n = new CopyManager(c.unwrap(org.postgresql.core.BaseConnection.class))
                .copyIn("copy " + target.table() + " from stdin", new StringReader(copyRows()));
        expect(n == COPY_ROWS, "copyIn reported " + n);
        expect(one(c, "select count(*) || ' ' || sum(i) from " + target.table()).equals(COPY_ROWS + " " + COPY_SUM),
                "wrong rows");
        return null;
    }

    @Override
    String copyOut() throws Exception {
        StringWriter out = new StringWriter();
        long n = main().unwrap(PGConnection.class).getCopyAPI().copyOut("copy " + target.table() + " to stdout", out);
        expect(n == COPY_ROWS, "copyOut reported " + n);
        expect(out.toString().equals(copyRows()), "the rows differ");
        return null;
    }

    @Override
    String listen() throws Exception {
        String channel = "compat_" + target.tag();
        try (Connection listener = connect()) {
            run(listener, "listen " + channel);
            run(main(), "notify " + channel + ", 'hi'");
            PGNotification[] got = listener.unwrap(PGConnection.class).getNotifications(10_000);
            expect(got != null && got.length == 1, "no notification");
            expect(got[0].getName().equals(channel) && got[0].getParameter().equals("hi"), "wrong notification");
        }
        return null;
    }

    @Override
    String cancel() throws Exception {
        Connection c = main();
        try (Connection poller = connect(); Statement s = c.createStatement();
             ExecutorService thread = Executors.newSingleThreadExecutor()) {
            Future<Long> canceled = thread.submit(() -> {
                waitUntil(() -> one(poller, slowQueryRunning()).equals("1"), "the query never ran");
                long t0 = System.nanoTime();
                s.cancel(); // a CancelRequest on a connection of its own
                return t0;
            });
            try {
                s.execute(slowQuery());
                throw new Failed("the query was not canceled");
            } catch (SQLException e) {
                expect("57014".equals(e.getSQLState()), "got " + e.getSQLState() + " " + e.getMessage());
            }
            expect(System.nanoTime() - canceled.get() < TimeUnit.SECONDS.toNanos(5), "the cancel took too long");
        }
        expect(one(c, "select 3").equals("3"), "the connection did not work on");
        return null;
    }

    @Override
    String txnError() throws Exception {
        try (Connection c = connect()) {
            c.setAutoCommit(false);
            expect(sqlState(c, "select 1/0").equals("22012"), "no division by zero");
            expect(sqlState(c, "select 1").equals("25P02"), "not in a failed transaction");
            c.rollback();
            expect(one(c, "select 2").equals("2"), "the connection did not work on");
            c.commit();
        }
        return null;
    }

    @Override
    String large() throws Exception {
        try (Connection c = connect()) {
            c.setAutoCommit(false); // pgjdbc fetches in portions only inside a transaction
            try (Statement s = c.createStatement()) {
                s.setFetchSize(1000);
                long n = 0;
                long sum = 0;
                try (ResultSet rs = s.executeQuery("select g from generate_series(1, " + LARGE_ROWS + ") g")) {
                    while (rs.next()) {
                        n++;
                        sum += rs.getLong(1);
                    }
                }
                expect(n == LARGE_ROWS && sum == LARGE_SUM, "got " + n + " rows");
            }
            c.commit();
        }
        return null;
    }

    @Override
    String setShow() throws Exception {
        List<Integer> pids = new ArrayList<>();
        try (Connection a = connect(); Connection holder = connect()) {
            run(a, "set work_mem = '7MB'");
            a.setAutoCommit(false);
            holder.setAutoCommit(false);
            for (int i = 0; i < SET_SHOW_TRANSACTIONS; i++) {
                boolean hold = i % 2 == 1;
                if (hold) {
                    one(holder, "select 1");
                }
                String shown = one(a, "show work_mem");
                pids.add(Integer.valueOf(one(a, "select pg_backend_pid()")));
                a.commit();
                if (hold) {
                    holder.commit();
                }
                expect(shown.equals("7MB"), "work_mem is " + shown + " in transaction " + (i + 1));
            }
        }
        return servers(pids);
    }

    @Override
    void victim() throws Exception {
        Connection c = connect("socketTimeout", "0");
        run(c, Target.victimQuery(target.tag()));
    }

    @Override
    public void close() throws Exception {
        if (main != null) {
            try {
                run(main, "drop table if exists " + target.table());
            } finally {
                main.close();
            }
        }
    }
}
