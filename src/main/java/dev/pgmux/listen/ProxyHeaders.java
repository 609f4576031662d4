package dev.pgmux.listen;

import dev.pgmux.log.LineRate;
import io.netty.buffer.ByteBuf;
import java.net.SocketAddress;
import java.nio.charset.StandardCharsets;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * How a PROXY protocol header begins, and the one log line for a header refused. The signatures are those of the
 * protocol's sections 2.1 (v1: {@code "PROXY "}) and 2.2 (v2: twelve bytes, {@code \r\n\r\n\0\r\nQUIT\n}); neither
 * can begin a PostgreSQL startup packet, whose first four bytes are a length of at most 10,000.
 *
 * <p>Refusals are logged at most ten a second (then one line with the number left out): whoever can reach the
 * port could otherwise fill the log.
 */
public final class ProxyHeaders {
    static final Logger log = LoggerFactory.getLogger(ProxyHeaders.class);

    static final byte[] V1_SIGNATURE = "PROXY ".getBytes(StandardCharsets.US_ASCII);
    static final byte[] V2_SIGNATURE = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};

    private static final LineRate REFUSALS = new LineRate(10, "PROXY protocol refusals");

    private ProxyHeaders() {
    }

    /** The signature a header starting with {@code first} would have, or null if no header starts so. */
    static byte[] signatureStartingWith(byte first) {
        return first == V1_SIGNATURE[0] ? V1_SIGNATURE : first == V2_SIGNATURE[0] ? V2_SIGNATURE : null;
    }

    /**
     * Whether the readable bytes (at least one) are the start of a v1 or v2 signature, as far as they go: a
     * connection that begins so is a load balancer's, sent to pgmux from an address it does not trust.
     */
    public static boolean startsLikeHeader(ByteBuf buf) {
        if (!buf.isReadable()) {
            return false;
        }
        byte[] signature = signatureStartingWith(buf.getByte(buf.readerIndex()));
        if (signature == null) {
            return false;
        }
        int n = Math.min(signature.length, buf.readableBytes());
        for (int i = 0; i < n; i++) {
            if (buf.getByte(buf.readerIndex() + i) != signature[i]) {
                return false;
            }
        }
        return true;
    }

    /** Logs a connection closed for a PROXY header from an address not in {@code proxy_protocol.trusted}. */
    public static void logUntrusted(SocketAddress peer) {
        logRefused(peer, "PROXY protocol header from an address not in proxy_protocol.trusted");
    }

    /** Logs a trusted connection closed for its PROXY header (missing, malformed, too long, too slow). */
    static void logRefused(SocketAddress peer, String reason) {
        if (REFUSALS.admit(log)) {
            log.warn("connection refused client={} reason=\"{}\"", peer, reason);
        }
    }
}
