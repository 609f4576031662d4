package dev.pgmux.session;

import dev.pgmux.metrics.ProxyMetrics;
import dev.pgmux.protocol.ErrorResponse;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import java.nio.charset.StandardCharsets;

/**
 * The bytes a transaction-pooled server sends, on their way to the client: message headers are read (never the
 * bodies, but for the status of ReadyForQuery) to match each message to what it answers ({@link Expectations}), and
 * the runs of bytes that belong to the client are written to it as slices of the buffer read. Hidden answers are
 * left out; a header split between two reads is carried over to the next. The SQLSTATE class of each
 * ErrorResponse is counted on the way ({@link ErrorClassScan}).
 */
final class ServerStream {
    private final Expectations expect;
    private final ProxyMetrics metrics;
    private final ErrorClassScan errors;
    private long bodyLeft;
    private boolean passing = true;
    private boolean statusPending;
    private byte status = 'I';
    private ByteBuf carry;
    private long forwarded;

    /** Whether a server message is under way: its body, or a header split between reads. */
    boolean midMessage() {
        return bodyLeft > 0 || carry != null;
    }

    /** Hears the status of each ReadyForQuery the client gets, once its byte is read. */
    private java.util.function.IntConsumer onClientStatus = status -> {
    };

    void onClientStatus(java.util.function.IntConsumer listener) {
        this.onClientStatus = listener;
    }

    ServerStream(Expectations expect, ProxyMetrics metrics) {
        this.expect = expect;
        this.metrics = metrics;
        this.errors = new ErrorClassScan(metrics);
    }

    /** A new server: nothing half-read. */
    void reset() {
        bodyLeft = 0;
        passing = true;
        statusPending = false;
        status = 'I';
        errors.end();
        release();
    }

    /** Between two messages, with the last ReadyForQuery's status known. */
    boolean idle() {
        return bodyLeft == 0 && carry == null && !statusPending;
    }

    /** The transaction status of the last ReadyForQuery. */
    byte status() {
        return status;
    }

    /** Bytes written to the client by the last {@link #forward}. */
    long lastForwarded() {
        return forwarded;
    }

    /**
     * Writes to the client what of {@code data} is its (this call takes the buffer).
     *
     * @return false when the server broke the protocol (a length below 4)
     */
    boolean forward(ByteBuf data, Channel client) {
        forwarded = 0;
        if (carry != null) {
            ByteBuf joined = client.alloc().buffer(carry.readableBytes() + data.readableBytes());
            joined.writeBytes(carry).writeBytes(data);
            carry.release();
            data.release();
            carry = null;
            data = joined;
        }
        try {
            int i = data.readerIndex();
            final int end = data.writerIndex();
            int run = -1; // start of the run of bytes for the client
            while (i < end) {
                if (bodyLeft > 0) {
                    if (statusPending) {
                        status = data.getByte(i);
                        statusPending = false;
                        if (passing) {
                            onClientStatus.accept(status);
                        }
                    }
                    int n = (int) Math.min(bodyLeft, end - i);
                    if (errors.active()) {
                        errors.feed(data, i, i + n);
                    }
                    if (passing && run < 0) {
                        run = i;
                    } else if (!passing) {
                        run = write(client, data, run, i);
                    }
                    i += n;
                    bodyLeft -= n;
                    continue;
                }
                if (end - i < 5) {
                    run = write(client, data, run, i);
                    carry = data.retainedSlice(i, end - i);
                    return true;
                }
                byte type = data.getByte(i);
                int length = data.getInt(i + 1);
                if (length < 4) {
                    return false;
                }
                if (errors.active()) {
                    errors.end(); // the last ErrorResponse had no code
                }
                Expectations.Entry head = type == 'E' ? expect.head() : null;
                if (head != null && head.renameTo() != null) {
                    if (end - i < length + 1) {
                        run = write(client, data, run, i);
                        carry = data.retainedSlice(i, end - i);
                        return true;
                    }
                    expect.onMessage(type);
                    metrics.error(ErrorResponse.sqlStateOf(data.slice(i + 5, length - 4)));
                    run = write(client, data, run, i);
                    ByteBuf renamed = renamed(data.slice(i, length + 1), client, head.renameFrom(), head.renameTo());
                    forwarded += renamed.readableBytes();
                    client.write(renamed, client.voidPromise());
                    i += length + 1;
                    continue;
                }
                passing = expect.onMessage(type);
                if (type == 'Z') {
                    statusPending = length > 4;
                } else if (type == 'E') {
                    errors.start();
                }
                if (passing) {
                    if (run < 0) {
                        run = i;
                    }
                } else {
                    run = write(client, data, run, i);
                }
                i += 5;
                bodyLeft = length - 4L;
            }
            write(client, data, run, end);
            return true;
        } finally {
            data.release();
        }
    }

    /** Writes bytes {@code [run, to)} to the client, if there is a run; returns -1 (no run). */
    private int write(Channel client, ByteBuf data, int run, int to) {
        if (run >= 0 && to > run) {
            forwarded += to - run;
            client.write(data.retainedSlice(run, to - run), client.voidPromise());
        }
        return -1;
    }

    /** The ErrorResponse with the statement's name as the client knows it in its message. */
    private static ByteBuf renamed(ByteBuf error, Channel client, String renameFrom, String renameTo) {
        ByteBuf out = client.alloc().buffer(error.readableBytes() + 16);
        out.writeByte('E').writeInt(0);
        int i = error.readerIndex() + 5;
        int end = error.writerIndex();
        while (i < end && error.getByte(i) != 0) {
            byte code = error.getByte(i);
            int zero = error.indexOf(i + 1, end, (byte) 0);
            if (zero < 0) {
                break;
            }
            String value = error.toString(i + 1, zero - i - 1, StandardCharsets.ISO_8859_1);
            if (code == 'M') {
                value = value.replace("\"" + renameFrom + "\"", "\"" + renameTo + "\"");
            }
            out.writeByte(code).writeBytes(value.getBytes(StandardCharsets.ISO_8859_1)).writeByte(0);
            i = zero + 1;
        }
        out.writeByte(0);
        out.setInt(1, out.readableBytes() - 1);
        return out;
    }

    void release() {
        if (carry != null) {
            carry.release();
            carry = null;
        }
    }
}
