package dev.pgmux.session;

import java.util.ArrayDeque;
import java.util.function.LongConsumer;

/**
 * What a pooled server still owes its client, in order: one entry per message sent that the server answers
 * (Parse, Bind, Close, Describe, Execute, Sync, Query, FunctionCall), so that pgmux knows which answer each server
 * message belongs to. Answers to messages pgmux sent on its own (a statement prepared again on this server, an
 * evicted statement closed) are hidden from the client; an error is never hidden, since it is the error the client's
 * own message would have met.
 *
 * <p>After an error in the extended protocol the server skips everything up to the next Sync; entries up to that
 * Sync are dropped with their failure actions run. When no Sync is queued, the server keeps skipping what comes next
 * until one arrives: {@link #takeSkipping()} tells the client side so.
 */
final class Expectations {

    enum Kind {
        PARSE, BIND, CLOSE, DESCRIBE, EXECUTE, SYNC, QUERY
    }

    /**
     * One expected answer; {@code onSuccess}/{@code onFailure} (may be null) run when it completes or is skipped;
     * an error answering it names statement {@code renameFrom}, which the client knows as {@code renameTo} (or null);
     * {@code sentNanos} is when the request a ReadyForQuery answers began (0: not timed).
     */
    record Entry(Kind kind, boolean hidden, Runnable onSuccess, Runnable onFailure, String renameFrom,
                 String renameTo, long sentNanos) {
    }

    private final ArrayDeque<Entry> queue = new ArrayDeque<>();
    private final LongConsumer onReady;
    private final Runnable onError;
    private boolean skipping;

    /**
     * @param onReady runs at each ReadyForQuery the client expects (not those of pgmux's own queries), with the
     *                {@code sentNanos} of the request it answers
     * @param onError runs at each ErrorResponse
     */
    Expectations(LongConsumer onReady, Runnable onError) {
        this.onReady = onReady;
        this.onError = onError;
    }

    void add(Kind kind) {
        add(kind, 0);
    }

    /** A client's request that began at {@code sentNanos} (a Sync's, its batch's first message). */
    void add(Kind kind, long sentNanos) {
        queue.addLast(new Entry(kind, false, null, null, null, null, sentNanos));
    }

    void add(Kind kind, boolean hidden, Runnable onSuccess, Runnable onFailure) {
        queue.addLast(new Entry(kind, hidden, onSuccess, onFailure, null, null, 0));
    }

    /** An answer whose error names {@code from}, which the client calls {@code to}. */
    void addRenamed(Kind kind, String from, String to) {
        queue.addLast(new Entry(kind, false, null, null, from, to, 0));
    }

    /** The entry the next server message answers, or null. */
    Entry head() {
        return queue.peekFirst();
    }

    boolean isEmpty() {
        return queue.isEmpty();
    }

    /** Whether an answer the client itself waits for is still to come (pgmux's own do not count). */
    boolean clientAwaits() {
        for (Entry e : queue) {
            if (!e.hidden()) {
                return true;
            }
        }
        return false;
    }

    /** Entries still expected. */
    int size() {
        return queue.size();
    }

    /**
     * One server message of {@code type} starts.
     *
     * @return whether it goes to the client
     */
    boolean onMessage(byte type) {
        Entry head = queue.peekFirst();
        if (type == 'N' || type == 'A' || type == 'S') {
            return true; // notices, notifications and parameter changes come at any time
        }
        if (type == 'E') {
            onError.run();
        }
        if (head == null) {
            // An error to a message that expects no answer of its own (Flush after a malformed one): the server
            // skips to the next Sync.
            skipping |= type == 'E';
            return true;
        }
        if (type == 'E') {
            if (head.kind() != Kind.QUERY && head.kind() != Kind.SYNC) {
                while (!queue.isEmpty() && queue.peekFirst().kind() != Kind.SYNC) {
                    Entry skipped = queue.pollFirst();
                    if (skipped.onFailure() != null) {
                        skipped.onFailure().run();
                    }
                }
                skipping = queue.isEmpty();
            }
            return true;
        }
        boolean terminal = switch (head.kind()) {
            case PARSE -> type == '1';
            case BIND -> type == '2';
            case CLOSE -> type == '3';
            case DESCRIBE -> type == 'T' || type == 'n';
            case EXECUTE -> type == 'C' || type == 'I' || type == 's';
            case SYNC, QUERY -> type == 'Z';
        };
        if (terminal) {
            queue.pollFirst();
            if (head.onSuccess() != null) {
                head.onSuccess().run();
            }
            if (type == 'Z' && !head.hidden()) {
                onReady.accept(head.sentNanos());
            }
        }
        return !head.hidden();
    }

    /** Whether the server skips the client's messages until its next Sync (an error came with no Sync queued). */
    boolean skipping() {
        return skipping;
    }

    /** The client's Sync went out: the server stops skipping there. */
    void syncSent() {
        skipping = false;
    }

    /**
     * The client started a COPY FROM STDIN with Execute: the server ignores the Syncs sent since that Execute (libpq
     * sends one right after it), so they are expected no more.
     */
    void dropSyncsSinceExecute(int count) {
        for (int i = 0; i < count && !queue.isEmpty(); i++) {
            if (queue.peekLast().kind() == Kind.SYNC) {
                queue.pollLast();
            }
        }
    }
}
