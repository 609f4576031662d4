package dev.pgmux;

import java.net.InetSocketAddress;
import java.util.Map;

/**
 * What a {@link Router} knows about a new client connection when it must choose a backend.
 *
 * @param user            the user name from the startup message
 * @param database        the database from the startup message (defaults to the user name, as in PostgreSQL)
 * @param applicationName the {@code application_name} startup parameter, or null
 * @param parameters      all startup parameters, in the client's order
 * @param clientAddress   the client's address
 * @param sniHost         the TLS server name the client asked for, or null (no TLS, or no SNI)
 * @param tls             whether the client connection is TLS
 */
public record RouteRequest(String user, String database, String applicationName, Map<String, String> parameters,
                           InetSocketAddress clientAddress, String sniHost, boolean tls) {
    public RouteRequest {
        parameters = Map.copyOf(parameters);
    }

    /** A startup parameter by name, or null. */
    public String parameter(String name) {
        return parameters.get(name);
    }
}
