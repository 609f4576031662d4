package dev.pgmux;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.net.InetAddress;
import org.junit.jupiter.api.Test;

class ProxyProtocolTest {

    static InetAddress ip(String text) throws Exception {
        return InetAddress.getByName(text);
    }

    @Test
    void networksMatchByTheirPrefix() throws Exception {
        ProxyProtocol p = ProxyProtocol.trusting("10.0.0.0/8", "192.168.1.7", "fd00::/8", "172.16.5.130/25");
        assertThat(p.trusts(ip("10.200.3.4"))).isTrue();
        assertThat(p.trusts(ip("11.0.0.1"))).isFalse();
        assertThat(p.trusts(ip("192.168.1.7"))).isTrue();
        assertThat(p.trusts(ip("192.168.1.8"))).isFalse();
        assertThat(p.trusts(ip("fd12:3456::1"))).isTrue();
        assertThat(p.trusts(ip("fe80::1"))).isFalse();
        assertThat(p.trusts(ip("172.16.5.128"))).isTrue();
        assertThat(p.trusts(ip("172.16.5.255"))).isTrue();
        assertThat(p.trusts(ip("172.16.5.127"))).isFalse();
        assertThat(p.trusts(null)).isFalse();
        assertThat(ProxyProtocol.trusting().trusts(ip("127.0.0.1"))).isFalse();
        assertThat(ProxyProtocol.trusting("0.0.0.0/0").trusts(ip("8.8.8.8"))).isTrue();
        assertThat(ProxyProtocol.trusting("0.0.0.0/0").trusts(ip("::1"))).as("IPv4 networks hold no IPv6 address")
                .isFalse();
    }

    @Test
    void theNetworkIsStoredWithItsHostBitsCleared() {
        assertThat(ProxyProtocol.Cidr.parse("10.1.2.3/8")).hasToString("10.0.0.0/8")
                .isEqualTo(ProxyProtocol.Cidr.parse(" 10.0.0.0/8 "));
        assertThat(ProxyProtocol.Cidr.parse("2001:db8::1/32")).hasToString("2001:db8:0:0:0:0:0:0/32");
        assertThat(ProxyProtocol.Cidr.parse("127.0.0.1")).hasToString("127.0.0.1/32");
    }

    @Test
    void onlyIpAddressesWithAFittingPrefix() {
        assertThatThrownBy(() -> ProxyProtocol.Cidr.parse("lb.internal")).hasMessageContaining("not an IP address");
        assertThatThrownBy(() -> ProxyProtocol.Cidr.parse("10.0.0.0/33")).hasMessageContaining("between 0 and 32");
        assertThatThrownBy(() -> ProxyProtocol.Cidr.parse("fd00::/129")).hasMessageContaining("between 0 and 128");
        assertThatThrownBy(() -> ProxyProtocol.Cidr.parse("10.0.0.0/x")).hasMessageContaining("bad prefix length");
        assertThatThrownBy(() -> ProxyProtocol.Cidr.parse("10.0.0/8")).hasMessageContaining("not an IP address");
    }
}
