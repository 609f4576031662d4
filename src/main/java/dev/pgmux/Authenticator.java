package dev.pgmux;

import java.util.Objects;

/**
 * A hook of the application's own into the logins of routes with {@link AuthMode#PROXY}: a platform checks its
 * own tokens (a JWT sent as the password, say), or lets in and keeps out by client address, before or instead of
 * the stored credentials.
 *
 * <p>pgmux calls it once per login on such a route, on a virtual thread under a timeout, never on an event loop,
 * so it may block (an HTTP call, a key lookup). For {@link ClientAuthMethod#PASSWORD} it is called after the client
 * sent its password, which the request carries when the connection is TLS; for the other methods, before pgmux
 * asks the client for anything. A hook that throws or does not answer in time fails the login with FATAL 08006,
 * logged with the exception.
 *
 * <pre>{@code
 * Authenticator jwt = request -> request.password() == null ? Decision.PASS
 *         : tokens.valid(new String(request.password()), request.user()) ? Decision.ACCEPT
 *         : Decision.refuse("invalid token");
 * new ProxyServer("127.0.0.1:5434", router).withAuthenticator(jwt)
 * }</pre>
 */
@FunctionalInterface
public interface Authenticator {

    /**
     * Decides about one login. pgmux wipes {@link AuthRequest#password()} once this returns: copy what must outlive
     * the call.
     *
     * @throws Exception anything: the login fails with FATAL 08006 and the exception is logged (so let no password
     *                   or token into its message)
     */
    Decision authenticate(AuthRequest request) throws Exception;

    /** What the hook decided: let the client in, keep it out, or leave it to the route's own method. */
    sealed interface Decision permits Accept, Refuse, Pass {
        /** Lets the client in without checking it any further. */
        Decision ACCEPT = new Accept();
        /** Goes on with the route's method and stored credentials, as without a hook. */
        Decision PASS = new Pass();

        /** Keeps the client out with PostgreSQL's message for a failed login. */
        static Decision refuse() {
            return new Refuse(null);
        }

        /** Keeps the client out with this message (shown to the client, so it must not help an attacker). */
        static Decision refuse(String message) {
            return new Refuse(Objects.requireNonNull(message, "message"));
        }
    }

    /** The client is in; pgmux logs in to the backend with the route's backend password. */
    record Accept() implements Decision {
    }

    /**
     * The client is out: FATAL 28P01 when it sent a password (a wrong password, as far as it can tell), else 28000.
     *
     * @param message what the client reads, or null for {@code password authentication failed for user "NAME"}
     *                (28P01) or {@code authentication failed for user "NAME"} (28000)
     */
    record Refuse(String message) implements Decision {
    }

    /** The route's own method decides, against the stored credentials. */
    record Pass() implements Decision {
    }
}
