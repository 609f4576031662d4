package dev.pgmux.server;

import dev.pgmux.BackendConfig;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.time.Duration;
import java.util.Properties;

/**
 * A pgjdbc connection of pgmux's own to one backend host (role checks, credential look-ups), with the route's TLS
 * settings and one timeout for connecting, logging in and every read. Blocks: call it off event loops.
 */
public final class BackendJdbc {
    private BackendJdbc() {
    }

    /** Opens a connection; {@code password} may be null. */
    public static Connection connect(BackendConfig.Endpoint host, BackendConfig backend, String user, String password,
                                     String database, Duration timeout, String applicationName) throws SQLException {
        int seconds = timeoutSeconds(timeout);
        Properties p = new Properties();
        p.setProperty("user", user);
        if (password != null) {
            p.setProperty("password", password);
        }
        p.setProperty("sslmode", backend.sslMode().libpqName());
        if (backend.sslRootCert() != null) {
            p.setProperty("sslrootcert", backend.sslRootCert().toString());
        } else if (backend.sslMode() == dev.pgmux.SslMode.VERIFY_CA || backend.sslMode() == dev.pgmux.SslMode.VERIFY_FULL) {
            // pgmux's meaning of no sslrootcert: the JDK's trust store (pgjdbc's own is ~/.postgresql/root.crt); only
            // for the verifying modes: this factory checks every certificate
            p.setProperty("sslfactory", "org.postgresql.ssl.DefaultJavaSSLFactory");
        }
        p.setProperty("connectTimeout", Integer.toString(seconds));
        p.setProperty("loginTimeout", Integer.toString(seconds));
        p.setProperty("socketTimeout", Integer.toString(seconds));
        p.setProperty("ApplicationName", applicationName);
        p.setProperty("targetServerType", "any");
        String h = host.host().indexOf(':') >= 0 ? "[" + host.host() + "]" : host.host();
        String url = "jdbc:postgresql://" + h + ":" + host.port() + "/" + URLEncoder.encode(database, StandardCharsets.UTF_8);
        return DriverManager.getConnection(url, p);
    }

    /** A timeout in whole seconds, at least one, as pgjdbc's settings take it. */
    public static int timeoutSeconds(Duration timeout) {
        return (int) Math.max(1, (timeout.toMillis() + 999) / 1000);
    }
}
