package dev.pgmux.config;

import dev.pgmux.BackendConfig;
import dev.pgmux.LoadBalanceHosts;
import dev.pgmux.SslMode;
import dev.pgmux.TargetSessionAttrs;
import dev.pgmux.TcpPort;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Routes ({@code routes:}, {@code default_route:}, a static router's) into backends, each error named by key. */
final class BackendValidator {
    private final Checks checks;

    BackendValidator(Checks checks) {
        this.checks = checks;
    }

    /** A map of user name to route ({@code routes:}); routes with errors are left out. */
    Map<String, BackendConfig> routes(Key key, Map<String, RawConfig.Route> raw) {
        Map<String, BackendConfig> routes = new LinkedHashMap<>();
        if (raw != null) {
            raw.forEach((user, route) -> {
                Key k = key.child(user);
                if (user.isBlank()) {
                    checks.error(k, "a route needs a user name");
                }
                BackendConfig backend = backend(k, route);
                if (backend != null) {
                    routes.put(user, backend);
                }
            });
        }
        return routes;
    }

    /** One route; null after an error. */
    BackendConfig backend(Key key, RawConfig.Route raw) {
        if (raw == null) {
            checks.error(key, "empty route: give host: and port:, or HOST:PORT");
            return null;
        }
        int errorsBefore = checks.count();
        boolean hasHost = raw.host() != null && !raw.host().isBlank();
        if (raw.hosts() != null && hasHost) {
            checks.error(key.child("hosts"), "give host: or hosts:, not both");
        } else if (raw.hosts() != null && raw.hosts().isEmpty()) {
            checks.error(key.child("hosts"), "empty: give at least one HOST[:PORT]");
        } else if (raw.hosts() == null && !hasHost) {
            checks.error(key.child("host"), "missing: every route needs a host (or hosts:)");
        }
        int port = raw.port() == null ? 5432 : raw.port();
        checks.check(key.child("port"), Integer.toString(port), TcpPort::parse);
        List<BackendConfig.Endpoint> hosts = new ArrayList<>();
        if (raw.hosts() != null) {
            for (int i = 0; i < raw.hosts().size(); i++) {
                String h = raw.hosts().get(i);
                BackendConfig.Endpoint e = h == null ? null : checks.check(key.child("hosts").index(i), h,
                        text -> BackendConfig.Endpoint.parse(text, TcpPort.isValid(port) ? port : 5432));
                if (h == null) {
                    checks.error(key.child("hosts").index(i), "empty host");
                } else if (e != null) {
                    hosts.add(e);
                }
            }
        }
        SslMode sslMode = raw.sslmode() == null ? SslMode.DISABLE : checks.check(key.child("sslmode"), raw.sslmode(), SslMode::parse);
        Path rootCert = raw.sslrootcert() == null ? null : checks.readableFile(key.child("sslrootcert"), raw.sslrootcert());
        TargetSessionAttrs attrs = raw.targetSessionAttrs() == null ? TargetSessionAttrs.ANY
                : checks.check(key.child("target_session_attrs"), raw.targetSessionAttrs(), TargetSessionAttrs::parse);
        LoadBalanceHosts balance = raw.loadBalanceHosts() == null ? LoadBalanceHosts.DISABLE
                : checks.check(key.child("load_balance_hosts"), raw.loadBalanceHosts(), LoadBalanceHosts::parse);
        if (raw.user() != null && raw.user().isBlank()) {
            checks.error(key.child("user"), "empty: leave it out to keep the client's user name");
        }
        if (raw.database() != null && raw.database().isBlank()) {
            checks.error(key.child("database"), "empty: leave it out to keep the client's database name");
        }
        if (checks.count() > errorsBefore) {
            return null;
        }
        BackendConfig.Builder b = BackendConfig.builder().user(raw.user()).database(raw.database()).sslMode(sslMode)
                .sslRootCert(rootCert).targetSessionAttrs(attrs).loadBalanceHosts(balance);
        if (raw.hosts() != null) {
            b.hosts(hosts);
        } else {
            b.host(raw.host().trim()).port(port);
        }
        if (raw.parameters() != null) {
            raw.parameters().forEach((name, value) -> b.parameter(name, value == null ? "" : value));
        }
        try {
            return b.build();
        } catch (IllegalArgumentException e) {
            checks.error(key.child("host"), e.getMessage());
            return null;
        }
    }
}
