package dev.pgmux.session;

import dev.pgmux.SessionStatePolicy;
import dev.pgmux.pool.PooledServer;
import dev.pgmux.pool.SessionStateScan;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.Consumer;

/**
 * The settings a transaction-pooled client SET for its session, carried to each server it gets instead of pinning
 * it to one (pgjdbc sends {@code SET extra_float_digits = 3} at every login). Only a plain {@link SessionSet}
 * (SET, RESET, RESET ALL, DISCARD ALL) that opens a batch outside a transaction is carried: it is recorded at the
 * client's next ReadyForQuery if no error came and it ran (an Execute followed its Parse), in the client's map and
 * in its server's ({@link PooledServer#settings()}); {@link #converge} gives the statements that make another
 * server's settings the client's. Any other form, or one inside a transaction or a pipeline, pins (the route's
 * {@code on_session_state} says what that means).
 */
final class CarriedSettings {
    private final SessionStatePolicy policy;
    private final Consumer<SessionStateScan.Finding> pin;
    /** Name → value as written. */
    private final Map<String, String> settings = new LinkedHashMap<>();
    /** A plain SET or RESET that opened the batch under way, recorded once it succeeded. */
    private SessionSet pendingSet;
    /** Other statements came in the same batch. */
    private boolean pendingSpoiled;
    /** The pending SET came in a Parse: it takes effect only if an Execute follows in its batch. */
    private boolean pendingUnexecuted;
    /** The plain SET the named statement being parsed holds, for {@link ClientStatements.Prepared#set()}. */
    private SessionSet namedSet;
    /** The batch under way opened outside a transaction with nothing in flight. */
    private boolean batchOpenedIdle;
    private boolean batchFailed;

    /** @param pin pins the client (given what was found), as its route's policy says */
    CarriedSettings(SessionStatePolicy policy, Consumer<SessionStateScan.Finding> pin) {
        this.policy = policy;
        this.pin = pin;
    }

    /** A batch opens: whether outside a transaction with nothing else in flight. */
    void batchOpens(boolean idle) {
        batchOpenedIdle = idle;
    }

    /** An Execute went out. */
    void executed() {
        pendingUnexecuted = false;
    }

    /** The server answered with an error. */
    void failed() {
        batchFailed = true;
    }

    /** Whether a plain SET waits for its ReadyForQuery. */
    boolean pending() {
        return pendingSet != null;
    }

    /** The plain SET of the named statement just parsed (then forgotten), or null. */
    SessionSet takeNamed() {
        SessionSet s = namedSet;
        namedSet = null;
        return s;
    }

    /**
     * Whether {@code text} (of a Query or Parse; {@code found}: what the scan found in it) is taken care of here: a
     * plain SET or RESET carried (or, for a named statement, noted for each time it runs), or a RESET of another
     * kind that pins. False: the scan's finding decides, as for any statement.
     */
    boolean carries(String text, SessionStateScan.Finding found, boolean atBatchStart, boolean named) {
        namedSet = null;
        if (pendingSet != null) {
            pendingSpoiled = true;
        }
        boolean reset = startsWith(text, "reset") || startsWith(text, "discard");
        boolean candidate = found != null ? found.cause() == SessionStateScan.Cause.SET : reset;
        if (!candidate) {
            return false;
        }
        SessionSet set = SessionSet.parse(text);
        if (set != null && named) {
            namedSet = set; // it runs at each Execute of it: carried then (see atBind)
            return true;
        }
        if (set == null || !atBatchStart || !batchOpenedIdle) {
            // Another form, or inside a transaction or a pipeline (it could be rolled back with it): the server's
            // settings are no longer known, so the client keeps its server.
            if (reset && !(set == null && startsWith(text, "discard")) && policy == SessionStatePolicy.PIN) {
                pin.accept(new SessionStateScan.Finding(SessionStateScan.Cause.SET, text.strip()));
                return true;
            }
            return false;
        }
        expect(set);
        return true;
    }

    /** A named statement holding a plain SET is bound: carried if it opens a batch outside a transaction, else pins. */
    void atBind(SessionSet set) {
        if (pendingSet == null && batchOpenedIdle) {
            expect(set);
        } else if (policy == SessionStatePolicy.PIN) {
            pin.accept(new SessionStateScan.Finding(SessionStateScan.Cause.SET, set.statement()));
        }
    }

    private void expect(SessionSet set) {
        pendingSet = set;
        pendingUnexecuted = true;
        batchFailed = false;
    }

    /** The client's ReadyForQuery ({@code server}: its server now, or null): the pending SET took effect, or not. */
    void onReady(PooledServer server) {
        SessionSet set = pendingSet;
        if (set != null) {
            pendingSet = null;
            if (batchFailed || pendingUnexecuted || server == null) {
                // it did not take effect, or its server is gone
            } else if (pendingSpoiled && policy == SessionStatePolicy.PIN) {
                pin.accept(new SessionStateScan.Finding(SessionStateScan.Cause.SET, set.statement()));
            } else if (set.name() == null) {
                settings.clear();
                server.settings().clear();
            } else if (set.reset()) {
                settings.remove(set.name());
                server.settings().remove(set.name());
            } else {
                settings.put(set.name(), set.value());
                server.settings().put(set.name(), set.value());
            }
        }
        pendingSpoiled = false;
        batchFailed = false;
    }

    /**
     * The statements that make {@code server}'s settings the client's (none if they are), each to run as its own
     * query, {@code client_encoding} first (the server reads a query's text in the encoding set before it); the
     * server's record is updated as if they ran.
     */
    List<String> converge(PooledServer server) {
        if (server.settings().equals(settings)) {
            return List.of();
        }
        List<String> statements = new ArrayList<>();
        for (String name : server.settings().keySet()) {
            if (!settings.containsKey(name)) {
                statements.add(new SessionSet(name, null).statement());
            }
        }
        settings.forEach((name, value) -> {
            if (!value.equals(server.settings().get(name))) {
                statements.add(new SessionSet(name, value).statement());
            }
        });
        statements.sort(Comparator.comparing(st -> !st.toLowerCase(Locale.ROOT).contains("client_encoding")));
        server.settings().clear();
        server.settings().putAll(settings);
        return statements;
    }

    private static boolean startsWith(String text, String word) {
        int i = 0;
        while (i < text.length() && Character.isWhitespace(text.charAt(i))) {
            i++;
        }
        return text.regionMatches(true, i, word, 0, word.length());
    }
}
