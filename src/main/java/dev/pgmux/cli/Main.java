package dev.pgmux.cli;

import dev.pgmux.BackendConfig;
import dev.pgmux.Limits;
import dev.pgmux.ProxyServer;
import dev.pgmux.StaticRouter;
import dev.pgmux.TlsConfig;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code pgmux}: runs the proxy with routes given as flags. */
@Command(name = "pgmux", mixinStandardHelpOptions = true, versionProvider = Main.Version.class,
        description = "A PostgreSQL routing proxy: routes each client connection to a backend server by user name.",
        sortOptions = false)
public final class Main implements Callable<Integer> {

    @Option(names = "--listen", paramLabel = "HOST:PORT", description = "Address to listen on (repeatable). Default: ${DEFAULT-VALUE}.",
            defaultValue = "127.0.0.1:5434")
    List<String> listen = new ArrayList<>();

    @Option(names = "--route", paramLabel = "USER=[BACKENDUSER@]HOST:PORT[/DATABASE]",
            description = "Route a user to a backend (repeatable). Without BACKENDUSER@ the user name is kept.")
    List<String> routes = new ArrayList<>();

    @Option(names = "--default-route", paramLabel = "[BACKENDUSER@]HOST:PORT[/DATABASE]",
            description = "Backend for users without a route of their own.")
    String defaultRoute;

    @Option(names = "--tls-cert", paramLabel = "FILE", description = "Server certificate (PEM) for client TLS.")
    Path tlsCert;

    @Option(names = "--tls-key", paramLabel = "FILE", description = "Private key (PEM, PKCS#8) for client TLS.")
    Path tlsKey;

    @Option(names = "--tls-required", description = "Refuse clients that do not use TLS.")
    boolean tlsRequired;

    @Option(names = "--max-client-connections", paramLabel = "N", defaultValue = "10000",
            description = "Client connections at once (0: unlimited). Default: ${DEFAULT-VALUE}.")
    int maxClientConnections;

    @Option(names = "--max-connections-per-ip", paramLabel = "N", defaultValue = "0",
            description = "Client connections at once from one address (0: unlimited). Default: ${DEFAULT-VALUE}.")
    int maxConnectionsPerIp;

    @Option(names = "--login-timeout", paramLabel = "SECONDS", defaultValue = "15",
            description = "Seconds a client has to log in. Default: ${DEFAULT-VALUE}.")
    int loginTimeout;

    @Option(names = "--shutdown-timeout", paramLabel = "SECONDS", defaultValue = "30",
            description = "Seconds running sessions get to finish on shutdown. Default: ${DEFAULT-VALUE}.")
    int shutdownTimeout;

    @Option(names = "--threads", paramLabel = "N", description = "I/O threads (default: one per CPU).")
    Integer threads;

    public static void main(String[] args) {
        int code = new CommandLine(new Main()).execute(args);
        if (code != 0) {
            System.exit(code);
        }
    }

    @Override
    public Integer call() throws Exception {
        Map<String, BackendConfig> table = new LinkedHashMap<>();
        for (String spec : routes) {
            RouteSpec.Route r = RouteSpec.parseRoute(spec);
            table.put(r.user(), r.backend());
        }
        if (table.isEmpty() && defaultRoute == null) {
            System.err.println("pgmux: no routes: give --route USER=HOST:PORT or --default-route HOST:PORT");
            return 2;
        }
        StaticRouter router = StaticRouter.of(table);
        if (defaultRoute != null) {
            router.withFallback(RouteSpec.parseBackend(defaultRoute));
        }
        Limits limits = Limits.DEFAULT.withMaxClientConnections(maxClientConnections)
                .withMaxConnectionsPerIp(maxConnectionsPerIp)
                .withLoginTimeout(Duration.ofSeconds(loginTimeout))
                .withShutdownTimeout(Duration.ofSeconds(shutdownTimeout));
        ProxyServer proxy = new ProxyServer(listen, router).withLimits(limits);
        if (threads != null) {
            proxy.withThreads(threads);
        }
        if (tlsCert != null || tlsKey != null) {
            if (tlsCert == null || tlsKey == null) {
                System.err.println("pgmux: --tls-cert and --tls-key go together");
                return 2;
            }
            proxy.withTls(TlsConfig.fromPemFiles(tlsCert, tlsKey).withRequired(tlsRequired));
        } else if (tlsRequired) {
            System.err.println("pgmux: --tls-required needs --tls-cert and --tls-key");
            return 2;
        }
        try {
            proxy.start();
        } catch (java.io.IOException e) {
            System.err.println("pgmux: " + e.getMessage());
            return 1;
        }
        Signals.onShutdown(proxy);
        proxy.awaitTermination();
        return 0;
    }

    /** The version from the jar manifest. */
    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            String v = Main.class.getPackage().getImplementationVersion();
            return new String[] {"pgmux " + (v == null ? "dev" : v)};
        }
    }
}
