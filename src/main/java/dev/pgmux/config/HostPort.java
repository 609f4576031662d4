package dev.pgmux.config;

import dev.pgmux.TcpPort;
import java.net.InetSocketAddress;

/**
 * A listen address as written: {@code host:port}, {@code [v6]:port}, or {@code *:port} for all interfaces. Parsing
 * does no DNS lookup, so a config check is quick and the same on any machine.
 *
 * @param host the host without brackets; empty for all interfaces
 */
public record HostPort(String host, int port) {

    public static HostPort parse(String address) {
        String a = address == null ? "" : address.trim();
        int colon = a.lastIndexOf(':');
        if (colon < 0 || (a.startsWith("[") && colon < a.indexOf(']'))) {
            throw new IllegalArgumentException("address needs host:port, not \"" + a + "\"");
        }
        String host = a.substring(0, colon);
        int port;
        try {
            port = Integer.parseInt(a.substring(colon + 1));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("bad port in address \"" + a + "\"");
        }
        if (!TcpPort.isValidToListen(port)) {
            throw new IllegalArgumentException("port out of range in address \"" + a + "\"");
        }
        if (host.startsWith("[") && host.endsWith("]")) {
            host = host.substring(1, host.length() - 1);
        } else if (host.indexOf(':') >= 0) {
            throw new IllegalArgumentException("an IPv6 address needs brackets: [" + host + "]:" + port);
        }
        return new HostPort(host.equals("*") ? "" : host, port);
    }

    /** Resolves the host (a DNS lookup for a name). */
    public InetSocketAddress toSocketAddress() {
        return host.isEmpty() ? new InetSocketAddress(port) : new InetSocketAddress(host, port);
    }

    @Override
    public String toString() {
        return (host.isEmpty() ? "*" : host.indexOf(':') >= 0 ? "[" + host + "]" : host) + ":" + port;
    }
}
