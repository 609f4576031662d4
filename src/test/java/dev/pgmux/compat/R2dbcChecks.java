package dev.pgmux.compat;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.r2dbc.postgresql.PostgresqlConnectionConfiguration;
import io.r2dbc.postgresql.PostgresqlConnectionFactory;
import io.r2dbc.postgresql.api.Notification;
import io.r2dbc.postgresql.api.PostgresqlConnection;
import io.r2dbc.postgresql.api.PostgresqlResult;
import io.r2dbc.postgresql.api.PostgresqlStatement;
import io.r2dbc.postgresql.client.ChannelBindingMode;
import io.r2dbc.postgresql.client.SSLMode;
import io.r2dbc.spi.R2dbcException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.function.UnaryOperator;
import java.util.stream.IntStream;
import reactor.core.publisher.Flux;

/**
 * The checks with r2dbc-postgresql: its statement cache (named statements, on by default), requests pipelined on one
 * connection, {@code copyIn}, {@code cancelRequest}, {@code fetchSize}. Runs in a JVM of its own
 * ({@link JavaDriverMain}).
 */
final class R2dbcChecks extends JavaChecks {
    static final Duration T = Duration.ofSeconds(40);
    private PostgresqlConnection main;

    R2dbcChecks(Target target) {
        super(target);
    }

    @Override
    Map<String, String> versions() {
        Map<String, String> v = new LinkedHashMap<>();
        v.put("r2dbc-postgresql", PostgresqlConnectionFactory.class.getPackage().getImplementationVersion());
        return v;
    }

    PostgresqlConnection connect(UnaryOperator<PostgresqlConnectionConfiguration.Builder> options) {
        PostgresqlConnectionConfiguration.Builder b = PostgresqlConnectionConfiguration.builder()
                .host(target.host()).port(target.port()).username(target.user()).password(target.password())
                .database(target.database()).sslMode(SSLMode.DISABLE).connectTimeout(Duration.ofSeconds(10));
        return new PostgresqlConnectionFactory(options.apply(b).build()).create().block(T);
    }

    PostgresqlConnection connect() {
        return connect(b -> b);
    }

    private PostgresqlConnection main() {
        if (main == null) {
            main = connect();
        }
        return main;
    }

    static Flux<Object[]> query(PostgresqlConnection c, String sql, Object... binds) {
        PostgresqlStatement s = c.createStatement(sql);
        for (int i = 0; i < binds.length; i++) {
            s.bind(i, binds[i]);
        }
        return s.execute().flatMap(r -> r.map((row, meta) -> {
            Object[] values = new Object[meta.getColumnMetadatas().size()];
            for (int i = 0; i < values.length; i++) {
                values[i] = row.get(i);
            }
            return values;
        }));
    }

    static String one(PostgresqlConnection c, String sql, Object... binds) throws Failed {
        List<Object[]> rows = query(c, sql, binds).collectList().block(T);
        expect(rows != null && !rows.isEmpty(), "no row from " + sql);
        return String.valueOf(rows.get(0)[0]);
    }

    static void execute(PostgresqlConnection c, String sql) {
        c.createStatement(sql).execute().flatMap(PostgresqlResult::getRowsUpdated).then().block(T);
    }

    static String sqlState(PostgresqlConnection c, String sql) {
        try {
            query(c, sql).collectList().block(T);
            return "no error";
        } catch (R2dbcException e) {
            return e.getSqlState();
        }
    }

    static void close(PostgresqlConnection c) {
        if (c != null) {
            c.close().block(T);
        }
    }

    @Override
    String killed() throws Exception {
        PostgresqlConnection c = connect();
        try {
            for (int i = 0; i < 5; i++) {
                c.beginTransaction().block(Duration.ofSeconds(10));
                expect(one(c, "select " + i).equals(String.valueOf(i)), "wrong answer");
                c.commitTransaction().block(Duration.ofSeconds(10));
            }
        } finally {
            close(c);
        }
        return null;
    }

    @Override
    String login() throws Exception {
        PostgresqlConnection c = connect();
        try {
            expect(one(c, "select current_database()").equals(target.database()), "wrong database");
        } finally {
            close(c);
        }
        try {
            close(connect(b -> b.password("wrong" + target.password())));
            throw new Failed("a wrong password logged in");
        } catch (R2dbcException e) {
            expect("28P01".equals(e.getSqlState()), "a wrong password got " + e.getSqlState() + " " + e.getMessage());
        }
        return null;
    }

    @Override
    String tls() throws Exception {
        PostgresqlConnection c = connect(b -> b.sslMode(SSLMode.REQUIRE));
        try {
            expect(one(c, "select 1").equals("1"), "wrong answer");
        } finally {
            close(c);
        }
        return null;
    }

    @Override
    String channelBinding() throws Exception {
        PostgresqlConnection c = connect(b -> b.sslMode(SSLMode.REQUIRE).channelBinding(ChannelBindingMode.REQUIRE));
        try {
            expect(one(c, "select 1").equals("1"), "wrong answer");
        } finally {
            close(c);
        }
        return null;
    }

    @Override
    String simple() throws Exception {
        // a statement without parameters (and without a fetch size) goes as a simple Query
        expect(one(main(), "select 'simple'").equals("simple"), "wrong answer");
        return null;
    }

    @Override
    String params() throws Exception {
        expect(one(main(), "select $1::int + $2::int", 2, 3).equals("5"), "wrong answer");
        return null;
    }

    @Override
    String prepared() throws Exception {
        List<Object> pids = new ArrayList<>();
        PostgresqlConnection a = connect();
        PostgresqlConnection holder = connect();
        try {
            for (int i = 0; i < PREPARED_TRANSACTIONS; i++) {
                boolean hold = i % 2 == 1;
                if (hold) {
                    holder.beginTransaction().block(T);
                    one(holder, "select 1");
                }
                a.beginTransaction().block(T);
                Object[] row = query(a, "select $1::int * 2, pg_backend_pid()", i).blockFirst(T);
                expect(row != null && row[0].equals(2 * i), "wrong answer");
                pids.add(row[1]);
                a.commitTransaction().block(T);
                if (hold) {
                    holder.commitTransaction().block(T);
                }
            }
        } finally {
            close(a);
            close(holder);
        }
        return servers(pids);
    }

    @Override
    String pipeline() throws Exception {
        // r2dbc-postgresql writes each request as it is subscribed and matches the answers in order: with flatMap,
        // 100 queries are in flight on the one connection at once
        List<Integer> got = Flux.range(0, 100)
                .flatMap(i -> main().createStatement("select $1::int").bind(0, i).execute()
                        .flatMap(r -> r.map((row, meta) -> row.get(0, Integer.class))), 100)
                .collectList().block(T);
        expect(got != null && got.stream().sorted().toList().equals(IntStream.range(0, 100).boxed().toList()),
                "wrong answers");
        return null;
    }

    private void freshTable(PostgresqlConnection c) {
        execute(c, "drop table if exists " + target.table());
        execute(c, "create table " + target.table() + "(i int, t text)");
    }

    @Override
    String copyIn() throws Exception {
        PostgresqlConnection c = main();
        freshTable(c);
        byte[] data = copyRows().getBytes(StandardCharsets.UTF_8);
        List<ByteBuf> chunks = new ArrayList<>();
        for (int at = 0; at < data.length; at += 65536) {
            chunks.add(Unpooled.wrappedBuffer(data, at, Math.min(65536, data.length - at)));
        }
        Long n = c.copyIn("copy " + target.table() + " from stdin", Flux.fromIterable(chunks)).block(T);
        expect(n != null && n == COPY_ROWS, "copyIn reported " + n);
        expect(one(c, "select count(*) || ' ' || sum(i) from " + target.table()).equals(COPY_ROWS + " " + COPY_SUM),
                "wrong rows");
        return null;
    }

    @Override
    String copyOut() throws Exception {
        throw new NotApplicable("r2dbc-postgresql has no COPY TO STDOUT (only copyIn)");
    }

    @Override
    String listen() throws Exception {
        String channel = "compat_" + target.tag();
        PostgresqlConnection listener = connect();
        try {
            execute(listener, "listen " + channel);
            CompletableFuture<Notification> got = listener.getNotifications().next().toFuture();
            execute(main(), "notify " + channel + ", 'hi'");
            Notification n = got.get(10, TimeUnit.SECONDS);
            expect(n.getName().equals(channel) && "hi".equals(n.getParameter()), "wrong notification");
        } finally {
            close(listener);
        }
        return null;
    }

    @Override
    String cancel() throws Exception {
        PostgresqlConnection c = main();
        PostgresqlConnection poller = connect();
        CompletableFuture<List<Object[]>> slow = query(c, slowQuery()).collectList().toFuture();
        try {
            waitUntil(() -> one(poller, slowQueryRunning()).equals("1"), "the query never ran");
        } finally {
            close(poller);
        }
        long t0 = System.nanoTime();
        c.cancelRequest().block(T);
        try {
            slow.get(10, TimeUnit.SECONDS);
            throw new Failed("the query was not canceled");
        } catch (ExecutionException e) {
            expect(e.getCause() instanceof R2dbcException r && "57014".equals(r.getSqlState()),
                    "got " + reason(e.getCause()));
        }
        expect(System.nanoTime() - t0 < TimeUnit.SECONDS.toNanos(5), "the cancel took too long");
        expect(one(c, "select 3").equals("3"), "the connection did not work on");
        return null;
    }

    @Override
    String txnError() throws Exception {
        PostgresqlConnection c = connect();
        try {
            c.beginTransaction().block(T);
            expect(sqlState(c, "select 1/0").equals("22012"), "no division by zero");
            expect(sqlState(c, "select 1").equals("25P02"), "not in a failed transaction");
            c.rollbackTransaction().block(T);
            expect(one(c, "select 2").equals("2"), "the connection did not work on");
        } finally {
            close(c);
        }
        return null;
    }

    @Override
    String large() throws Exception {
        // with a fetch size, Execute asks for 1000 rows at a time (PortalSuspended in between)
        long[] countSum = main().createStatement("select g from generate_series(1, " + LARGE_ROWS + ") g")
                .fetchSize(1000).execute()
                .flatMap(r -> r.map((row, meta) -> row.get(0, Integer.class)))
                .reduce(new long[2], (acc, g) -> {
                    acc[0]++;
                    acc[1] += g;
                    return acc;
                }).block(T);
        expect(countSum != null && countSum[0] == LARGE_ROWS && countSum[1] == LARGE_SUM,
                "got " + (countSum == null ? 0 : countSum[0]) + " rows");
        return null;
    }

    @Override
    String setShow() throws Exception {
        List<Object> pids = new ArrayList<>();
        PostgresqlConnection a = connect();
        PostgresqlConnection holder = connect();
        try {
            execute(a, "set work_mem = '7MB'");
            for (int i = 0; i < SET_SHOW_TRANSACTIONS; i++) {
                boolean hold = i % 2 == 1;
                if (hold) {
                    holder.beginTransaction().block(T);
                    one(holder, "select 1");
                }
                a.beginTransaction().block(T);
                String shown = one(a, "show work_mem");
                pids.add(one(a, "select pg_backend_pid()"));
                a.commitTransaction().block(T);
                if (hold) {
                    holder.commitTransaction().block(T);
                }
                expect(shown.equals("7MB"), "work_mem is " + shown + " in transaction " + (i + 1));
            }
        } finally {
            close(a);
            close(holder);
        }
        return servers(pids);
    }

    @Override
    void victim() {
        query(connect(), Target.victimQuery(target.tag())).blockLast();
    }

    @Override
    public void close() {
        if (main != null) {
            try {
                execute(main, "drop table if exists " + target.table());
            } finally {
                close(main);
            }
        }
    }
}
