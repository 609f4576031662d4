package dev.pgmux.cli;

import dev.pgmux.ProxyServer;
import dev.pgmux.admin.AdminServer;
import dev.pgmux.admin.Metrics;
import dev.pgmux.metrics.ProxyCollector;
import dev.pgmux.config.ConfigSource;
import dev.pgmux.config.Durations;
import dev.pgmux.config.ServerConfig;
import java.io.IOException;
import java.net.BindException;
import java.time.Duration;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
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
 * <p>{@code /readyz} answers 200 only in READY, so a load balancer sees the drain begin. Under systemd
 * ({@code Type=notify}) READY and STOPPING are reported with {@code sd_notify}.
 *
 * <p>A rolling restart starts a second process with the same configuration while this one runs: the TCP ports are
 * shared ({@code SO_REUSEPORT}), the Unix sockets taken over (see {@link dev.pgmux.listen.Listeners}), and the admin
 * address, which cannot be shared (its answers are this process's own), is taken once the old process lets go of
 * it: until then the new process tries again every second.
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
    private volatile ConfigReloader reloader;
    private volatile AdminServer admin;
    /** What {@code /metrics} answers: one for the process, so that its sums go on across admin restarts. */
    private Metrics metrics;
    /** Tries to bind the admin address while the process this one replaces still holds it; null when not needed. */
    private volatile ScheduledFuture<?> adminRetry;

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
                .withCleartextWithoutTls(config.allowCleartextWithoutTls())
                .withProxyProtocol(config.proxyProtocol())
                .withConsole(config.console())
                .withAdminActions(new dev.pgmux.AdminActions() {
                    @Override
                    public String reload() {
                        return reloader.reloadForConsole("");
                    }

                    @Override
                    public void shutdown() {
                        shutdownFromConsole();
                    }
                });
        if (config.unixSocketDir() != null) {
            proxy.withUnixSocketDir(config.unixSocketDir(), config.unixSocketMode());
        }
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
        ScheduledExecutorService reloads = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "pgmux-config");
            t.setDaemon(true);
            return t;
        });
        if (config.adminListen() != null) {
            try {
                startAdmin();
            } catch (BindException e) {
                log.warn("admin_listen {} is in use (by the pgmux this one replaces?): trying again every second",
                        config.adminListen());
                adminRetry = reloads.scheduleWithFixedDelay(this::retryAdmin, 1, 1, TimeUnit.SECONDS);
            } catch (IOException | IllegalArgumentException e) {
                log.error("pgmux cannot start: {}", e.getMessage());
                reloads.shutdownNow();
                proxy.close(Duration.ZERO);
                routers.close();
                return 1;
            }
        }
        reloader = new ConfigReloader(source, config, configText, proxy, routers);
        installSignals(reloads);
        if (watchFile && source.file() != null) {
            reloads.scheduleWithFixedDelay(reloader::pollFile, FILE_POLL.toMillis(), FILE_POLL.toMillis(),
                    TimeUnit.MILLISECONDS);
        }
        state = State.READY;
        AdminServer adminNow = admin;
        log.info("pgmux {} started listen={}{} routes={} default_route={} admin={} config={} router={}", Main.version(),
                proxy.addresses(), proxy.unixSocketPaths().isEmpty() ? "" : " unix=" + proxy.unixSocketPaths(),
                config.routes().size(), config.defaultRoute() == null ? "none" : config.defaultRoute().address(),
                adminNow != null ? adminNow.address() : config.adminListen() == null ? "off" : "waiting",
                source.file() == null ? "none" : source.file(),
                config.router() == null ? "none" : config.router().describe());
        SystemdNotify.send("READY=1\nSTATUS=listening on " + proxy.addresses()
                + (proxy.unixSocketPaths().isEmpty() ? "" : " and " + proxy.unixSocketPaths()));

        proxy.awaitTermination();
        reloads.shutdownNow();
        reloader.closeRouters();
        adminNow = admin;
        if (adminNow != null) {
            adminNow.close();
        }
        return 0;
    }

    /** @throws BindException if the address is in use */
    private void startAdmin() throws IOException {
        if (metrics == null) {
            metrics = Metrics.withJvm(ProxyCollector.of(proxy, this::metricsPoolLabels, Main.version()));
        }
        try {
            admin = AdminServer.start(config.adminListen().toSocketAddress(), this::ready, metrics);
        } catch (IOException e) {
            if (e.getCause() instanceof BindException b && String.valueOf(b.getMessage()).contains("in use")) {
                throw b;
            }
            throw e;
        }
    }

    /** One more try at the admin address; stops trying once it is bound, cannot be, or the process stops. */
    private void retryAdmin() {
        if (state == State.STOPPING) {
            adminRetry.cancel(false);
            return;
        }
        try {
            startAdmin();
            adminRetry.cancel(false);
            log.info("admin endpoints listening on {} (taken over)", admin.address());
        } catch (BindException e) {
            // still in use: the next try comes in a second
        } catch (IOException | IllegalArgumentException e) {
            adminRetry.cancel(false);
            log.error("admin endpoints cannot listen, running without them: {}", e.getMessage());
        }
    }

    /** The running config's {@code metrics_pool_labels} (a reload may change it). */
    private int metricsPoolLabels() {
        ConfigReloader r = reloader;
        return r == null ? config.metricsPoolLabels() : r.running().metricsPoolLabels();
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

    /** SHUTDOWN on the console: a graceful shutdown as on SIGTERM; once one runs, another SHUTDOWN changes nothing. */
    private void shutdownFromConsole() {
        if (stopSignalled.compareAndSet(false, true)) {
            log.info("SHUTDOWN on the console: shutting down, running sessions get up to {}",
                    Durations.format(reloader.running().limits().shutdownTimeout()));
            beginStop();
        } else {
            log.info("SHUTDOWN on the console: already shutting down");
        }
    }

    /** The first stop signal starts a graceful shutdown; the next one ends the process at once. */
    private void stop(String signal) {
        if (stopSignalled.compareAndSet(false, true)) {
            log.info("SIG{} received: shutting down, running sessions get up to {} (send it again to stop at once)",
                    signal, Durations.format(reloader.running().limits().shutdownTimeout()));
            beginStop();
        } else {
            log.warn("second SIG{} received: stopping at once", signal);
            Runtime.getRuntime().halt(128 + Signals.number(signal));
        }
    }

    /**
     * A graceful shutdown from here on: readiness goes, systemd hears it, and the proxy drains on a thread of its
     * own (off a signal's thread, so that a second signal is delivered while this one drains).
     */
    private void beginStop() {
        state = State.STOPPING;
        SystemdNotify.send("STOPPING=1");
        Thread.ofPlatform().name("pgmux-shutdown").start(proxy::close);
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
