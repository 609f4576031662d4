package dev.pgmux.reliability;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLParameters;

/**
 * Frontend bytes for hostile tests, well-formed or not: each method returns exactly what goes on the wire
 * (protocol docs, "Message Formats"). Nothing here checks anything, on purpose.
 */
final class Frames {
    static final int SSL_REQUEST = 80877103;
    static final int GSSENC_REQUEST = 80877104;
    static final int CANCEL_REQUEST = 80877102;
    static final int V3_0 = 3 << 16;

    private Frames() {
    }

    /** Int32 length (as given, right or wrong), Int32 code, body. */
    static byte[] packet(int length, int code, byte[] body) {
        return ByteBuffer.allocate(8 + body.length).putInt(length).putInt(code).put(body).array();
    }

    /** A startup-style packet whose length word is right. */
    static byte[] packet(int code, byte[] body) {
        return packet(8 + body.length, code, body);
    }

    static byte[] sslRequest() {
        return packet(SSL_REQUEST, new byte[0]);
    }

    static byte[] gssEncRequest() {
        return packet(GSSENC_REQUEST, new byte[0]);
    }

    static byte[] cancelRequest(int processId, byte[] secret) {
        return packet(CANCEL_REQUEST, ByteBuffer.allocate(4 + secret.length).putInt(processId).put(secret).array());
    }

    /** A StartupMessage for protocol 3.{@code minor}: name, value, …, terminator. */
    static byte[] startup(int minor, Map<String, String> params) {
        ByteArrayOutputStream body = new ByteArrayOutputStream();
        params.forEach((k, v) -> {
            cstring(body, k.getBytes(StandardCharsets.UTF_8));
            cstring(body, v.getBytes(StandardCharsets.UTF_8));
        });
        body.write(0);
        return packet(V3_0 | minor, body.toByteArray());
    }

    static byte[] startup(Map<String, String> params) {
        return startup(0, params);
    }

    /** A StartupMessage body from raw name/value byte strings (each gets its zero byte), plus the terminator. */
    static byte[] startupRaw(int code, byte[]... namesAndValues) {
        ByteArrayOutputStream body = new ByteArrayOutputStream();
        for (byte[] s : namesAndValues) {
            cstring(body, s);
        }
        body.write(0);
        return packet(code, body.toByteArray());
    }

    /** A regular message: type, Int32 length (as given), body. */
    static byte[] message(char type, int length, byte[] body) {
        return ByteBuffer.allocate(5 + body.length).put((byte) type).putInt(length).put(body).array();
    }

    static byte[] query(String sql) {
        byte[] q = sql.getBytes(StandardCharsets.UTF_8);
        byte[] body = new byte[q.length + 1];
        System.arraycopy(q, 0, body, 0, q.length);
        return message('Q', 4 + body.length, body);
    }

    static byte[] copyData(byte[] data) {
        return message('d', 4 + data.length, data);
    }

    static byte[] terminate() {
        return message('X', 4, new byte[0]);
    }

    /**
     * A real TLS ClientHello as a JDK client sends it first, with or without the ALPN extension: what a
     * PostgreSQL 17 client sends first with {@code sslnegotiation=direct} (ALPN "postgresql"), or a stranger
     * without it.
     */
    static byte[] clientHello(String... alpn) {
        try {
            SSLEngine engine = SSLContext.getDefault().createSSLEngine("localhost", 5432);
            engine.setUseClientMode(true);
            SSLParameters params = engine.getSSLParameters();
            if (alpn.length > 0) {
                params.setApplicationProtocols(alpn);
            }
            engine.setSSLParameters(params);
            engine.beginHandshake();
            ByteBuffer out = ByteBuffer.allocate(engine.getSession().getPacketBufferSize());
            engine.wrap(ByteBuffer.allocate(0), out);
            out.flip();
            byte[] hello = new byte[out.remaining()];
            out.get(hello);
            return hello;
        } catch (Exception e) {
            throw new AssertionError("cannot make a ClientHello", e);
        }
    }

    static byte[] concat(byte[]... parts) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (byte[] p : parts) {
            out.writeBytes(p);
        }
        return out.toByteArray();
    }

    private static void cstring(ByteArrayOutputStream out, byte[] s) {
        out.writeBytes(s);
        out.write(0);
    }
}
