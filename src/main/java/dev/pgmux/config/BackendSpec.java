package dev.pgmux.config;

import dev.pgmux.BackendConfig;
import dev.pgmux.LoadBalanceHosts;
import dev.pgmux.SslMode;
import dev.pgmux.TargetSessionAttrs;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The one-line backend notation {@code [BACKENDUSER@]HOST:PORT[,HOST:PORT...][/DATABASE][?sslmode=MODE&sslrootcert=FILE
 * &target_session_attrs=ATTRS&load_balance_hosts=MODE&NAME=VALUE]}
 * of the {@code --route} and {@code --default-route} flags, also accepted as a route's value in the config file,
 * and the flag's {@code USER=BACKEND} routes. Other {@code NAME=VALUE} options become startup parameters.
 */
public final class BackendSpec {
    private BackendSpec() {
    }

    /** A {@code USER=BACKEND} route. */
    public record Route(String user, BackendConfig backend) {
    }

    public static Route parseRoute(String spec) {
        int eq = spec.indexOf('=');
        if (eq <= 0) {
            throw new IllegalArgumentException("route must look like USER=[BACKENDUSER@]HOST:PORT[/DATABASE]: " + spec);
        }
        return new Route(spec.substring(0, eq), parseBackend(spec.substring(eq + 1)));
    }

    public static BackendConfig parseBackend(String spec) {
        String rest = spec.trim();
        BackendConfig.Builder b = BackendConfig.builder();
        int q = rest.indexOf('?');
        if (q >= 0) {
            for (String kv : rest.substring(q + 1).split("&")) {
                int eq = kv.indexOf('=');
                if (eq <= 0) {
                    throw new IllegalArgumentException("bad option \"" + kv + "\" in backend " + spec);
                }
                String key = kv.substring(0, eq);
                String value = kv.substring(eq + 1);
                switch (key) {
                    case "sslmode" -> b.sslMode(SslMode.parse(value));
                    case "sslrootcert" -> b.sslRootCert(Path.of(value));
                    case "target_session_attrs" -> b.targetSessionAttrs(TargetSessionAttrs.parse(value));
                    case "load_balance_hosts" -> b.loadBalanceHosts(LoadBalanceHosts.parse(value));
                    default -> b.parameter(key, value);
                }
            }
            rest = rest.substring(0, q);
        }
        int at = rest.lastIndexOf('@');
        if (at >= 0) {
            if (at == 0) {
                throw new IllegalArgumentException("empty backend user in " + spec);
            }
            b.user(rest.substring(0, at));
            rest = rest.substring(at + 1);
        }
        int slash = rest.indexOf('/', rest.startsWith("[") ? rest.indexOf(']') : 0);
        if (slash >= 0) {
            String db = rest.substring(slash + 1);
            if (!db.isEmpty()) {
                b.database(db);
            }
            rest = rest.substring(0, slash);
        }
        List<BackendConfig.Endpoint> hosts = new ArrayList<>();
        for (String h : rest.split(",", -1)) {
            hosts.add(BackendConfig.Endpoint.parse(h, 5432, "backend " + spec));
        }
        return b.hosts(hosts).build();
    }
}
