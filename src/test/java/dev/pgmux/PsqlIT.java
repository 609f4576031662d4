package dev.pgmux;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.pgmux.embedded.LocalPostgres;
import dev.pgmux.testing.PgStatActivity;
import dev.pgmux.testing.TestCerts;
import dev.pgmux.testing.TestServers;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * libpq's own tools through the proxy: psql (TLS, Ctrl-C cancel, \copy, \lo_import) and pgbench. Skipped where
 * they are not installed (Debian: postgresql-client).
 */
public class PsqlIT {
    static LocalPostgres pg;
    static ProxyServer proxy;

    @BeforeAll
    static void start() throws Exception {
        assumeTrue(onPath("psql"), "psql is not installed");
        pg = TestServers.pg17();
        Router router = request -> BackendConfig.builder().host(pg.host()).port(pg.port()).user(TestServers.ALICE).build();
        proxy = new ProxyServer("127.0.0.1:0", router)
                .withTls(TlsConfig.fromPemFiles(TestCerts.serverCert(), TestCerts.serverKey()).withRequired(true))
                .start();
    }

    @AfterAll
    static void stop() {
        if (proxy != null) {
            proxy.close(Duration.ofSeconds(1));
        }
    }

    public static boolean onPath(String tool) {
        for (String dir : System.getenv().getOrDefault("PATH", "").split(":")) {
            if (Files.isExecutable(Path.of(dir, tool))) {
                return true;
            }
        }
        return false;
    }

    static String conninfo() {
        return "host=localhost port=" + proxy.port() + " user=app_user dbname=lab sslmode=verify-full sslrootcert="
                + TestCerts.caCert();
    }

    static ProcessBuilder psql(String... args) {
        List<String> cmd = new ArrayList<>(List.of("psql", "-X", "-v", "ON_ERROR_STOP=1", "-At", conninfo()));
        cmd.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
        pb.environment().put("PGPASSWORD", TestServers.ALICE_PASSWORD);
        pb.environment().put("PGCONNECT_TIMEOUT", "10");
        return pb;
    }

    static String run(ProcessBuilder pb) throws IOException, InterruptedException {
        Process p = pb.start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
        assertThat(p.exitValue()).as(out).isZero();
        return out.trim();
    }

    @Test
    void queriesOverTls() throws Exception {
        assertThat(run(psql("-c", "select current_user, ssl from pg_stat_ssl where pid = pg_backend_pid()")))
                .isEqualTo("alice|f");
        assertThat(run(psql("-c", "show ssl"))).isEqualTo("on");
    }

    @Test
    void ctrlCCancelsTheRunningQuery() throws Exception {
        Process p = psql("-c", "select pg_sleep(30)").start();
        PgStatActivity.awaitRunning(pg, "select pg_sleep(30)");
        long t0 = System.nanoTime();
        new ProcessBuilder("kill", "-INT", Long.toString(p.pid())).start().waitFor();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor(20, TimeUnit.SECONDS)).isTrue();
        assertThat(out).contains("canceling statement due to user request");
        assertThat(Duration.ofNanos(System.nanoTime() - t0)).isLessThan(Duration.ofSeconds(10));
    }

    @Test
    void copyAndLargeObjects(@TempDir Path dir) throws Exception {
        Path data = dir.resolve("data.tsv");
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < 50_000; i++) {
            sb.append(i).append('\t').append("row ").append(i).append('\n');
        }
        Files.writeString(data, sb);
        Path out = dir.resolve("out.tsv");
        run(psql("-c", "create table if not exists psql_copy(n int, s text)", "-c", "truncate psql_copy",
                "-c", "\\copy psql_copy from '" + data + "'",
                "-c", "\\copy (select * from psql_copy order by n) to '" + out + "'"));
        assertThat(Files.readString(out)).isEqualTo(sb.toString());

        String imported = run(psql("-c", "\\lo_import '" + data + "'"));
        assertThat(imported).startsWith("lo_import ");
        String oid = imported.substring("lo_import ".length()).trim();
        Path exported = dir.resolve("exported.tsv");
        run(psql("-c", "\\lo_export " + oid + " '" + exported + "'", "-c", "\\lo_unlink " + oid));
        assertThat(Files.readString(exported)).isEqualTo(sb.toString());
    }

    @Test
    void pgbenchRunsWithoutFailures() throws Exception {
        assumeTrue(onPath("pgbench"), "pgbench is not installed");
        ProcessBuilder init = new ProcessBuilder("pgbench", "-i", "-s", "1", "-q", "-d", conninfo()).redirectErrorStream(true);
        init.environment().put("PGPASSWORD", TestServers.ALICE_PASSWORD);
        run(init);
        ProcessBuilder bench = new ProcessBuilder("pgbench", "-c", "4", "-j", "2", "-t", "200", "-d", conninfo())
                .redirectErrorStream(true);
        bench.environment().put("PGPASSWORD", TestServers.ALICE_PASSWORD);
        String out = run(bench);
        assertThat(out).contains("number of transactions actually processed: 800/800");
        assertThat(out).contains("number of failed transactions: 0");
        ProcessBuilder count = psql("-c", "select count(*) from pgbench_history");
        assertThat(run(count)).isEqualTo("800");
    }
}
