package dev.pgmux.config;

import dev.pgmux.AuthMode;
import dev.pgmux.BackendConfig;
import dev.pgmux.ClientAuthMethod;
import dev.pgmux.routing.BackendSpec;
import dev.pgmux.routing.BackendTemplate;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.Function;

/**
 * Routes ({@code routes:}, {@code default_route:}, a static router's) and pattern rules' backends: each is read by
 * {@link BackendSpec}, the one reader of backends, and each of its problems becomes an error of the key it names.
 * Being in the config file, they may name a backend password ({@code password_env}, {@code password_file}).
 */
final class BackendValidator {
    private final Checks checks;
    private final boolean authFile;

    /** @param authFile whether the config has an {@code auth_file}, where proxy routes find clients' credentials */
    BackendValidator(Checks checks, boolean authFile) {
        this.checks = checks;
        this.authFile = authFile;
    }

    /** A map of user name to route ({@code routes:}); routes with errors are left out. */
    Map<String, BackendConfig> routes(Key key, Map<String, BackendSpec> raw) {
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
    BackendConfig backend(Key key, BackendSpec raw) {
        if (raw == null) {
            checks.error(key, "empty route: give host: and port:, or HOST:PORT");
            return null;
        }
        BackendConfig backend = report(key, raw.parse(files(key), checks.environment()));
        if (backend != null) {
            clientsCanLogIn(key, backend.auth(), backend.clientAuthMethod(), backend.clientCredential());
        }
        return backend;
    }

    /** A pattern rule's backend, placeholders not yet filled in; null after an error. */
    BackendTemplate template(Key key, BackendSpec raw) {
        BackendTemplate template = report(key, raw.parseTemplate(files(key), checks.environment()));
        if (template != null) {
            clientsCanLogIn(key, template.auth(), template.clientAuthMethod(), template.clientCredential());
        }
        return template;
    }

    /** A proxy route whose method checks passwords, with nothing to check them against, would refuse every login. */
    private void clientsCanLogIn(Key key, AuthMode auth, ClientAuthMethod method, String clientCredential) {
        if (auth == AuthMode.PROXY && method.checksPassword() && clientCredential == null && !authFile) {
            checks.error(key.child("auth"), "proxy: pgmux authenticates clients, but there is nothing to check their"
                    + " passwords against: give client_password (`./pgmux passwd USER` makes one) or a top-level"
                    + " auth_file");
        }
    }

    /**
     * {@code sslrootcert} or {@code password_file} as a readable file, relative to the config file's directory when
     * it is from the file.
     */
    private Function<String, Path> files(Key key) {
        return name -> checks.readable(key.child("sslrootcert"), name);
    }

    private <T> T report(Key key, BackendSpec.Parsed<T> parsed) {
        for (BackendSpec.Problem p : parsed.problems()) {
            Key k = key.child(p.key());
            checks.error(p.index() >= 0 ? k.index(p.index()) : k, p.message());
        }
        return parsed.value();
    }
}
