package dev.pgmux.session;

import dev.pgmux.metrics.ProxyMetrics;
import io.netty.buffer.ByteBuf;

/**
 * Follows message boundaries in a forwarded byte stream without copying or decoding bodies: it reads each
 * 5-byte header (type, Int32 length) and skips the body, even across buffer boundaries. This is what lets a
 * graceful shutdown wait for an idle session and insert its own ErrorResponse only between two messages.
 *
 * <p>Frontend streams count the messages that each produce exactly one ReadyForQuery (Query, Sync,
 * FunctionCall); backend streams count ReadyForQuery and remember its transaction status. With a
 * {@link RequestClock} (one for both streams of a session) they also time requests and transactions, and a
 * backend stream counts the class of each ErrorResponse's SQLSTATE ({@link ErrorClassScan}): the only work that adds
 * to a message is at ReadyForQuery and ErrorResponse, and at the messages that start or end a request.
 */
final class MessageScanner {
    private final boolean frontend;
    /** Null: nothing timed or counted. */
    private final RequestClock clock;
    private final ErrorClassScan errors;
    /** The time of the read being scanned, once asked for, or 0. */
    private long scanNanos;
    private final byte[] header = new byte[5];
    private int headerFill;
    private long bodyLeft;
    private boolean statusPending;
    private boolean broken;
    private long syncPoints;
    private long syncsSinceExecute;
    private boolean copyIn;
    /** Frontend: extended-protocol messages sent since the last Sync or Query. */
    private boolean extendedSinceSync;
    private byte transactionStatus = 'I';
    /** Where the last scan found a whole Terminate header, or -1. */
    private int terminateAt = -1;

    MessageScanner(boolean frontend) {
        this(frontend, null, null);
    }

    /**
     * @param clock   where requests and ReadyForQuery go (shared by the session's two scanners), or null
     * @param metrics where a backend stream counts ErrorResponses, or null
     */
    MessageScanner(boolean frontend, RequestClock clock, ProxyMetrics metrics) {
        this.frontend = frontend;
        this.clock = clock;
        this.errors = frontend || metrics == null ? null : new ErrorClassScan(metrics);
    }

    void scan(ByteBuf buf) {
        int i = buf.readerIndex();
        final int end = buf.writerIndex();
        terminateAt = -1;
        scanNanos = 0;
        while (i < end && !broken) {
            if (bodyLeft > 0) {
                if (statusPending) {
                    transactionStatus = buf.getByte(i);
                    statusPending = false;
                    if (clock != null) {
                        clock.ready(transactionStatus, now());
                    }
                }
                int n = (int) Math.min(bodyLeft, end - i);
                if (errors != null && errors.active()) {
                    errors.feed(buf, i, i + n);
                }
                i += n;
                bodyLeft -= n;
            } else if (headerFill == 0 && end - i >= 5) {
                if (frontend && buf.getByte(i) == 'X' && terminateAt < 0) {
                    terminateAt = i;
                }
                onHeader(buf.getByte(i), buf.getInt(i + 1));
                i += 5;
            } else {
                header[headerFill++] = buf.getByte(i++);
                if (headerFill == 5) {
                    headerFill = 0;
                    int len = ((header[1] & 0xFF) << 24) | ((header[2] & 0xFF) << 16) | ((header[3] & 0xFF) << 8)
                            | (header[4] & 0xFF);
                    onHeader(header[0], len);
                }
            }
        }
    }

    private void onHeader(byte type, int length) {
        if (length < 4) {
            broken = true; // the peer will be told by PostgreSQL; from here on we cannot know boundaries
            return;
        }
        bodyLeft = length - 4L;
        if (frontend) {
            onFrontendMessage(type);
            return;
        }
        if (errors != null && errors.active()) {
            errors.end(); // the last ErrorResponse had no code
        }
        if (type == 'Z') {
            syncPoints++;
            statusPending = bodyLeft > 0;
            if (!statusPending && clock != null) {
                clock.ready(transactionStatus, now());
            }
        } else if (type == 'E' && errors != null) {
            errors.start();
        }
    }

    /** The time of this read. */
    private long now() {
        if (scanNanos == 0) {
            scanNanos = System.nanoTime();
        }
        return scanNanos;
    }

    /**
     * The server ignores Sync while in copy-in mode ("COPY Operations" in the protocol docs): libpq's extended-mode
     * COPY FROM STDIN sends Execute, Sync, CopyData…, CopyDone, Sync and gets one ReadyForQuery. So Syncs sent
     * between the Execute that started a copy and its CopyDone/CopyFail do not count.
     */
    private void onFrontendMessage(byte type) {
        switch (type) {
            case 'Q', 'F' -> {
                syncPoints++;
                syncsSinceExecute = 0;
                extendedSinceSync = false;
                if (clock != null) {
                    clock.requestSent(now());
                }
            }
            case 'E' -> {
                syncsSinceExecute = 0;
                extendedSinceSync = true;
                if (clock != null) {
                    clock.batchMessage(now());
                }
            }
            case 'P', 'B', 'D', 'C', 'H' -> {
                extendedSinceSync = true;
                if (clock != null) {
                    clock.batchMessage(now());
                }
            }
            case 'S' -> {
                if (!copyIn) {
                    syncPoints++;
                    syncsSinceExecute++;
                    extendedSinceSync = false;
                    if (clock != null) {
                        clock.requestSent(now());
                    }
                }
            }
            case 'd' -> {
                if (!copyIn) {
                    copyIn = true;
                    dropSyncsSinceExecute();
                }
            }
            case 'c', 'f' -> {
                if (!copyIn) {
                    dropSyncsSinceExecute();
                }
                copyIn = false;
            }
            default -> {
            }
        }
    }

    private void dropSyncsSinceExecute() {
        syncPoints -= syncsSinceExecute;
        if (clock != null) {
            clock.unsent(syncsSinceExecute);
        }
        syncsSinceExecute = 0;
    }

    /**
     * Frontend: the index in the buffer last scanned at which a Terminate message starts, or -1 (a pooled server
     * must not see its client's Terminate).
     */
    int terminateAt() {
        return terminateAt;
    }

    /**
     * Frontend: whether extended-protocol messages went out since the last Sync or Query (the server may be inside
     * an implicit transaction, or owe answers to a Flush).
     */
    boolean extendedSinceSync() {
        return extendedSinceSync;
    }

    /** True between two messages. */
    boolean atBoundary() {
        return !broken && headerFill == 0 && bodyLeft == 0;
    }

    /** Frontend: messages sent that each await a ReadyForQuery. Backend: ReadyForQuery messages seen. */
    long syncPoints() {
        return syncPoints;
    }

    /** The status of the last ReadyForQuery: 'I' idle, 'T' in a transaction, 'E' in a failed transaction. */
    byte transactionStatus() {
        return transactionStatus;
    }
}
