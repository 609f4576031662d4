package dev.pgmux.protocol;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.PooledByteBufAllocator;
import java.util.function.Consumer;
import java.util.function.Function;

/**
 * Checks shared by the message tests of {@code dev.pgmux.protocol.backend} and {@code frontend}: encoding after
 * other bytes (a length word patched at index 1 instead of relative to the message start shows), and decoding a
 * frame that sits between other bytes in a pooled direct buffer (a read outside the frame, a moved index or a
 * release shows).
 */
public final class MessageAssertions {
    /** Bytes around the message: they must come out untouched. */
    private static final byte[] JUNK = {(byte) 0xDE, (byte) 0xAD, (byte) 0xBE, (byte) 0xEF, 0, 'Z', 0, 0, 0, 5, 'I'};

    private MessageAssertions() {
    }

    /** A decoder under test. */
    @FunctionalInterface
    public interface Decoder<T> {
        T decode(ByteBuf frame) throws ProtocolException;
    }

    /**
     * Encodes through both entry points: into a buffer that already holds other bytes (and must grow), and
     * through an allocator whose buffers start with a prefix. Each time, the other bytes then exactly
     * {@code expected}.
     */
    public static void assertEncodes(Consumer<ByteBuf> intoBuffer, Function<ByteBufAllocator, ByteBuf> withAllocator,
                                     byte[] expected) {
        ByteBuf out = PooledByteBufAllocator.DEFAULT.buffer(JUNK.length + 1);
        try {
            out.writeBytes(JUNK).readerIndex(3);
            intoBuffer.accept(out);
            assertThat(ByteBufUtil.getBytes(out, 0, out.writerIndex()))
                    .isEqualTo(WireBytes.of().raw(JUNK).raw(expected).bytes());
            assertThat(out.readerIndex()).as("reader index").isEqualTo(3);
        } finally {
            out.release();
        }
        PrefixedAllocator alloc = new PrefixedAllocator(9);
        assertThat(PrefixedAllocator.drain(withAllocator.apply(alloc)))
                .isEqualTo(WireBytes.of().raw(alloc.prefixBytes()).raw(expected).bytes());
    }

    /**
     * Decodes {@code frame} from a pooled direct buffer where other bytes come before it (the reader index is at
     * the type byte) and after it (beyond the writer index), and checks that the decoder moved neither index
     * and neither released nor retained the buffer.
     */
    public static <T> T decodeInPlace(byte[] frame, Decoder<T> decoder) throws ProtocolException {
        ByteBuf buf = PooledByteBufAllocator.DEFAULT.directBuffer(2 * JUNK.length + frame.length);
        try {
            buf.writeBytes(JUNK).writeBytes(frame).writeBytes(JUNK);
            buf.readerIndex(JUNK.length).writerIndex(JUNK.length + frame.length);
            try {
                return decoder.decode(buf);
            } finally {
                assertThat(buf.readerIndex()).as("reader index").isEqualTo(JUNK.length);
                assertThat(buf.writerIndex()).as("writer index").isEqualTo(JUNK.length + frame.length);
                assertThat(buf.refCnt()).as("decode neither releases nor retains").isEqualTo(1);
            }
        } finally {
            buf.release();
        }
    }

    /** The decoder refuses {@code frame} with a readable 08P01 ProtocolException. */
    public static void assertMalformed(byte[] frame, Decoder<?> decoder) {
        assertThatThrownBy(() -> decodeInPlace(frame, decoder))
                .isInstanceOf(ProtocolException.class)
                .satisfies(e -> assertThat(((ProtocolException) e).sqlState()).isEqualTo(SqlState.PROTOCOL_VIOLATION))
                .satisfies(e -> assertThat(e.getMessage()).isNotBlank());
    }

    /** Same type and same components, arrays compared by content. */
    public static void assertSameMessage(Object actual, Object expected) {
        assertThat(actual).isNotNull();
        assertThat(actual).isInstanceOf(expected.getClass());
        assertThat(actual).usingRecursiveComparison().withStrictTypeChecking().isEqualTo(expected);
    }

    /** The whole encoding of a message. */
    public static byte[] bytes(ByteBuf buf) {
        try {
            return ByteBufUtil.getBytes(buf);
        } finally {
            buf.release();
        }
    }
}
