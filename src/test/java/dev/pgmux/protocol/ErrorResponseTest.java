package dev.pgmux.protocol;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.PooledByteBufAllocator;
import io.netty.buffer.Unpooled;
import org.junit.jupiter.api.Test;

/** ErrorResponse as pgmux writes it, and reading fields out of the ones backends send (protocol docs, "Error and Notice Message Fields"). */
class ErrorResponseTest {

    private static byte[] encode(ErrorResponse e) {
        ByteBuf out = e.encode(PooledByteBufAllocator.DEFAULT);
        try {
            return ByteBufUtil.getBytes(out);
        } finally {
            out.release();
        }
    }

    @Test
    void encodesFatalByteExact() {
        byte[] expected = {
            'E', 0, 0, 0, 41,
            'S', 'F', 'A', 'T', 'A', 'L', 0,
            'V', 'F', 'A', 'T', 'A', 'L', 0,
            'C', '2', '8', '0', '0', '0', 0,
            'M', 'n', 'o', ' ', 'r', 'o', 'u', 't', 'e', ' ', 'h', 'e', 'r', 'e', 0,
            0,
        };

        assertThat(encode(ErrorResponse.fatal("28000", "no route here"))).isEqualTo(expected);
    }

    @Test
    void encodesDetailAndHintAfterMessage() {
        byte[] expected = WireBytes.of()
                .int8('S').cstring("ERROR")
                .int8('V').cstring("ERROR")
                .int8('C').cstring("42P01")
                .int8('M').cstring("relation does not exist")
                .int8('D').cstring("some detail")
                .int8('H').cstring("some hint")
                .int8(0).message('E');

        assertThat(encode(new ErrorResponse("ERROR", "42P01", "relation does not exist", "some detail", "some hint")))
                .isEqualTo(expected);
    }

    @Test
    void encodesHintWithoutDetail() {
        byte[] expected = WireBytes.of()
                .int8('S').cstring("FATAL")
                .int8('V').cstring("FATAL")
                .int8('C').cstring("28000")
                .int8('M').cstring("SSL connection is required")
                .int8('H').cstring("Connect with sslmode=require.")
                .int8(0).message('E');

        assertThat(encode(ErrorResponse.fatal("28000", "SSL connection is required", "Connect with sslmode=require.")))
                .isEqualTo(expected);
    }

    @Test
    void lengthCountsUtf8BytesNotChars() {
        String message = "rôle «ü» 日本語 not found";
        byte[] bytes = encode(ErrorResponse.fatal("28000", message));

        assertThat(bytes).isEqualTo(WireBytes.of()
                .int8('S').cstring("FATAL").int8('V').cstring("FATAL").int8('C').cstring("28000")
                .int8('M').cstring(message).int8(0).message('E'));
        ByteBuf buf = Unpooled.wrappedBuffer(bytes);
        assertThat(buf.getInt(1)).isEqualTo(bytes.length - 1);
        assertThat(ErrorResponse.fieldOf(buf.slice(5, bytes.length - 5), 'M')).isEqualTo(message);
    }

    @Test
    void encodesLongMessageBeyondInitialCapacity() {
        String message = "x".repeat(5000);
        byte[] bytes = encode(ErrorResponse.fatal("XX000", message));

        assertThat(bytes).hasSize(1 + 4 + 7 + 7 + 7 + 1 + 5001 + 1);
        assertThat(Unpooled.wrappedBuffer(bytes).getInt(1)).isEqualTo(bytes.length - 1);
    }

    @Test
    void encodesAtNonZeroWriterIndex() {
        PrefixedAllocator alloc = new PrefixedAllocator(5);

        byte[] all = PrefixedAllocator.drain(new ErrorResponse("FATAL", "57P01", "bye", "d", "h").encode(alloc));

        byte[] expected = WireBytes.of().raw(alloc.prefixBytes()).raw(WireBytes.of()
                .int8('S').cstring("FATAL").int8('V').cstring("FATAL").int8('C').cstring("57P01")
                .int8('M').cstring("bye").int8('D').cstring("d").int8('H').cstring("h")
                .int8(0).message('E')).bytes();
        assertThat(all).isEqualTo(expected);
    }

    // ---------------------------------------------------------------- reading fields

    /** An ErrorResponse body as PostgreSQL sends it, fields in PostgreSQL's order. */
    private static byte[] backendErrorBody() {
        return WireBytes.of()
                .int8('S').cstring("FATAL")
                .int8('V').cstring("FATAL")
                .int8('C').cstring("28P01")
                .int8('M').cstring("password authentication failed for user \"alice\"")
                .int8('F').cstring("auth.c")
                .int8('L').cstring("323")
                .int8('R').cstring("auth_failed")
                .int8(0).bytes();
    }

    @Test
    void readsFieldsOfABackendError() {
        ByteBuf body = Unpooled.wrappedBuffer(backendErrorBody());

        assertThat(ErrorResponse.sqlStateOf(body)).isEqualTo("28P01");
        assertThat(ErrorResponse.fieldOf(body, 'S')).isEqualTo("FATAL");
        assertThat(ErrorResponse.fieldOf(body, 'M')).isEqualTo("password authentication failed for user \"alice\"");
        assertThat(ErrorResponse.fieldOf(body, 'R')).isEqualTo("auth_failed");
        assertThat(ErrorResponse.fieldOf(body, 'D')).isNull();
        assertThat(body.readerIndex()).as("fields are read without consuming").isZero();
    }

    @Test
    void readsFieldsFromTheReaderIndex() {
        byte[] frame = WireBytes.of().raw(new byte[] {'x', 'x', 'x'}).raw(backendErrorBody()).bytes();
        ByteBuf buf = Unpooled.wrappedBuffer(frame).skipBytes(3);

        assertThat(ErrorResponse.sqlStateOf(buf)).isEqualTo("28P01");
        assertThat(ErrorResponse.sqlStateOf(Unpooled.wrappedBuffer(frame).slice(3, frame.length - 3))).isEqualTo("28P01");
    }

    @Test
    void readsFieldsOfItsOwnEncoding() {
        byte[] bytes = encode(new ErrorResponse("FATAL", "53300", "sorry, too many clients already", "d", "h"));
        ByteBuf body = Unpooled.wrappedBuffer(bytes, 5, bytes.length - 5);

        assertThat(ErrorResponse.fieldOf(body, 'S')).isEqualTo("FATAL");
        assertThat(ErrorResponse.fieldOf(body, 'V')).isEqualTo("FATAL");
        assertThat(ErrorResponse.sqlStateOf(body)).isEqualTo("53300");
        assertThat(ErrorResponse.fieldOf(body, 'M')).isEqualTo("sorry, too many clients already");
        assertThat(ErrorResponse.fieldOf(body, 'D')).isEqualTo("d");
        assertThat(ErrorResponse.fieldOf(body, 'H')).isEqualTo("h");
    }

    @Test
    void stopsAtTheTerminator() {
        byte[] body = WireBytes.of().int8('S').cstring("ERROR").int8(0).int8('C').cstring("42000").bytes();

        assertThat(ErrorResponse.sqlStateOf(Unpooled.wrappedBuffer(body))).isNull();
    }

    @Test
    void malformedBodiesGiveNull() {
        assertThat(ErrorResponse.sqlStateOf(Unpooled.EMPTY_BUFFER)).isNull();
        assertThat(ErrorResponse.sqlStateOf(Unpooled.wrappedBuffer(new byte[] {'C'}))).isNull();
        assertThat(ErrorResponse.sqlStateOf(Unpooled.wrappedBuffer(WireBytes.of().int8('C').raw("28000").bytes())))
                .isNull();
        assertThat(ErrorResponse.sqlStateOf(Unpooled.wrappedBuffer(WireBytes.of().int8('S').raw("ERROR").bytes())))
                .isNull();
    }

    @Test
    void emptyFieldValueIsEmptyNotNull() {
        byte[] body = WireBytes.of().int8('C').cstring("").int8(0).bytes();

        assertThat(ErrorResponse.sqlStateOf(Unpooled.wrappedBuffer(body))).isEmpty();
    }
}
