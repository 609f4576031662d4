package dev.pgmux.compat;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The check programs of the Java drivers as a command, for a JVM of their own (the drivers built on Netty and Reactor
 * keep their threads, buffers and leak reports out of the test JVM, and a victim can be killed as a process is):
 * <pre>
 *   JavaDriverMain DRIVER [--tls] [--killed] [--tag=NAME] URL     the checks, as {@link JavaChecks} prints them
 *   JavaDriverMain --victims DRIVER TAG URL [DRIVER TAG URL ...]   one victim connection each, until killed
 * </pre>
 * DRIVER is {@code libpq} (psql and pgbench), {@code pgjdbc}, {@code r2dbc} or {@code vertx}.
 */
public final class JavaDriverMain {
    private JavaDriverMain() {}

    static JavaChecks checks(String driver, Target target) {
        return switch (driver) {
            case "libpq" -> new LibpqChecks(target);
            case "pgjdbc" -> new PgjdbcChecks(target);
            case "r2dbc" -> new R2dbcChecks(target);
            case "vertx" -> new VertxChecks(target);
            default -> throw new IllegalArgumentException("unknown driver " + driver);
        };
    }

    public static void main(String[] args) throws Exception {
        if (args.length > 0 && args[0].equals("--victims")) {
            List<Thread> victims = new ArrayList<>();
            for (int i = 1; i + 2 <= args.length - 1; i += 3) {
                Target t = Target.parse(List.of("--victim", "--tag=" + args[i + 1], args[i + 2]));
                JavaChecks c = checks(args[i], t);
                victims.add(Thread.ofPlatform().start(() -> c.run(System.out)));
            }
            for (Thread t : victims) {
                t.join();
            }
            System.exit(1); // a victim that returns has failed: it is meant to be killed mid-query
        }
        checks(args[0], Target.parse(Arrays.asList(args).subList(1, args.length))).run(System.out);
        System.out.flush();
        System.exit(0); // the drivers' event loop threads would keep the JVM alive
    }
}
