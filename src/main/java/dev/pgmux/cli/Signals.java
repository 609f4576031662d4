package dev.pgmux.cli;

import dev.pgmux.ProxyServer;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.LoggerFactory;

/**
 * SIGTERM / SIGINT (Ctrl-C): a graceful shutdown; a second signal ends the process at once.
 */
final class Signals {
    private Signals() {
    }

    static void onShutdown(ProxyServer proxy) {
        AtomicBoolean first = new AtomicBoolean(true);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            if (first.getAndSet(false)) {
                LoggerFactory.getLogger(Signals.class).info("shutdown signal received");
                proxy.close();
            }
        }, "pgmux-shutdown"));
    }
}
