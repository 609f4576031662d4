package dev.pgmux.cli;

import dev.pgmux.config.ConfigError;
import dev.pgmux.config.ConfigException;
import dev.pgmux.config.ServerConfig;
import java.io.PrintWriter;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

/**
 * {@code pgmux check}: validates what {@code pgmux} would run with (the file, the PGMUX_* variables and the
 * flags), including that the TLS files can be read and used, and exits 0 if it is usable, 1 if not.
 */
@Command(name = "check", mixinStandardHelpOptions = true, versionProvider = Main.Version.class, sortOptions = false,
        description = "Validates the configuration and exits: 0 and \"config ok\" if pgmux can run with it,"
                + " 1 and one line per problem (file:line: key: message) if not.")
final class CheckCommand implements Callable<Integer> {

    @Mixin
    ServerOptions options = new ServerOptions();

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        ServerConfig config;
        try {
            config = options.source(System.getenv()).load();
        } catch (IllegalArgumentException e) {
            err.println("pgmux check: " + e.getMessage());
            return 1;
        } catch (ConfigException e) {
            for (ConfigError error : e.errors()) {
                err.println(error);
            }
            err.println("config invalid: " + e.errors().size() + (e.errors().size() == 1 ? " error" : " errors"));
            return 1;
        }
        int n = config.routes().size();
        String fixed = n + (n == 1 ? " route" : " routes") + (config.defaultRoute() == null ? "" : " and a default route");
        String router = config.router() == null ? "" : "router " + config.router().describe();
        out.println("config ok: " + (router.isEmpty() ? fixed
                : n == 0 && config.defaultRoute() == null ? router : fixed + ", " + router));
        return 0;
    }
}
