package dev.pgmux.testing;

import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.AppenderBase;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.PooledByteBufAllocator;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * Fails a test class when Netty's leak detector (paranoid in tests) reported a buffer that was never released.
 * Registered for every test class (junit-platform.properties); the logback appender below collects the reports.
 */
public final class LeakCheck implements AfterAllCallback {
    private static final List<String> LEAKS = new CopyOnWriteArrayList<>();

    /** Logback appender that keeps Netty's "LEAK:" reports. */
    public static final class Collector extends AppenderBase<ILoggingEvent> {
        @Override
        protected void append(ILoggingEvent event) {
            String message = event.getFormattedMessage();
            if (message != null && message.contains("LEAK:")) {
                LEAKS.add(message);
            }
        }
    }

    @Override
    public void afterAll(ExtensionContext context) throws Exception {
        // Leaks are detected when a leaked buffer's wrapper is collected and a later allocation polls the queue.
        for (int i = 0; i < 3; i++) {
            System.gc();
            Thread.sleep(50);
            for (int j = 0; j < 64; j++) {
                ByteBuf b = PooledByteBufAllocator.DEFAULT.buffer(16);
                b.release();
            }
        }
        if (!LEAKS.isEmpty()) {
            String first = LEAKS.get(0);
            int n = LEAKS.size();
            LEAKS.clear();
            throw new AssertionError(n + " ByteBuf leak(s) reported by Netty; first:\n" + first);
        }
    }
}
