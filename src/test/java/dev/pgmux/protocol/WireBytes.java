package dev.pgmux.protocol;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;

/**
 * Builds expected wire bytes by hand, independently of the encoders under test: Int8, Int16, Int32, String
 * (UTF-8 with its terminator), raw bytes; then the bytes as they are, as a startup packet (Int32 length in front)
 * or as a message (type byte and Int32 length in front).
 */
public final class WireBytes {
    private final ByteArrayOutputStream out = new ByteArrayOutputStream();

    private WireBytes() {
    }

    public static WireBytes of() {
        return new WireBytes();
    }

    public WireBytes int8(int b) {
        out.write(b);
        return this;
    }

    public WireBytes int16(int v) {
        out.write(v >>> 8);
        out.write(v);
        return this;
    }

    public WireBytes int32(int v) {
        out.write(v >>> 24);
        out.write(v >>> 16);
        out.write(v >>> 8);
        out.write(v);
        return this;
    }

    /** A protocol String: UTF-8 bytes and a zero byte. */
    public WireBytes cstring(String s) {
        raw(s.getBytes(StandardCharsets.UTF_8));
        out.write(0);
        return this;
    }

    /** Bytes with no terminator. */
    public WireBytes raw(String s) {
        return raw(s.getBytes(StandardCharsets.UTF_8));
    }

    public WireBytes raw(byte[] bytes) {
        out.writeBytes(bytes);
        return this;
    }

    /** The bytes written so far. */
    public byte[] bytes() {
        return out.toByteArray();
    }

    /** A startup packet: the Int32 length (which counts itself) and the bytes written so far. */
    public byte[] packet() {
        byte[] body = bytes();
        return of().int32(body.length + 4).raw(body).bytes();
    }

    /** A message: the type byte, the Int32 length (which counts itself but not the type) and the bytes so far. */
    public byte[] message(char type) {
        byte[] body = bytes();
        return of().int8(type).int32(body.length + 4).raw(body).bytes();
    }
}
