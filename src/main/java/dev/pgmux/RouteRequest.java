package dev.pgmux;

import java.net.InetSocketAddress;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;

/**
 * What a {@link Router} knows about a new client connection when it must choose a backend.
 *
 * @param user            the user name from the startup message
 * @param database        the database from the startup message (defaults to the user name, as in PostgreSQL)
 * @param applicationName the {@code application_name} startup parameter, or null
 * @param parameters      all startup parameters, in the client's order (an unmodifiable copy)
 * @param clientAddress   the client's address: the one in the PROXY header of a trusted load balancer (see
 *                        {@link ProxyProtocol}), else the connection's peer; null for a client on a Unix-domain
 *                        socket, as PostgreSQL shows such clients with a {@code client_addr} of NULL
 * @param sniHost         the TLS server name the client asked for, or null (no TLS, or no SNI); where TLS at pgmux
 *                        gives none, the authority (the client's SNI at the balancer) that a trusted load balancer's
 *                        PROXY v2 header passed on
 * @param tls             whether the client connection is TLS
 */
public record RouteRequest(String user, String database, String applicationName, Map<String, String> parameters,
                           InetSocketAddress clientAddress, String sniHost, boolean tls) {
    public RouteRequest {
        // Map.copyOf would lose the order; a router may care which parameter the client sent first.
        Map<String, String> copy = new LinkedHashMap<>();
        parameters.forEach((name, value) -> copy.put(Objects.requireNonNull(name, "parameter name"),
                Objects.requireNonNull(value, "parameter value")));
        parameters = Collections.unmodifiableMap(copy);
    }

    /** A startup parameter by name, or null. */
    public String parameter(String name) {
        return parameters.get(name);
    }
}
