package dev.pgmux.cli;

import dev.pgmux.BackendConfig;
import dev.pgmux.SslMode;
import java.nio.file.Path;

/**
 * Parses the command line's backend notation {@code [BACKENDUSER@]HOST:PORT[/DATABASE][?sslmode=MODE&sslrootcert=FILE]}
 * and routes {@code USER=BACKEND}.
 */
public final class RouteSpec {
    private RouteSpec() {
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
        int colon = rest.lastIndexOf(':');
        String host = rest;
        int port = 5432;
        if (colon >= 0 && (!rest.startsWith("[") || colon > rest.indexOf(']'))) {
            host = rest.substring(0, colon);
            try {
                port = Integer.parseInt(rest.substring(colon + 1));
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("bad port in backend " + spec);
            }
        }
        if (host.startsWith("[") && host.endsWith("]")) {
            host = host.substring(1, host.length() - 1);
        }
        if (host.isEmpty()) {
            throw new IllegalArgumentException("no host in backend " + spec);
        }
        return b.host(host).port(port).build();
    }
}
