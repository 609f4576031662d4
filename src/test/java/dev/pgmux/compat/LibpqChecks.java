package dev.pgmux.compat;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStreamWriter;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * The checks with libpq, through its own programs: psql (fed statement by statement on its standard input where a
 * check needs a session that waits for the next step) and pgbench (parameters, prepared statements with {@code -M
 * prepared}, pipelines with {@code \startpipeline}). psql's Ctrl-C is a SIGINT: libpq's PQcancel, after which a
 * non-interactive psql stops, as a script would.
 */
final class LibpqChecks extends JavaChecks {
    static final Duration RUN_TIMEOUT = Duration.ofSeconds(40);
    private static final String DONE = "__compat_done__";

    LibpqChecks(Target target) {
        super(target);
    }

    @Override
    Map<String, String> versions() {
        Map<String, String> v = new LinkedHashMap<>();
        try {
            // "psql (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)"
            v.put("psql", exec(List.of("psql", "--version"), null, null).stdout.trim().split(" ")[2]);
            v.put("pgbench", exec(List.of("pgbench", "--version"), null, null).stdout.trim().split(" ")[2]);
        } catch (Exception e) {
            v.put("psql", "unknown");
        }
        return v;
    }

    record Out(int exit, String stdout, String stderr) {
        List<String> lines() {
            return stdout.isEmpty() ? List.of() : List.of(stdout.split("\n"));
        }

        String describe() {
            return "exit " + exit + ", stdout: " + abbreviate(stdout) + ", stderr: " + abbreviate(stderr);
        }

        private static String abbreviate(String s) {
            String one = s.strip().replace('\n', '|');
            return one.length() > 300 ? one.substring(0, 300) + "..." : one;
        }
    }

    String conninfo(String... extra) {
        StringBuilder sb = new StringBuilder("host=" + target.host() + " port=" + target.port() + " user="
                + target.user() + " dbname=" + target.database() + " sslmode=disable connect_timeout=10");
        for (String e : extra) {
            sb.append(' ').append(e);
        }
        return sb.toString();
    }

    List<String> psql(String conninfo, String... args) {
        List<String> cmd = new ArrayList<>(List.of("psql", "-X", "-q", "-At", "-d", conninfo));
        cmd.addAll(List.of(args));
        return cmd;
    }

    private ProcessBuilder builder(List<String> command, String password) {
        ProcessBuilder pb = new ProcessBuilder(command);
        pb.environment().keySet().removeIf(name -> name.startsWith("PG"));
        pb.environment().put("PGPASSWORD", password == null ? target.password() : password);
        return pb;
    }

    Out exec(List<String> command, String stdin, String password) throws Exception {
        Process p = builder(command, password).start();
        // a thread each, so that neither pipe fills while the other is read
        CompletableFuture<String> out = new CompletableFuture<>();
        CompletableFuture<String> err = new CompletableFuture<>();
        Thread.ofVirtual().start(() -> out.complete(read(p.getInputStream())));
        Thread.ofVirtual().start(() -> err.complete(read(p.getErrorStream())));
        try (Writer w = new OutputStreamWriter(p.getOutputStream(), StandardCharsets.UTF_8)) {
            if (stdin != null) {
                w.write(stdin);
            }
        } catch (IOException closedEarly) {
            // the program ended without reading it all; its output says why
        }
        if (!p.waitFor(RUN_TIMEOUT.toSeconds(), TimeUnit.SECONDS)) {
            p.destroyForcibly().waitFor();
            throw new Failed(String.join(" ", command.subList(0, 1)) + " did not end within " + RUN_TIMEOUT);
        }
        return new Out(p.exitValue(), out.join(), err.join());
    }

    private static String read(java.io.InputStream in) {
        try {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            return "";
        }
    }

    /** psql -c SQL; its output, or a failure with what psql said. */
    String psqlC(String sql, String... conninfoExtra) throws Exception {
        Out o = exec(psql(conninfo(conninfoExtra), "-v", "ON_ERROR_STOP=1", "-c", sql), null, null);
        expect(o.exit == 0, "psql " + o.describe());
        return o.stdout;
    }

    /** A psql process that runs what it is given on its standard input, one step at a time. */
    final class Session implements AutoCloseable {
        final Process process;
        final Writer in;
        final BufferedReader out;

        Session() throws IOException {
            process = builder(psql(conninfo()), null).redirectErrorStream(true).start();
            in = new OutputStreamWriter(process.getOutputStream(), StandardCharsets.UTF_8);
            out = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8));
        }

        /** Sends statements without waiting for their output. */
        void send(String sql) throws IOException {
            in.write(sql + "\n\\echo " + DONE + "\n");
            in.flush();
        }

        /** The lines psql wrote up to the end of the last thing sent. */
        List<String> read() throws Exception {
            List<String> lines = new ArrayList<>();
            for (String line; (line = out.readLine()) != null; ) {
                if (line.equals(DONE)) {
                    return lines;
                }
                lines.add(line);
            }
            throw new Failed("psql ended: " + lines);
        }

        List<String> run(String sql) throws Exception {
            send(sql);
            return read();
        }

        @Override
        public void close() throws Exception {
            try {
                in.close();
            } catch (IOException gone) {
                // already ended
            }
            if (!process.waitFor(5, TimeUnit.SECONDS)) {
                process.destroyForcibly().waitFor();
            }
        }
    }

    @Override
    String killed() throws Exception {
        StringBuilder script = new StringBuilder();
        for (int i = 0; i < 5; i++) {
            script.append("begin;\nselect ").append(i).append(";\ncommit;\n");
        }
        Out o = exec(psql(conninfo(), "-v", "ON_ERROR_STOP=1"), script.toString(), null);
        expect(o.exit == 0 && o.lines().equals(List.of("0", "1", "2", "3", "4")), "psql " + o.describe());
        return null;
    }

    @Override
    String login() throws Exception {
        expect(psqlC("select current_database()").trim().equals(target.database()), "wrong database");
        Out o = exec(psql(conninfo(), "-c", "select 1"), null, "wrong" + target.password());
        expect(o.exit == 2 && o.stderr.contains("password authentication failed"),
                "a wrong password: " + o.describe());
        return null;
    }

    @Override
    String tls() throws Exception {
        String info = psqlC("\\conninfo", "sslmode=require");
        expect(info.contains("SSL connection"), "no TLS: " + info.strip());
        return null;
    }

    @Override
    String channelBinding() throws Exception {
        String info = psqlC("\\conninfo", "sslmode=require", "channel_binding=require");
        expect(info.contains("SSL connection"), "no TLS: " + info.strip());
        return null;
    }

    @Override
    String simple() throws Exception {
        expect(psqlC("select 'simple'").trim().equals("simple"), "wrong answer");
        return null;
    }

    /** pgbench with a script; its transactions abort the run (exit 2) when a \if finds a wrong answer. */
    Out pgbench(String script, String... args) throws Exception {
        Path file = Files.createTempFile("compat-pgbench", ".sql");
        try {
            Files.writeString(file, script);
            List<String> cmd = new ArrayList<>(List.of("pgbench", "-n"));
            cmd.addAll(List.of(args));
            cmd.addAll(List.of("-f", file.toString(), conninfo())); // the database name may be a conninfo
            Out o = exec(cmd, null, null);
            expect(o.exit == 0, "pgbench " + o.describe());
            return o;
        } finally {
            Files.deleteIfExists(file);
        }
    }

    @Override
    String params() throws Exception {
        // with -M extended, :a is sent as a parameter ($1) of an unnamed statement
        pgbench("""
                \\set a random(1, 1000000)
                select :a::int * 2 as r \\gset
                \\if :r != :a * 2
                select 1/0;
                \\endif
                """, "-M", "extended", "-t", "20");
        return null;
    }

    private void freshTable() throws Exception {
        psqlC("drop table if exists " + target.table() + "; create table " + target.table() + "(i int, t text)");
    }

    @Override
    String prepared() throws Exception {
        freshTable();
        // -M prepared: each statement is prepared once per client (a named statement) and executed in every
        // transaction. Two clients, each on a thread of its own: pgbench connects all its clients before it starts,
        // which a session pool of three serves; and it prepares synchronously, which must not hold up another client
        // of its thread (README, Pooling). Each transaction notes its client and its server's process id.
        pgbench("""
                \\set a random(1, 1000000)
                begin;
                select :a::int * 2 as r, pg_backend_pid() as pid \\gset
                \\if :r != :a * 2
                select 1/0;
                \\endif
                insert into %s values (:client_id, :pid);
                end;
                """.formatted(target.table()), "-M", "prepared", "-c", "2", "-j", "2", "-t", "100");
        // the most servers one client's transactions ran on
        String[] counts = psqlC("select sum(n) || ' ' || max(servers) from (select count(*) n, count(distinct t)"
                + " servers from " + target.table() + " group by i) per_client").trim().split(" ");
        expect(counts[0].equals("200"), counts[0] + " of 200 transactions");
        return "servers=" + counts[1];
    }

    @Override
    String pipeline() throws Exception {
        freshTable();
        StringBuilder script = new StringBuilder("\\startpipeline\n");
        for (int i = 0; i < 10; i++) {
            script.append("insert into ").append(target.table()).append(" values (").append(i).append(", 'p');\n");
        }
        script.append("\\endpipeline\n");
        pgbench(script.toString(), "-M", "extended", "-t", "10");
        expect(psqlC("select count(*) from " + target.table()).trim().equals("100"), "rows missing");
        return null;
    }

    @Override
    String copyIn() throws Exception {
        freshTable();
        String script = "copy " + target.table() + " from stdin;\n" + copyRows() + "\\.\n"
                + "select count(*) || ' ' || sum(i) from " + target.table() + ";\n";
        Out o = exec(psql(conninfo(), "-v", "ON_ERROR_STOP=1"), script, null);
        expect(o.exit == 0 && o.stdout.trim().equals(COPY_ROWS + " " + COPY_SUM), "psql " + o.describe());
        return null;
    }

    @Override
    String copyOut() throws Exception {
        expect(psqlC("copy " + target.table() + " to stdout").equals(copyRows()), "the rows differ");
        return null;
    }

    @Override
    String listen() throws Exception {
        String channel = "compat_" + target.tag();
        try (Session listener = new Session()) {
            listener.run("listen " + channel + ";");
            psqlC("notify " + channel + ", 'hi'");
            String expected = "Asynchronous notification \"" + channel + "\" with payload \"hi\" received";
            for (int i = 0; i < 50; i++) {
                if (listener.run("select 1;").stream().anyMatch(l -> l.startsWith(expected))) {
                    return null;
                }
                Thread.sleep(100);
            }
        }
        throw new Failed("no notification");
    }

    @Override
    String cancel() throws Exception {
        try (Session s = new Session()) {
            s.send(slowQuery() + ";");
            waitUntil(() -> psqlC(slowQueryRunning()).trim().equals("1"), "the query never ran");
            long t0 = System.nanoTime();
            Out kill = exec(List.of("kill", "-INT", Long.toString(s.process.pid())), null, null);
            expect(kill.exit == 0, "kill " + kill.describe());
            List<String> lines = new ArrayList<>();
            for (String line; (line = s.out.readLine()) != null; ) {
                lines.add(line);
            }
            expect(lines.stream().anyMatch(l -> l.contains("canceling statement due to user request")),
                    "psql said " + lines);
            expect(System.nanoTime() - t0 < TimeUnit.SECONDS.toNanos(5), "the cancel took too long");
        }
        // psql stops a script at Ctrl-C; the route serves the next client
        expect(psqlC("select 3").trim().equals("3"), "the route did not work on");
        return null;
    }

    @Override
    String txnError() throws Exception {
        Out o = exec(psql(conninfo()), "begin;\nselect 1/0;\nselect 1;\nrollback;\nselect 2;\n", null);
        expect(o.stderr.contains("ERROR:  division by zero"), "no division by zero: " + o.describe());
        expect(o.stderr.contains("ERROR:  current transaction is aborted"), "not a failed transaction: " + o.describe());
        expect(o.stdout.trim().equals("2"), "the session did not work on: " + o.describe());
        return null;
    }

    @Override
    String large() throws Exception {
        // FETCH_COUNT: psql declares a cursor in a transaction and fetches 1000 rows at a time
        Out o = exec(psql(conninfo(), "-v", "ON_ERROR_STOP=1", "-v", "FETCH_COUNT=1000", "-c",
                "select g from generate_series(1, " + LARGE_ROWS + ") g"), null, null);
        expect(o.exit == 0, "psql " + o.describe());
        long n = 0;
        long sum = 0;
        for (String line : o.lines()) {
            n++;
            sum += Long.parseLong(line);
        }
        expect(n == LARGE_ROWS && sum == LARGE_SUM, "got " + n + " rows");
        return null;
    }

    @Override
    String setShow() throws Exception {
        List<String> pids = new ArrayList<>();
        try (Session a = new Session(); Session holder = new Session()) {
            a.run("set work_mem = '7MB';");
            for (int i = 0; i < SET_SHOW_TRANSACTIONS; i++) {
                boolean hold = i % 2 == 1;
                if (hold) {
                    holder.run("begin;\nselect 1;");
                }
                List<String> lines = a.run("begin;\nshow work_mem;\nselect pg_backend_pid();\ncommit;");
                if (hold) {
                    holder.run("commit;");
                }
                expect(lines.size() == 2 && lines.get(0).equals("7MB"),
                        "transaction " + (i + 1) + " answered " + lines);
                pids.add(lines.get(1));
            }
        }
        return servers(pids);
    }

    @Override
    void victim() throws Exception {
        builder(psql(conninfo(), "-c", Target.victimQuery(target.tag())), null).inheritIO().start().waitFor();
    }
}
