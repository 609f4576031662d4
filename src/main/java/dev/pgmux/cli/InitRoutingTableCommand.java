package dev.pgmux.cli;

import dev.pgmux.routing.PostgresTableRouter;
import java.io.PrintWriter;
import java.sql.SQLException;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code pgmux init-routing-table}: creates the routing table of the {@code postgres} router, its trigger
 * functions and triggers in a control-plane database, leaving alone what already exists, and says what it did.
 * Exit 0 when the table is ready, 1 when PostgreSQL refused (cannot connect, no permission), 2 for bad arguments.
 */
@Command(name = "init-routing-table", mixinStandardHelpOptions = true, versionProvider = Main.Version.class,
        sortOptions = false,
        description = {
            "Creates the routing table (default pgmux_routes), its trigger functions and triggers in a"
                    + " control-plane PostgreSQL database, skipping what exists, so that a plain INSERT adds a"
                    + " route that every pgmux following the table applies within a second.",
            "Safe to run again: missing optional columns are added, function bodies are brought up to date,"
                    + " rows are never touched. The schema is described in docs/ROUTING-TABLE.md."
        })
final class InitRoutingTableCommand implements Callable<Integer> {

    @Option(names = "--dsn", required = true, paramLabel = "DSN",
            description = "The control-plane database: postgresql://USER:PASSWORD@HOST:PORT/DATABASE[?sslmode=...]"
                    + " or jdbc:postgresql://HOST:PORT/DATABASE?user=USER. Leave the password out to have it read"
                    + " from ~/.pgpass (or PGPASSFILE).")
    String dsn;

    @Option(names = "--table", paramLabel = "[SCHEMA.]NAME", defaultValue = "pgmux_routes",
            description = "The table to create. Default: ${DEFAULT-VALUE}.")
    String table;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        List<String> done;
        try {
            done = PostgresTableRouter.initTable(dsn, table);
        } catch (IllegalArgumentException e) {
            err.println("pgmux init-routing-table: " + e.getMessage());
            return 2;
        } catch (SQLException e) {
            err.println("pgmux init-routing-table: " + e.getMessage());
            return 1;
        }
        done.forEach(out::println);
        out.flush();
        return 0;
    }
}
