package dev.pgmux;

import java.net.InetSocketAddress;
import java.util.Objects;

/**
 * What an {@link Authenticator} knows about a login.
 *
 * @param user          the user name from the client's startup message
 * @param database      the database from the startup message (the user name when it names none, as in PostgreSQL)
 * @param route         the backend the router chose, with its {@link BackendConfig#clientAuthMethod()}
 * @param clientAddress the client's address, or null when the transport has none
 * @param tls           whether the client connection is TLS
 * @param password      the password the client sent in cleartext: only with {@link ClientAuthMethod#PASSWORD} over
 *                      TLS, else null. Wiped once {@link Authenticator#authenticate} returns
 */
public record AuthRequest(String user, String database, BackendConfig route, InetSocketAddress clientAddress,
                          boolean tls, char[] password) {

    public AuthRequest {
        Objects.requireNonNull(user, "user");
        Objects.requireNonNull(route, "route");
    }

    /** As a record prints itself, but with the password as {@code ***}. */
    @Override
    public String toString() {
        return "AuthRequest[user=" + user + ", database=" + database + ", route=" + route + ", clientAddress="
                + clientAddress + ", tls=" + tls + ", password=" + (password == null ? null : "***") + "]";
    }
}
