package dev.pgmux.testing;

import dev.pgmux.embedded.LocalPostgres;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/**
 * The PostgreSQL servers the integration tests share: all test classes run in one JVM, and starting a server
 * per class would cost seconds each. The first call to any accessor starts all three in parallel; they stop
 * with the JVM (LocalPostgres' shutdown hook).
 *
 * <p>Every server has the same roles: the superuser, {@link #ALICE} and {@link #BOB} (scram-sha-256),
 * {@link #MD5_USER} (md5, password stored as md5), {@link #CLEAR_USER} (password, i.e. cleartext) and
 * {@link #TRUST_USER} (trust); a database {@link #LAB} owned by alice; and in both {@code postgres} and
 * {@code lab} a table {@code whoami(server text)} whose single row names the server ({@link #PG17},
 * {@link #PG17B}, {@link #PG18}), so that a test going through pgmux can ask which backend answered.
 * TLS is on everywhere with {@link TestCerts#serverCert()}. Tests must not change these roles or tables.
 */
public final class TestServers {

    public static final String SUPERUSER = LocalPostgres.SUPERUSER;
    public static final String SUPERUSER_PASSWORD = "postgres_pw";
    public static final String ALICE = "alice";
    public static final String ALICE_PASSWORD = "alice_pw";
    public static final String BOB = "bob";
    public static final String BOB_PASSWORD = "bob_pw";
    public static final String MD5_USER = "md5_user";
    public static final String MD5_PASSWORD = "md5_pw";
    public static final String CLEAR_USER = "clear_user";
    public static final String CLEAR_PASSWORD = "clear_pw";
    public static final String TRUST_USER = "trust_user";
    public static final String LAB = "lab";

    /** Names in each server's {@code whoami} table. */
    public static final String PG17 = "pg17";
    public static final String PG17B = "pg17b";
    public static final String PG18 = "pg18";

    private record Servers(LocalPostgres pg17, LocalPostgres pg17b, LocalPostgres pg18) {}

    private static Servers servers;
    private static RuntimeException failure;

    private TestServers() {}

    /** PostgreSQL 17, TLS on. */
    public static LocalPostgres pg17() {
        return servers().pg17();
    }

    /** A second PostgreSQL 17, so that routing to different servers of one version is testable. */
    public static LocalPostgres pg17b() {
        return servers().pg17b();
    }

    /** PostgreSQL 18, TLS on. */
    public static LocalPostgres pg18() {
        return servers().pg18();
    }

    private static synchronized Servers servers() {
        if (servers == null && failure == null) {
            try {
                servers = startAll();
            } catch (RuntimeException e) {
                failure = e;
            }
        }
        if (failure != null) {
            // Every later test fails fast with the first start's cause instead of retrying for minutes.
            throw new IllegalStateException("the shared test servers did not start", failure);
        }
        return servers;
    }

    private static Servers startAll() {
        TestCerts.dir(); // once, before the threads need it
        try (ExecutorService threads = Executors.newFixedThreadPool(3)) {
            CompletableFuture<LocalPostgres> pg17 = CompletableFuture.supplyAsync(() -> start("17", PG17), threads);
            CompletableFuture<LocalPostgres> pg17b = CompletableFuture.supplyAsync(() -> start("17", PG17B), threads);
            CompletableFuture<LocalPostgres> pg18 = CompletableFuture.supplyAsync(() -> start("18", PG18), threads);
            try {
                return new Servers(pg17.join(), pg17b.join(), pg18.join());
            } catch (CompletionException e) {
                // The ones that did start are stopped by the shutdown hook.
                throw e.getCause() instanceof RuntimeException re ? re : e;
            }
        }
    }

    private static LocalPostgres start(String version, String name) {
        LocalPostgres pg = LocalPostgres.builder()
                .version(version)
                .superuserPassword(SUPERUSER_PASSWORD)
                .user(ALICE, ALICE_PASSWORD, "scram-sha-256")
                .user(BOB, BOB_PASSWORD, "scram-sha-256")
                .user(MD5_USER, MD5_PASSWORD, "md5")
                .user(CLEAR_USER, CLEAR_PASSWORD, "password")
                .user(TRUST_USER, null, "trust")
                .database(LAB, ALICE)
                .tls(TestCerts.serverCert(), TestCerts.serverKey())
                .start();
        String[] whoami = {
            "CREATE TABLE whoami(server text)",
            "INSERT INTO whoami VALUES ('" + name + "')",
            "GRANT SELECT ON whoami TO PUBLIC"
        };
        pg.execute("postgres", whoami);
        pg.execute(LAB, whoami);
        return pg;
    }
}
