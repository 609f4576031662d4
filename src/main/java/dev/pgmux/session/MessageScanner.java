package dev.pgmux.session;

import io.netty.buffer.ByteBuf;

/**
 * Follows message boundaries in a forwarded byte stream without copying or decoding bodies: it reads each
 * 5-byte header (type, Int32 length) and skips the body, even across buffer boundaries. This is what lets a
 * graceful shutdown wait for an idle session and insert its own ErrorResponse only between two messages.
 *
 * <p>Frontend streams count the messages that each produce exactly one ReadyForQuery (Query, Sync,
 * FunctionCall); backend streams count ReadyForQuery and remember its transaction status.
 */
final class MessageScanner {
    private final boolean frontend;
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
        this.frontend = frontend;
    }

    void scan(ByteBuf buf) {
        int i = buf.readerIndex();
        final int end = buf.writerIndex();
        terminateAt = -1;
        while (i < end && !broken) {
            if (bodyLeft > 0) {
                if (statusPending) {
                    transactionStatus = buf.getByte(i);
                    statusPending = false;
                }
                int n = (int) Math.min(bodyLeft, end - i);
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
        } else if (type == 'Z') {
            syncPoints++;
            statusPending = bodyLeft > 0;
        }
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
            }
            case 'E' -> {
                syncsSinceExecute = 0;
                extendedSinceSync = true;
            }
            case 'P', 'B', 'D', 'C', 'H' -> extendedSinceSync = true;
            case 'S' -> {
                if (!copyIn) {
                    syncPoints++;
                    syncsSinceExecute++;
                    extendedSinceSync = false;
                }
            }
            case 'd' -> {
                if (!copyIn) {
                    copyIn = true;
                    syncPoints -= syncsSinceExecute;
                    syncsSinceExecute = 0;
                }
            }
            case 'c', 'f' -> {
                if (!copyIn) {
                    syncPoints -= syncsSinceExecute;
                    syncsSinceExecute = 0;
                }
                copyIn = false;
            }
            default -> {
            }
        }
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
