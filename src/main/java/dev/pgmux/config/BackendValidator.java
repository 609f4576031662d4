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
    private final Context context;

    /**
     * What the rest of the config offers a route's clients.
     *
     * @param authFile            an {@code auth_file}, where proxy routes find clients' credentials
     * @param tls                 TLS toward clients ({@code tls.cert} and {@code tls.key})
     * @param clientCa            {@code tls.client_ca}, without which no client has a verified certificate
     * @param cleartextWithoutTls {@code allow_cleartext_without_tls}
     * @param authUser            the top-level {@code auth_user}, or null: the proxy routes' that set none
     * @param authQuery           the top-level {@code auth_query}, or null: the proxy routes' that set none
     */
    record Context(boolean authFile, boolean tls, boolean clientCa, boolean cleartextWithoutTls, String authUser,
                   String authQuery) {
    }

    BackendValidator(Checks checks, Context context) {
        this.checks = checks;
        this.context = context;
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
        if (backend != null && backend.auth() == AuthMode.PROXY) {
            // The top-level auth_user and auth_query are the proxy routes' that set none (PgBouncer's [databases]
            // entries override its [pgbouncer] section the same way).
            String user = backend.authUser() != null ? backend.authUser() : context.authUser();
            String query = backend.authQuery() != null ? backend.authQuery() : context.authQuery();
            backend = backend.toBuilder().authUser(user).authQuery(query).build();
            if (!lookupPossible(key, user, query)) {
                clientsCanLogIn(key, backend.auth(), backend.clientAuthMethod(), backend.clientCredential());
            }
        }
        return backend;
    }

    /** A pattern rule's backend, placeholders not yet filled in; null after an error. */
    BackendTemplate template(Key key, BackendSpec raw) {
        BackendTemplate t = report(key, raw.parseTemplate(files(key), checks.environment()));
        if (t != null && t.auth() == AuthMode.PROXY) {
            String user = t.authUser() != null ? t.authUser() : context.authUser();
            String query = t.authQuery() != null ? t.authQuery() : context.authQuery();
            t = new BackendTemplate(t.host(), t.port(), t.user(), t.database(), t.parameters(), t.sslMode(),
                    t.sslRootCert(), t.targetSessionAttrs(), t.loadBalanceHosts(), t.auth(), t.clientAuthMethod(),
                    t.clientCredential(), t.password(), user, query, t.pool());
            if (!lookupPossible(key, user, query)) {
                clientsCanLogIn(key, t.auth(), t.clientAuthMethod(), t.clientCredential());
            }
        }
        return t;
    }

    /**
     * auth_query is run as auth_user, whose password is in the auth file; whether auth_user is set (then it is what
     * clients are checked against, and its own errors say what is missing).
     */
    private boolean lookupPossible(Key key, String authUser, String authQuery) {
        if (authQuery != null && authUser == null) {
            checks.error(key.child("auth_query"), "is run as auth_user: give auth_user (here or at the top level)");
        }
        if (authUser != null && !context.authFile()) {
            checks.error(key.child("auth_user"), "its password is read from the auth_file: give a top-level"
                    + " auth_file with a line for \"" + authUser + "\"");
        }
        return authUser != null;
    }

    /** A proxy route whose clients could never log in (so the config is wrong) is an error. */
    private void clientsCanLogIn(Key key, AuthMode auth, ClientAuthMethod method, String clientCredential) {
        if (auth != AuthMode.PROXY) {
            return;
        }
        if (method.checksPassword() && clientCredential == null && !context.authFile()) {
            checks.error(key.child("auth"), "proxy: pgmux authenticates clients, but there is nothing to check their"
                    + " passwords against: give client_password (`./pgmux passwd USER` makes one) or a top-level"
                    + " auth_file");
        }
        if (method == ClientAuthMethod.PASSWORD && !context.tls() && !context.cleartextWithoutTls()) {
            checks.error(key.child("client_auth_method"), "password: clients send their password in cleartext,"
                    + " which pgmux takes over TLS only: configure tls (cert, key), or set allow_cleartext_without_tls:"
                    + " true");
        }
        if (method == ClientAuthMethod.CERT && !context.clientCa()) {
            checks.error(key.child("client_auth_method"), "cert: no client has a verified certificate without"
                    + " tls.client_ca, the CA certificates that sign them");
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
