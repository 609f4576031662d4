package dev.pgmux.compat;

import java.io.PrintStream;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * The check program of a driver written in Java: one method per {@link Check}, run in order by {@link #run}, each
 * with a time limit, printing the line protocol the runner reads ({@code PASS id [detail]}, {@code FAIL id reason},
 * {@code SKIP id reason}, {@code VERSION name version}). A method returns a detail for its PASS line (or null), throws
 * {@link NotApplicable} where the driver has no means for the check, and anything else to fail it.
 */
abstract class JavaChecks implements AutoCloseable {
    static final Duration CHECK_TIMEOUT = Duration.ofSeconds(60);
    /** Transactions of {@link Check#PREPARED}, and of {@link Check#SET_SHOW}. */
    static final int PREPARED_TRANSACTIONS = 8;
    static final int SET_SHOW_TRANSACTIONS = 4;
    static final int COPY_ROWS = 50_000;
    static final int LARGE_ROWS = 200_000;

    /** A check the driver has no means for: a SKIP line, shown as "—" with the reason. */
    static final class NotApplicable extends Exception {
        NotApplicable(String reason) {
            super(reason, null, false, false);
        }
    }

    /** A check whose result was wrong: a FAIL line with this message. */
    static final class Failed extends Exception {
        Failed(String reason) {
            super(reason, null, false, false);
        }
    }

    interface Body {
        String run() throws Exception;
    }

    protected final Target target;

    JavaChecks(Target target) {
        this.target = target;
    }

    /** Name and version of the driver (and of what it runs on), one VERSION line each. */
    abstract Map<String, String> versions();

    abstract String killed() throws Exception;

    abstract String login() throws Exception;

    abstract String tls() throws Exception;

    abstract String channelBinding() throws Exception;

    abstract String simple() throws Exception;

    abstract String params() throws Exception;

    abstract String prepared() throws Exception;

    abstract String pipeline() throws Exception;

    abstract String copyIn() throws Exception;

    abstract String copyOut() throws Exception;

    abstract String listen() throws Exception;

    abstract String cancel() throws Exception;

    abstract String txnError() throws Exception;

    abstract String large() throws Exception;

    abstract String setShow() throws Exception;

    /** Connects and runs {@link Target#victimQuery}, not returning until the process is killed. */
    abstract void victim() throws Exception;

    private Body body(Check check) {
        return switch (check) {
            case KILLED -> this::killed;
            case LOGIN -> this::login;
            case TLS -> this::tls;
            case CHANNEL_BINDING -> this::channelBinding;
            case SIMPLE -> this::simple;
            case PARAMS -> this::params;
            case PREPARED -> this::prepared;
            case PIPELINE -> this::pipeline;
            case COPY_IN -> this::copyIn;
            case COPY_OUT -> this::copyOut;
            case LISTEN -> this::listen;
            case CANCEL -> this::cancel;
            case TXN_ERROR -> this::txnError;
            case LARGE -> this::large;
            case SET_SHOW -> this::setShow;
        };
    }

    /** Runs every check (or the victim), printing one line each; closes this program at the end. */
    final void run(PrintStream out) {
        try (ExecutorService threads = Executors.newVirtualThreadPerTaskExecutor()) {
            if (target.victim()) {
                try {
                    victim();
                } catch (Exception e) {
                    out.println("FAIL victim " + reason(e));
                }
                return;
            }
            versions().forEach((name, version) -> out.println("VERSION " + name + " " + version));
            for (Check check : Check.values()) {
                if (check == Check.KILLED && !target.killed()) {
                    continue;
                }
                if ((check == Check.TLS || check == Check.CHANNEL_BINDING) && !target.tls()) {
                    out.println("SKIP " + check.id + " run without --tls");
                    continue;
                }
                long t0 = System.nanoTime();
                Future<String> f = threads.submit(() -> body(check).run());
                try {
                    String detail = f.get(CHECK_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
                    out.println("PASS " + check.id + (detail == null ? "" : " " + detail) + " ("
                            + TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0) + " ms)");
                } catch (ExecutionException e) {
                    if (e.getCause() instanceof NotApplicable na) {
                        out.println("SKIP " + check.id + " " + na.getMessage());
                    } else {
                        out.println("FAIL " + check.id + " " + reason(e.getCause()));
                    }
                } catch (TimeoutException e) {
                    f.cancel(true);
                    out.println("FAIL " + check.id + " timed out after " + CHECK_TIMEOUT.toSeconds() + " s");
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    return;
                }
                out.flush();
            }
        } finally {
            try {
                close();
            } catch (Exception e) {
                out.println("FAIL close " + reason(e));
            }
        }
    }

    static String reason(Throwable e) {
        String m = e instanceof Failed ? e.getMessage() : e.getClass().getSimpleName() + ": " + e.getMessage();
        return m.replace('\n', ' ');
    }

    static void expect(boolean ok, String what) throws Failed {
        if (!ok) {
            throw new Failed(what);
        }
    }

    /** The query {@link Check#CANCEL} cancels, marked so that another connection can see it run. */
    String slowQuery() {
        return "select pg_sleep(10) /* compat-cancel " + target.tag() + " */";
    }

    /** How many other sessions run {@link #slowQuery} now: 1 once it runs. */
    String slowQueryRunning() {
        return "select count(*) from pg_stat_activity where state = 'active' and pid <> pg_backend_pid()"
                + " and query like '%compat-cancel " + target.tag() + " %'";
    }

    interface Probe {
        boolean ok() throws Exception;
    }

    /** Waits (ten seconds at most) until the probe says yes: a cancel sent before the query runs would cancel nothing. */
    static void waitUntil(Probe probe, String what) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (System.nanoTime() < deadline) {
            if (probe.ok()) {
                return;
            }
            Thread.sleep(50);
        }
        throw new Failed(what);
    }

    static String servers(java.util.Collection<?> pids) {
        return "servers=" + new java.util.HashSet<>(pids).size();
    }

    /** The rows of {@link Check#COPY_IN}, in COPY's text format: {@code i\trow i\n}. */
    static String copyRows() {
        StringBuilder sb = new StringBuilder(COPY_ROWS * 16);
        for (int i = 0; i < COPY_ROWS; i++) {
            sb.append(i).append("\trow ").append(i).append('\n');
        }
        return sb.toString();
    }

    static final long COPY_SUM = (long) COPY_ROWS * (COPY_ROWS - 1) / 2;
    static final long LARGE_SUM = (long) LARGE_ROWS * (LARGE_ROWS + 1) / 2;

    @Override
    public void close() throws Exception {
    }
}
