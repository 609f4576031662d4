package dev.pgmux.routing;

import dev.pgmux.RouteRequest;
import java.net.InetSocketAddress;
import java.util.Arrays;
import java.util.Locale;
import java.util.stream.Collectors;

/**
 * A value of a new connection that a router matches on or sends to a routing service, named as in the config
 * file ({@code user}, {@code database}, {@code application_name}, {@code sni}, {@code client_addr}).
 */
public enum RequestField {
    USER("user"),
    DATABASE("database"),
    APPLICATION_NAME("application_name"),
    SNI("sni"),
    CLIENT_ADDR("client_addr");

    private final String key;

    RequestField(String key) {
        this.key = key;
    }

    /** The name in the config file and in the HTTP router's query string. */
    public String key() {
        return key;
    }

    /** @throws IllegalArgumentException naming the known keys */
    public static RequestField ofKey(String key) {
        for (RequestField f : values()) {
            if (f.key.equals(key)) {
                return f;
            }
        }
        throw new IllegalArgumentException("unknown field \"" + key + "\" (" + Arrays.stream(values())
                .map(RequestField::key).collect(Collectors.joining(", ")) + ")");
    }

    /**
     * This field of a connection, or null when it has none (no {@code application_name}, no TLS SNI). The SNI
     * host name is lower-cased: host names compare without case (RFC 6066, section 3), clients send either.
     * The client address is the IP address alone, without brackets or port.
     */
    public String valueOf(RouteRequest request) {
        return switch (this) {
            case USER -> request.user();
            case DATABASE -> request.database();
            case APPLICATION_NAME -> request.applicationName();
            case SNI -> request.sniHost() == null ? null : request.sniHost().toLowerCase(Locale.ROOT);
            case CLIENT_ADDR -> address(request.clientAddress());
        };
    }

    private static String address(InetSocketAddress a) {
        if (a == null) {
            return null;
        }
        return a.getAddress() == null ? a.getHostString() : a.getAddress().getHostAddress();
    }
}
