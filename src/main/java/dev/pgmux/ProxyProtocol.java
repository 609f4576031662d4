package dev.pgmux;

import io.netty.util.NetUtil;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;

/**
 * The PROXY protocol (HAProxy's, versions 1 and 2) on the TCP listeners: which peers are load balancers that put
 * a PROXY header before their client's bytes. A connection from a trusted address must start with a header, and
 * the address in it is the client's address for routing, per-address limits, logs and cancel requests; a
 * connection from elsewhere that sends one is closed, as is a trusted one that sends none.
 *
 * <pre>{@code
 * proxy.withProxyProtocol(ProxyProtocol.trusting("10.0.0.0/8", "192.168.1.7"));
 * }</pre>
 *
 * @param trusted the load balancers' addresses; empty trusts no one (every connection is taken as it comes)
 * @see <a href="https://www.haproxy.org/download/2.9/doc/proxy-protocol.txt">The PROXY protocol</a>
 */
public record ProxyProtocol(List<Cidr> trusted) {

    public ProxyProtocol {
        trusted = List.copyOf(trusted);
    }

    /**
     * @param cidrs {@code 10.0.0.0/8}, {@code fd00::/8}, or a single address ({@code 192.168.1.7})
     * @throws IllegalArgumentException if one is not an IP address with an optional prefix length
     */
    public static ProxyProtocol trusting(String... cidrs) {
        return new ProxyProtocol(Arrays.stream(cidrs).map(Cidr::parse).toList());
    }

    /** Whether a connection from {@code address} must start with a PROXY header. */
    public boolean trusts(InetAddress address) {
        if (address == null) {
            return false;
        }
        for (Cidr c : trusted) {
            if (c.contains(address)) {
                return true;
            }
        }
        return false;
    }

    /**
     * An IP network: the address with its host bits cleared, and the number of leading bits that count.
     *
     * @param network      an IPv4 or IPv6 address
     * @param prefixLength 0 to 32 (IPv4) or 0 to 128 (IPv6)
     */
    public record Cidr(InetAddress network, int prefixLength) {
        public Cidr {
            Objects.requireNonNull(network, "network");
            int bits = network.getAddress().length * 8;
            if (prefixLength < 0 || prefixLength > bits) {
                throw new IllegalArgumentException("prefix length must be between 0 and " + bits + ", not "
                        + prefixLength);
            }
            network = masked(network, prefixLength);
        }

        /**
         * Reads {@code ADDRESS[/PREFIX]}, IP addresses only (no host names: a trust list must not depend on DNS).
         *
         * @throws IllegalArgumentException with a message that reads after the text's name
         */
        public static Cidr parse(String text) {
            String t = Objects.requireNonNull(text, "cidr").strip();
            int slash = t.indexOf('/');
            String address = slash < 0 ? t : t.substring(0, slash);
            byte[] bytes = NetUtil.createByteArrayFromIpAddressString(address);
            if (bytes == null) {
                throw new IllegalArgumentException("not an IP address or network (10.0.0.0/8, fd00::/8): \"" + text
                        + "\"");
            }
            int prefix = bytes.length * 8;
            if (slash >= 0) {
                try {
                    prefix = Integer.parseInt(t.substring(slash + 1));
                } catch (NumberFormatException e) {
                    throw new IllegalArgumentException("bad prefix length in \"" + text + "\"");
                }
            }
            try {
                return new Cidr(InetAddress.getByAddress(bytes), prefix);
            } catch (UnknownHostException e) {
                throw new IllegalArgumentException("not an IP address: \"" + text + "\"", e);
            }
        }

        /** Whether {@code address} is in this network (an IPv4 address is never in an IPv6 network, nor back). */
        public boolean contains(InetAddress address) {
            byte[] a = address.getAddress();
            byte[] n = network.getAddress();
            if (a.length != n.length) {
                return false;
            }
            int full = prefixLength / 8;
            for (int i = 0; i < full; i++) {
                if (a[i] != n[i]) {
                    return false;
                }
            }
            int rest = prefixLength % 8;
            if (rest == 0) {
                return true;
            }
            int mask = (0xFF << (8 - rest)) & 0xFF;
            return (a[full] & mask) == (n[full] & mask);
        }

        private static InetAddress masked(InetAddress address, int prefixLength) {
            byte[] b = address.getAddress();
            for (int i = 0; i < b.length; i++) {
                int keep = Math.max(0, Math.min(8, prefixLength - i * 8));
                b[i] &= (byte) ((0xFF << (8 - keep)) & 0xFF);
            }
            try {
                return InetAddress.getByAddress(b);
            } catch (UnknownHostException e) {
                throw new IllegalArgumentException(e);
            }
        }

        @Override
        public String toString() {
            return network.getHostAddress() + "/" + prefixLength;
        }
    }
}
