package dev.pgmux.compat;

import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.net.ClientSSLOptions;
import io.vertx.pgclient.PgConnectOptions;
import io.vertx.pgclient.PgConnection;
import io.vertx.pgclient.PgNotification;
import io.vertx.pgclient.SslMode;
import io.vertx.sqlclient.Cursor;
import io.vertx.sqlclient.DatabaseException;
import io.vertx.sqlclient.PreparedStatement;
import io.vertx.sqlclient.Row;
import io.vertx.sqlclient.RowSet;
import io.vertx.sqlclient.Transaction;
import io.vertx.sqlclient.Tuple;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.function.UnaryOperator;

/**
 * The checks with the Vert.x PostgreSQL client: its prepared statement cache (named statements), pipelining (up to
 * 256 queries in flight on a connection by default), {@code cancelRequest}, cursors. It has no COPY, and no setting
 * that requires channel binding. Runs in a JVM of its own ({@link JavaDriverMain}).
 */
final class VertxChecks extends JavaChecks {
    private final Vertx vertx = Vertx.vertx();
    private PgConnection main;

    VertxChecks(Target target) {
        super(target);
    }

    @Override
    Map<String, String> versions() {
        Map<String, String> v = new LinkedHashMap<>();
        v.put("vertx-pg-client", PgConnection.class.getPackage().getImplementationVersion());
        return v;
    }

    /** Waits for a Vert.x future; its failure is thrown as it is. */
    static <T> T await(Future<T> f) throws Exception {
        try {
            return f.toCompletionStage().toCompletableFuture().get(40, TimeUnit.SECONDS);
        } catch (ExecutionException e) {
            throw e.getCause() instanceof Exception cause ? cause : e;
        }
    }

    PgConnection connect(UnaryOperator<PgConnectOptions> options) throws Exception {
        PgConnectOptions o = new PgConnectOptions().setHost(target.host()).setPort(target.port())
                .setUser(target.user()).setPassword(target.password()).setDatabase(target.database())
                .setSslMode(SslMode.DISABLE).setCachePreparedStatements(true);
        return await(PgConnection.connect(vertx, options.apply(o)));
    }

    PgConnection connect() throws Exception {
        return connect(o -> o);
    }

    private PgConnection main() throws Exception {
        if (main == null) {
            main = connect();
        }
        return main;
    }

    static Row first(RowSet<Row> rows) throws Failed {
        expect(rows.size() > 0, "no row");
        return rows.iterator().next();
    }

    /** A query without parameters: the simple query protocol. */
    static String one(PgConnection c, String sql) throws Exception {
        return String.valueOf(first(await(c.query(sql).execute())).getValue(0));
    }

    static void exec(PgConnection c, String sql) throws Exception {
        await(c.query(sql).execute());
    }

    static String sqlState(PgConnection c, String sql) throws Exception {
        try {
            await(c.query(sql).execute());
            return "no error";
        } catch (DatabaseException e) {
            return e.getSqlState();
        }
    }

    @Override
    String killed() throws Exception {
        PgConnection c = connect();
        try {
            for (int i = 0; i < 5; i++) {
                Transaction tx = await(c.begin());
                expect(one(c, "select " + i).equals(String.valueOf(i)), "wrong answer");
                await(tx.commit());
            }
        } finally {
            await(c.close());
        }
        return null;
    }

    @Override
    String login() throws Exception {
        PgConnection c = connect();
        try {
            expect(one(c, "select current_database()").equals(target.database()), "wrong database");
        } finally {
            await(c.close());
        }
        try {
            await(connect(o -> o.setPassword("wrong" + target.password())).close());
            throw new Failed("a wrong password logged in");
        } catch (DatabaseException e) {
            expect("28P01".equals(e.getSqlState()), "a wrong password got " + e.getSqlState() + " " + e.getMessage());
        }
        return null;
    }

    @Override
    String tls() throws Exception {
        // over TLS the client binds SCRAM to the certificate whenever the server offers SCRAM-SHA-256-PLUS
        PgConnection c = connect(o -> o.setSslMode(SslMode.REQUIRE)
                .setSslOptions(new ClientSSLOptions().setTrustAll(true).setHostnameVerificationAlgorithm("")));
        try {
            expect(one(c, "select 1").equals("1"), "wrong answer");
        } finally {
            await(c.close());
        }
        return null;
    }

    @Override
    String channelBinding() throws Exception {
        throw new NotApplicable("vertx-pg-client has no setting that requires channel binding (it binds over TLS"
                + " whenever SCRAM-SHA-256-PLUS is offered: see the TLS row)");
    }

    @Override
    String simple() throws Exception {
        expect(one(main(), "select 'simple'").equals("simple"), "wrong answer");
        return null;
    }

    @Override
    String params() throws Exception {
        Row r = first(await(main().preparedQuery("select $1::int + $2::int").execute(Tuple.of(2, 3))));
        expect(r.getInteger(0) == 5, "wrong answer");
        return null;
    }

    @Override
    String prepared() throws Exception {
        List<Integer> pids = new ArrayList<>();
        PgConnection a = connect();
        PgConnection holder = connect();
        try {
            for (int i = 0; i < PREPARED_TRANSACTIONS; i++) {
                boolean hold = i % 2 == 1;
                Transaction held = null;
                if (hold) {
                    held = await(holder.begin());
                    one(holder, "select 1");
                }
                Transaction tx = await(a.begin());
                Row r = first(await(a.preparedQuery("select $1::int * 2, pg_backend_pid()").execute(Tuple.of(i))));
                expect(r.getInteger(0) == 2 * i, "wrong answer");
                pids.add(r.getInteger(1));
                await(tx.commit());
                if (held != null) {
                    await(held.commit());
                }
            }
        } finally {
            await(a.close());
            await(holder.close());
        }
        return servers(pids);
    }

    @Override
    String pipeline() throws Exception {
        PgConnection c = main();
        List<Future<RowSet<Row>>> all = new ArrayList<>();
        for (int i = 0; i < 100; i++) {
            all.add(c.preparedQuery("select $1::int").execute(Tuple.of(i)));
        }
        await(Future.all(all));
        for (int i = 0; i < 100; i++) {
            expect(first(all.get(i).result()).getInteger(0) == i, "wrong answer to query " + i);
        }
        return null;
    }

    @Override
    String copyIn() throws Exception {
        throw new NotApplicable("vertx-pg-client has no COPY");
    }

    @Override
    String copyOut() throws Exception {
        throw new NotApplicable("vertx-pg-client has no COPY");
    }

    @Override
    String listen() throws Exception {
        String channel = "compat_" + target.tag();
        PgConnection listener = connect();
        try {
            Promise<PgNotification> got = Promise.promise();
            listener.notificationHandler(got::tryComplete);
            exec(listener, "listen " + channel);
            exec(main(), "notify " + channel + ", 'hi'");
            PgNotification n = got.future().toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
            expect(n.getChannel().equals(channel) && n.getPayload().equals("hi"), "wrong notification");
        } finally {
            await(listener.close());
        }
        return null;
    }

    @Override
    String cancel() throws Exception {
        PgConnection c = main();
        PgConnection poller = connect();
        Future<RowSet<Row>> slow = c.query(slowQuery()).execute();
        try {
            waitUntil(() -> one(poller, slowQueryRunning()).equals("1"), "the query never ran");
        } finally {
            await(poller.close());
        }
        long t0 = System.nanoTime();
        await(c.cancelRequest());
        try {
            await(slow);
            throw new Failed("the query was not canceled");
        } catch (DatabaseException e) {
            expect("57014".equals(e.getSqlState()), "got " + e.getSqlState() + " " + e.getMessage());
        }
        expect(System.nanoTime() - t0 < TimeUnit.SECONDS.toNanos(5), "the cancel took too long");
        expect(one(c, "select 3").equals("3"), "the connection did not work on");
        return null;
    }

    @Override
    String txnError() throws Exception {
        PgConnection c = connect();
        try {
            Transaction tx = await(c.begin());
            expect(sqlState(c, "select 1/0").equals("22012"), "no division by zero");
            // Vert.x rolls a transaction back itself at its first error: later queries of it fail in the client
            String next;
            try {
                await(c.query("select 1").execute());
                next = "no error";
            } catch (DatabaseException e) {
                next = e.getSqlState();
            } catch (Exception e) {
                next = "rolled back";
            }
            expect(next.equals("25P02") || next.equals("rolled back"), "the transaction went on: " + next);
            try {
                await(tx.rollback());
            } catch (Exception alreadyRolledBack) {
                // the failure above ended it
            }
            expect(one(c, "select 2").equals("2"), "the connection did not work on");
        } finally {
            await(c.close());
        }
        return null;
    }

    @Override
    String large() throws Exception {
        PgConnection c = connect();
        try {
            Transaction tx = await(c.begin()); // a cursor needs a transaction
            PreparedStatement ps = await(c.prepare("select g from generate_series(1, " + LARGE_ROWS + ") g"));
            Cursor cursor = ps.cursor();
            long n = 0;
            long sum = 0;
            do {
                for (Row r : await(cursor.read(1000))) {
                    n++;
                    sum += r.getInteger(0);
                }
            } while (cursor.hasMore());
            await(cursor.close());
            await(tx.commit());
            expect(n == LARGE_ROWS && sum == LARGE_SUM, "got " + n + " rows");
        } finally {
            await(c.close());
        }
        return null;
    }

    @Override
    String setShow() throws Exception {
        List<Object> pids = new ArrayList<>();
        PgConnection a = connect();
        PgConnection holder = connect();
        try {
            exec(a, "set work_mem = '7MB'");
            for (int i = 0; i < SET_SHOW_TRANSACTIONS; i++) {
                boolean hold = i % 2 == 1;
                Transaction held = null;
                if (hold) {
                    held = await(holder.begin());
                    one(holder, "select 1");
                }
                Transaction tx = await(a.begin());
                String shown = one(a, "show work_mem");
                pids.add(one(a, "select pg_backend_pid()"));
                await(tx.commit());
                if (held != null) {
                    await(held.commit());
                }
                expect(shown.equals("7MB"), "work_mem is " + shown + " in transaction " + (i + 1));
            }
        } finally {
            await(a.close());
            await(holder.close());
        }
        return servers(pids);
    }

    @Override
    void victim() throws Exception {
        connect().query(Target.victimQuery(target.tag())).execute().toCompletionStage().toCompletableFuture().get();
    }

    @Override
    public void close() throws Exception {
        try {
            if (main != null) {
                await(main.close());
            }
        } finally {
            await(vertx.close());
        }
    }
}
