package dev.pgmux.server;

import dev.pgmux.BackendConfig;
import dev.pgmux.RoleCheck;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import org.postgresql.PGConnection;

/** Logs in to one backend host with the {@link RoleCheck} credentials and reads its role. Blocks: call it off event loops. */
final class RoleProbe {
    private RoleProbe() {
    }

    static HostSelector.Role probe(BackendConfig.Endpoint host, BackendConfig backend, RoleCheck check, Duration timeout)
            throws SQLException {
        try (Connection c = BackendJdbc.connect(host, backend, check.user(), check.password(), check.database(), timeout,
                "pgmux role check")) {
            PGConnection pg = c.unwrap(PGConnection.class);
            String standby = pg.getParameterStatus("in_hot_standby");
            String readOnly = pg.getParameterStatus("default_transaction_read_only");
            if (standby == null || readOnly == null) { // before PostgreSQL 14: ask
                try (Statement s = c.createStatement();
                     ResultSet rs = s.executeQuery("select pg_is_in_recovery(), current_setting('default_transaction_read_only')")) {
                    rs.next();
                    return new HostSelector.Role(rs.getBoolean(1), "on".equals(rs.getString(2)));
                }
            }
            return new HostSelector.Role("on".equals(standby), "on".equals(readOnly));
        }
    }
}
