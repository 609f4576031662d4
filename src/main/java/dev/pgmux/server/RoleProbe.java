package dev.pgmux.server;

import dev.pgmux.BackendConfig;
import dev.pgmux.RoleCheck;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.Properties;
import org.postgresql.PGConnection;

/** Logs in to one backend host with the {@link RoleCheck} credentials and reads its role. Blocks: call it off event loops. */
final class RoleProbe {
    private RoleProbe() {
    }

    static HostSelector.Role probe(BackendConfig.Endpoint host, BackendConfig backend, RoleCheck check, Duration timeout)
            throws SQLException {
        int seconds = (int) Math.max(1, (timeout.toMillis() + 999) / 1000);
        Properties p = new Properties();
        p.setProperty("user", check.user());
        if (check.password() != null) {
            p.setProperty("password", check.password());
        }
        p.setProperty("sslmode", backend.sslMode().libpqName());
        if (backend.sslRootCert() != null) {
            p.setProperty("sslrootcert", backend.sslRootCert().toString());
        }
        p.setProperty("connectTimeout", Integer.toString(seconds));
        p.setProperty("loginTimeout", Integer.toString(seconds));
        p.setProperty("socketTimeout", Integer.toString(seconds));
        p.setProperty("ApplicationName", "pgmux role check");
        p.setProperty("targetServerType", "any");
        String h = host.host().indexOf(':') >= 0 ? "[" + host.host() + "]" : host.host();
        String url = "jdbc:postgresql://" + h + ":" + host.port() + "/"
                + URLEncoder.encode(check.database(), StandardCharsets.UTF_8);
        try (Connection c = DriverManager.getConnection(url, p)) {
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
