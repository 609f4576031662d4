package dev.pgmux.cli;

import dev.pgmux.ProxyServer;
import dev.pgmux.admin.AdminServer;
import dev.pgmux.admin.Metrics;
import dev.pgmux.config.ConfigSource;
import dev.pgmux.config.Durations;
import dev.pgmux.config.ServerConfig;
import java.io.IOException;
import java.time.Duration;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * pgmux running as a server process: the proxy, the admin endpoints, reloads, and the signals that drive them.
 *
 * <pre>
 *   STARTING ──▶ READY ──SIGTERM/SIGINT──▶ STOPPING ──sessions done or timeouts.shutdown──▶ exit 0
 *                  │ ▲                        │
 *            SIGHUP│ │reloaded            second signal ──▶ halt, exit 128+signal
 *                  ▼ │ (or refused)
 * </pre>
 *
 * <p>{@code /readyz} answers 200 only in READY, so a load balancer sees the drain begin.
 */
final class ServerProcess {
    private static final Logger log = LoggerFactory.getLogger(ServerProcess.class);
    private static final Duration FILE_POLL = Duration.ofSeconds(1);

    private enum State { STARTING, READY, STOPPING }

    private final ConfigSource source;
    private final ServerConfig config;
    private final String configText;
    private final boolean watchFile;
    private final AtomicBoolean stopSignalled = new AtomicBoolean();
    private volatile State state = State.STARTING;
    private ProxyServer proxy;
    private ConfigReloader reloader;

    /**
     * @param configText the file's content that {@code config} was read from (null: no file)
     * @param watchFile  reload when the file changes, not only on SIGHUP
     */
    ServerProcess(ConfigSource source, ServerConfig config, String configText, boolean watchFile) {
        this.source = source;
        this.config = config;
        this.configText = configText;
        this.watchFile = watchFile;
    }

    /** Runs until shut down; returns the exit code. */
    int run() throws InterruptedException {
        LiveRouter routers;
        try {
            routers = LiveRouter.start(config.routing());
        } catch (RuntimeException e) {
            log.error("pgmux cannot start: router: {}", e.getMessage());
            return 1;
        }
        proxy = new ProxyServer(config.listen(), routers.router()).withLimits(config.limits())
                .withRoleCheck(config.roleCheck()).withCluster(config.cluster())
                .withHiddenUnknownUsers(config.hideUnknownUsers()).withAuthFile(config.authFile())
                .withCleartextWithoutTls(config.allowCleartextWithoutTls());
        if (config.threads() != null) {
            proxy.withThreads(config.threads());
        }
        if (config.tls() != null) {
            proxy.withTls(config.tlsConfig());
        }
        try {
            proxy.start();
        } catch (IOException e) {
            log.error("pgmux cannot start: {}", e.getMessage());
            routers.close();
            return 1;
        }
        AdminServer admin = null;
        if (config.adminListen() != null) {
            try {
                ProxyServer server = proxy;
                admin = AdminServer.start(config.adminListen().toSocketAddress(), this::ready,
                        () -> Metrics.format(server.stats(), server.poolStats(), Main.version()));
            } catch (IOException | IllegalArgumentException e) {
                log.error("pgmux cannot start: {}", e.getMessage());
                proxy.close(Duration.ZERO);
                routers.close();
                return 1;
            }
        }
        reloader = new ConfigReloader(source, config, configText, proxy, routers);
        ScheduledExecutorService reloads = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "pgmux-config");
            t.setDaemon(true);
            return t;
        });
        installSignals(reloads);
        if (watchFile && source.file() != null) {
            reloads.scheduleWithFixedDelay(reloader::pollFile, FILE_POLL.toMillis(), FILE_POLL.toMillis(),
                    TimeUnit.MILLISECONDS);
        }
        state = State.READY;
        log.info("pgmux {} started listen={} routes={} default_route={} admin={} config={} router={}", Main.version(),
                proxy.addresses(), config.routes().size(),
                config.defaultRoute() == null ? "none" : config.defaultRoute().address(),
                admin == null ? "off" : admin.address(), source.file() == null ? "none" : source.file(),
                config.router() == null ? "none" : config.router().describe());

        proxy.awaitTermination();
        reloads.shutdownNow();
        reloader.closeRouters();
        if (admin != null) {
            admin.close();
        }
        return 0;
    }

    private boolean ready() {
        if (state != State.READY) {
            return false;
        }
        return reloader.running().hasRoutes();
    }

    private void installSignals(ScheduledExecutorService reloads) {
        boolean term = Signals.handle("TERM", () -> stop("TERM"));
        boolean intr = Signals.handle("INT", () -> stop("INT"));
        if (!term || !intr) {
            // Without handlers the JVM runs shutdown hooks on these signals: still a graceful stop, but a second
            // signal cannot cut it short.
            Runtime.getRuntime().addShutdownHook(new Thread(this::stopInShutdownHook, "pgmux-shutdown"));
        }
        boolean hup = Signals.handle("HUP", () -> {
            try {
                reloads.execute(() -> reloader.reload("SIGHUP"));
            } catch (RejectedExecutionException e) {
                // shutting down: nothing left to reload
            }
        });
        if (!hup) {
            log.warn("SIGHUP cannot be handled (ignored by the parent process, as under nohup, or -Xrs):"
                    + " the config is reloaded only when its file changes");
        }
    }

    /** The first stop signal starts a graceful shutdown; the next one ends the process at once. */
    private void stop(String signal) {
        if (stopSignalled.compareAndSet(false, true)) {
            state = State.STOPPING;
            Duration timeout = reloader.running().limits().shutdownTimeout();
            log.info("SIG{} received: shutting down, running sessions get up to {} (send it again to stop at once)",
                    signal, Durations.format(timeout));
            // Off the signal thread, so that a second signal is delivered while this one drains.
            Thread.ofPlatform().name("pgmux-shutdown").start(proxy::close);
        } else {
            log.warn("second SIG{} received: stopping at once", signal);
            Runtime.getRuntime().halt(128 + Signals.number(signal));
        }
    }

    /** The JVM is exiting (a signal pgmux could not handle itself): drain here, the JVM waits for its hooks. */
    private void stopInShutdownHook() {
        if (stopSignalled.compareAndSet(false, true)) {
            state = State.STOPPING;
            log.info("shutdown signal received: shutting down, running sessions get up to {}",
                    Durations.format(reloader.running().limits().shutdownTimeout()));
            proxy.close();
        }
    }
}
