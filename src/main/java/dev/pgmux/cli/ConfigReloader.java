package dev.pgmux.cli;

import dev.pgmux.ProxyServer;
import dev.pgmux.config.ConfigDiff;
import dev.pgmux.config.ConfigError;
import dev.pgmux.config.ConfigException;
import dev.pgmux.config.ConfigSource;
import dev.pgmux.config.ServerConfig;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Objects;
import java.util.stream.Collectors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Reloads the configuration into a running proxy, on SIGHUP or when the file (or its {@code auth_file}) changes.
 * New routes, routers, limits, TLS settings and the auth file apply to new connections; running sessions keep
 * their backend. Every reload reads the auth file again. A config that does not validate, whose routers do not
 * start, or whose TLS files do not load, changes nothing. Runs on its own thread, never on an event loop.
 */
final class ConfigReloader {
    private static final Logger log = LoggerFactory.getLogger(ConfigReloader.class);

    private final ConfigSource source;
    private final ProxyServer proxy;
    private volatile ServerConfig running;
    private LiveRouter routers;
    /** The file's content as last read (applied or refused), so that a mere touch does not reload. */
    private String lastText;
    private String fileStamp;
    /** The running auth file's modification time and size, or "" for none. */
    private String authFileStamp;

    ConfigReloader(ConfigSource source, ServerConfig running, String runningText, ProxyServer proxy,
                   LiveRouter routers) {
        this.source = source;
        this.running = running;
        this.lastText = runningText;
        this.proxy = proxy;
        this.routers = routers;
        // Unknown: the first poll reads the file and compares it with runningText, so that a change made
        // while pgmux was starting is not missed.
        this.fileStamp = "";
        // Known: read with the running config just now.
        this.authFileStamp = authFileStamp();
    }

    /** The config in effect; cheap, for every /readyz probe. */
    ServerConfig running() {
        return running;
    }

    /**
     * Checks the modification time and size of the file and of the auth file; reloads if the file's content
     * changed, or the auth file's time or size.
     */
    synchronized void pollFile() {
        String now = stamp();
        String authNow = authFileStamp();
        boolean authFileChanged = !authNow.equals(authFileStamp);
        if (now.equals(fileStamp) && !authFileChanged) {
            return;
        }
        fileStamp = now;
        authFileStamp = authNow;
        String text;
        try {
            text = source.readFile();
        } catch (ConfigException e) {
            refuse("file change", e.errors());
            return;
        }
        if (!Objects.equals(text, lastText)) {
            apply("file change", text);
        } else if (authFileChanged) {
            apply("auth_file change", text);
        }
    }

    /** Reloads unconditionally (SIGHUP): also rebuilds the TLS context, for certificate files replaced in place. */
    synchronized void reload(String trigger) {
        fileStamp = stamp();
        String text;
        try {
            text = source.readFile();
        } catch (ConfigException e) {
            refuse(trigger, e.errors());
            return;
        }
        apply(trigger, text);
    }

    private void apply(String trigger, String text) {
        lastText = text;
        ServerConfig next;
        try {
            next = source.load(text);
        } catch (ConfigException e) {
            refuse(trigger, e.errors());
            return;
        }
        ConfigDiff diff = ConfigDiff.between(running, next);
        // Routers and TLS first: they are the steps that can still fail, and nothing may have changed when they do.
        LiveRouter nextRouters = null;
        if (diff.routingChanged()) {
            try {
                nextRouters = routers.next(next.routing());
            } catch (RuntimeException e) {
                refuse(trigger, List.of(new ConfigError(String.valueOf(source.file()), "router", e.getMessage())));
                return;
            }
        }
        if (next.tls() != null || diff.tlsChanged()) {
            try {
                proxy.tls(next.tlsConfig());
            } catch (IOException | IllegalArgumentException e) {
                if (nextRouters != null) {
                    nextRouters.retire(routers);
                }
                refuse(trigger, List.of(new ConfigError("tls", "tls.cert", e.getMessage())));
                return;
            }
        }
        if (diff.limitsChanged()) {
            proxy.limits(next.limits());
        }
        proxy.roleCheck(next.roleCheck());
        proxy.hideUnknownUsers(next.hideUnknownUsers());
        proxy.authFile(next.authFile());
        proxy.cleartextWithoutTls(next.allowCleartextWithoutTls());
        proxy.proxyProtocol(next.proxyProtocol());
        proxy.console(next.console());
        try {
            proxy.cluster(next.cluster());
        } catch (IllegalArgumentException e) {
            // cluster.instance_id changed: listed in needRestart below; the running instance keeps its peers
        }
        if (nextRouters != null) {
            proxy.router(nextRouters.router());
            Duration routerTimeout = running.limits().routerTimeout().compareTo(next.limits().routerTimeout()) > 0
                    ? running.limits().routerTimeout() : next.limits().routerTimeout();
            retireLater(routers, nextRouters, routerTimeout);
            routers = nextRouters;
        }
        if (diff.logChanged()) {
            Logging.apply(next.log());
        }
        for (String key : diff.needRestart()) {
            log.warn("config reload: {} changed but applies only at start: restart pgmux to use it", key);
        }
        running = next.withStartOnlySettingsOf(running);
        authFileStamp = authFileStamp();
        lastSummary = "config reloaded: " + diff.summary();
        log.info("config reloaded: {} trigger={}{}{}{}", diff.summary(), trigger, names(" added", diff.routesAdded()),
                names(" removed", diff.routesRemoved()), names(" changed", diff.routesChanged()));
    }

    /**
     * Closes the replaced routers once no connection can still be asking them: a session takes the router when
     * it starts routing and gives up after the router timeout.
     */
    private static void retireLater(LiveRouter old, LiveRouter successor, Duration routerTimeout) {
        Thread.ofVirtual().name("pgmux-router-retire").start(() -> {
            try {
                Thread.sleep(routerTimeout.plusSeconds(1));
            } catch (InterruptedException e) {
                // closing now is fine too
            }
            old.retire(successor);
        });
    }

    /** Closes the routers in use; at shutdown, once the proxy has stopped. */
    synchronized void closeRouters() {
        routers.close();
    }

    private static String names(String label, List<String> users) {
        return users.isEmpty() ? "" : label + "=" + users;
    }

    /** What the last reload refused, for the console's RELOAD; null after one that applied. */
    private String lastRefusal;

    /**
     * Reloads unconditionally for the console's RELOAD: the summary of what changed.
     *
     * @throws IllegalStateException with the errors when the new config was refused (the running one stays)
     */
    synchronized String reloadForConsole(String who) {
        lastRefusal = null;
        reload("console RELOAD " + who);
        if (lastRefusal != null) {
            throw new IllegalStateException(lastRefusal);
        }
        return lastSummary;
    }

    private String lastSummary = "";

    private void refuse(String trigger, List<ConfigError> errors) {
        lastRefusal = errors.stream().map(ConfigError::toString).collect(Collectors.joining("; "));
        log.error("config reload refused, keeping the running config: trigger={} errors=[{}]", trigger,
                errors.stream().map(ConfigError::toString).collect(Collectors.joining("; ")));
    }

    private String stamp() {
        return source.file() == null ? "" : stamp(source.file());
    }

    private String authFileStamp() {
        return running.authFile() == null ? "" : stamp(running.authFile().path());
    }

    private static String stamp(Path file) {
        try {
            return Files.getLastModifiedTime(file) + "/" + Files.size(file);
        } catch (IOException e) {
            return "missing";
        }
    }
}
