package dev.pgmux.session;

import dev.pgmux.metrics.ProxyMetrics;
import io.netty.buffer.ByteBuf;

/**
 * Finds the SQLSTATE of an ErrorResponse in its body as the bytes stream past, without holding any of them, and
 * counts its class (the first two characters) in {@link ProxyMetrics}. The body is a list of fields, each a type
 * byte and a C string, ended by a zero byte; the code is field {@code C} ("Error and Notice Message Fields" in the
 * protocol docs), which PostgreSQL sends third, after S and V: a few bytes into the body.
 */
final class ErrorClassScan {
    private enum Step { OFF, FIELD, VALUE, CODE_FIRST, CODE_SECOND }

    private final ProxyMetrics metrics;
    private Step step = Step.OFF;
    private char first;

    ErrorClassScan(ProxyMetrics metrics) {
        this.metrics = metrics;
    }

    /** An ErrorResponse's body starts with the next byte fed. */
    void start() {
        step = Step.FIELD;
    }

    /** Whether the code is still to be found in the body under way. */
    boolean active() {
        return step != Step.OFF;
    }

    /** The body under way ended (a body without a code is not counted). */
    void end() {
        step = Step.OFF;
    }

    /** Reads bytes {@code [from, to)} of the body, up to the code's class. */
    void feed(ByteBuf buf, int from, int to) {
        for (int i = from; i < to && step != Step.OFF; i++) {
            byte b = buf.getByte(i);
            switch (step) {
                case FIELD -> step = b == 0 ? Step.OFF : b == 'C' ? Step.CODE_FIRST : Step.VALUE;
                case VALUE -> {
                    if (b == 0) {
                        step = Step.FIELD;
                    }
                }
                case CODE_FIRST -> {
                    first = (char) b;
                    step = b == 0 ? Step.FIELD : Step.CODE_SECOND;
                }
                case CODE_SECOND -> {
                    if (b != 0) {
                        metrics.error(first, (char) b);
                    }
                    step = Step.OFF;
                }
                case OFF -> {
                }
            }
        }
    }
}
