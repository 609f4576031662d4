package dev.pgmux.testing;

import java.io.ByteArrayOutputStream;
import java.net.InetAddress;
import java.nio.charset.StandardCharsets;

/**
 * PROXY protocol headers written by hand, byte for byte as the protocol's sections 2.1 (v1, text) and 2.2 (v2,
 * binary) lay them out, so that tests do not depend on the encoder of the library pgmux decodes with.
 */
public final class ProxyHeaderBytes {
    /** Section 2.2: the twelve bytes every v2 header starts with. */
    public static final byte[] V2_SIGNATURE = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};
    /** {@code PP2_TYPE_AUTHORITY}: the host name the client asked for (its TLS SNI, say). */
    public static final int PP2_TYPE_AUTHORITY = 0x02;

    private ProxyHeaderBytes() {
    }

    /** {@code PROXY TCP4 SRC DST SRCPORT DSTPORT\r\n} and the like: the line given, with its CRLF added. */
    public static byte[] v1(String line) {
        return (line + "\r\n").getBytes(StandardCharsets.US_ASCII);
    }

    /** A v2 PROXY command over TCP (IPv4 or IPv6 by the addresses' kind), with TLVs ({@link #tlv}) after them. */
    public static byte[] v2(String source, int sourcePort, String destination, int destinationPort, byte[]... tlvs)
            throws Exception {
        byte[] src = InetAddress.getByName(source).getAddress();
        byte[] dst = InetAddress.getByName(destination).getAddress();
        ByteArrayOutputStream block = new ByteArrayOutputStream();
        block.writeBytes(src);
        block.writeBytes(dst);
        block.write(sourcePort >> 8);
        block.write(sourcePort);
        block.write(destinationPort >> 8);
        block.write(destinationPort);
        for (byte[] t : tlvs) {
            block.writeBytes(t);
        }
        // version 2, command PROXY; AF_INET or AF_INET6 with SOCK_STREAM
        return v2(0x21, src.length == 4 ? 0x11 : 0x21, block.toByteArray());
    }

    /** A v2 LOCAL command (the balancer's own connection, a health check): no addresses. */
    public static byte[] v2Local() {
        return v2(0x20, 0x00, new byte[0]);
    }

    /** A v2 header with the given version/command and family/protocol bytes and address block, as it comes. */
    public static byte[] v2(int versionCommand, int familyProtocol, byte[] block) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.writeBytes(V2_SIGNATURE);
        out.write(versionCommand);
        out.write(familyProtocol);
        out.write(block.length >> 8);
        out.write(block.length);
        out.writeBytes(block);
        return out.toByteArray();
    }

    /** One TLV: type, 16-bit length, value. */
    public static byte[] tlv(int type, byte[] value) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.write(type);
        out.write(value.length >> 8);
        out.write(value.length);
        out.writeBytes(value);
        return out.toByteArray();
    }

    /** The authority TLV with a host name. */
    public static byte[] authority(String host) {
        return tlv(PP2_TYPE_AUTHORITY, host.getBytes(StandardCharsets.US_ASCII));
    }

    public static byte[] concat(byte[]... parts) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (byte[] p : parts) {
            out.writeBytes(p);
        }
        return out.toByteArray();
    }
}
