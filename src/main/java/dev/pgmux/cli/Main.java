package dev.pgmux.cli;

import dev.pgmux.config.ConfigError;
import dev.pgmux.config.ConfigException;
import dev.pgmux.config.ConfigSource;
import dev.pgmux.config.ServerConfig;
import dev.pgmux.demo.DemoCommand;
import io.netty.util.ResourceLeakDetector;
import java.io.PrintWriter;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code pgmux}: runs the proxy from a YAML file, {@code PGMUX_*} environment variables and flags (each
 * overriding the one before); {@code pgmux check} validates the same; {@code pgmux demo} shows it working;
 * {@code pgmux passwd} prints a user's auth-file line with a SCRAM verifier.
 */
@Command(name = "pgmux", mixinStandardHelpOptions = true, versionProvider = Main.Version.class,
        description = "A PostgreSQL routing proxy: routes each client connection to a backend server by user name.",
        sortOptions = false, subcommands = {CheckCommand.class, DemoCommand.class, AotTrainCommand.class,
            InitRoutingTableCommand.class, PasswdCommand.class},
        footer = {"", "Signals: SIGHUP reloads the config file (it is also reloaded when it changes); SIGTERM or"
                + " SIGINT shut down gracefully, a second one at once.", "",
            "Rolling restart: start a second pgmux with the same configuration (it shares the ports and takes the"
                + " Unix sockets over), then send SIGTERM to the first."})
public final class Main implements Callable<Integer> {

    @Mixin
    ServerOptions options = new ServerOptions();

    @Option(names = "--no-watch", description = "Reload the config file only on SIGHUP, not when it changes.")
    boolean noWatch;

    @Spec
    CommandSpec spec;

    public static void main(String[] args) {
        disableLeakDetectionUnlessAsked();
        // Always exit explicitly: the admin HTTP server's dispatcher is not a daemon thread.
        System.exit(new CommandLine(new Main()).execute(args));
    }

    /**
     * Netty samples buffers for leak reports by default, at a cost measured at a fifth of pgmux's CPU time per
     * forwarded query (a stack trace per sampled buffer). The server turns that off; the tests run with the
     * paranoid level, and {@code -Dio.netty.leakDetection.level=...} still chooses.
     */
    static void disableLeakDetectionUnlessAsked() {
        if (System.getProperty("io.netty.leakDetection.level") == null
                && System.getProperty("io.netty.leakDetectionLevel") == null) {
            ResourceLeakDetector.setLevel(ResourceLeakDetector.Level.DISABLED);
        }
    }

    @Override
    public Integer call() throws Exception {
        PrintWriter err = spec.commandLine().getErr();
        ConfigSource source;
        String text;
        ServerConfig config;
        try {
            source = options.source(System.getenv());
            text = source.readFile();
            config = source.load(text);
        } catch (IllegalArgumentException e) {
            err.println("pgmux: " + e.getMessage());
            return 2;
        } catch (ConfigException e) {
            for (ConfigError error : e.errors()) {
                err.println("pgmux: " + error);
            }
            return 2;
        }
        Logging.apply(config.log());
        return new ServerProcess(source, config, text, !noWatch).run();
    }

    /** pgmux's version: the jar manifest's, or {@code dev} when run from compiled classes. */
    static String version() {
        String v = Main.class.getPackage().getImplementationVersion();
        return v == null ? "dev" : v;
    }

    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            return new String[] {"pgmux " + version()};
        }
    }
}
