package dev.pgmux.protocol.frontend;

import static dev.pgmux.protocol.MessageAssertions.assertEncodes;
import static dev.pgmux.protocol.MessageAssertions.assertMalformed;
import static dev.pgmux.protocol.MessageAssertions.assertSameMessage;
import static dev.pgmux.protocol.MessageAssertions.decodeInPlace;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.pgmux.protocol.MessageAssertions.Decoder;
import dev.pgmux.protocol.ProtocolException;
import dev.pgmux.protocol.WireBytes;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Every frontend message byte by byte (protocol docs, "Message Formats"): the expected bytes are written by hand,
 * encoded after other bytes, decoded back in place, and malformed variants are refused with 08P01.
 */
class FrontendMessageTest {

    /** A message and its exact encoding, with the decoder of its own type. */
    record Case(FrontendMessage message, byte[] bytes, Decoder<?> typed) {
        @Override
        public String toString() {
            return message.getClass().getSimpleName() + " " + Arrays.toString(bytes);
        }
    }

    private static Case c(FrontendMessage message, byte[] bytes, Decoder<?> typed) {
        return new Case(message, bytes, typed);
    }

    private static byte[] b(int... values) {
        byte[] out = new byte[values.length];
        for (int i = 0; i < values.length; i++) {
            out[i] = (byte) values[i];
        }
        return out;
    }

    private static byte[] ascii(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    static Stream<Case> messages() {
        String md5 = "md5" + "0123456789abcdef".repeat(2);
        String clientFirst = "n,,n=,r=rOprNGfwEbeRWgbNEkqO";
        return Stream.of(
                c(new Terminate(), b('X', 0, 0, 0, 4), Terminate::decode),
                c(new Sync(), b('S', 0, 0, 0, 4), Sync::decode),
                c(new Flush(), b('H', 0, 0, 0, 4), Flush::decode),
                c(new Query("SELECT 1"), b('Q', 0, 0, 0, 13, 'S', 'E', 'L', 'E', 'C', 'T', ' ', '1', 0), Query::decode),
                c(new Query(""), b('Q', 0, 0, 0, 5, 0), Query::decode),
                c(new PasswordMessage(ascii("secret")), b('p', 0, 0, 0, 11, 's', 'e', 'c', 'r', 'e', 't', 0),
                        PasswordMessage::decode),
                c(new PasswordMessage(ascii(md5)), WireBytes.of().cstring(md5).message('p'), PasswordMessage::decode),
                c(new PasswordMessage(new byte[0]), b('p', 0, 0, 0, 5, 0), PasswordMessage::decode),
                c(new SASLInitialResponse("SCRAM-SHA-256", ascii(clientFirst)),
                        WireBytes.of().cstring("SCRAM-SHA-256").int32(clientFirst.length()).raw(clientFirst)
                                .message('p'),
                        SASLInitialResponse::decode),
                c(new SASLInitialResponse("X", null), b('p', 0, 0, 0, 10, 'X', 0, 0xFF, 0xFF, 0xFF, 0xFF),
                        SASLInitialResponse::decode),
                c(new SASLInitialResponse("X", new byte[0]), b('p', 0, 0, 0, 10, 'X', 0, 0, 0, 0, 0),
                        SASLInitialResponse::decode),
                c(new SASLResponse(ascii("c=biws,r=abc,p=cHJvb2Y=")),
                        WireBytes.of().raw("c=biws,r=abc,p=cHJvb2Y=").message('p'), SASLResponse::decode),
                c(new SASLResponse(new byte[0]), b('p', 0, 0, 0, 4), SASLResponse::decode),
                c(new Parse("", "SELECT $1", new int[] {23}),
                        b('P', 0, 0, 0, 21, 0, 'S', 'E', 'L', 'E', 'C', 'T', ' ', '$', '1', 0, 0, 1, 0, 0, 0, 23),
                        Parse::decode),
                c(new Parse("s1", "SELECT 1", new int[0]),
                        WireBytes.of().cstring("s1").cstring("SELECT 1").int16(0).message('P'), Parse::decode),
                c(new Parse("s2", "SELECT $1, $2", new int[] {0, -1}),
                        WireBytes.of().cstring("s2").cstring("SELECT $1, $2").int16(2).int32(0).int32(-1).message('P'),
                        Parse::decode),
                c(new Describe(Describe.STATEMENT, "s1"), b('D', 0, 0, 0, 8, 'S', 's', '1', 0), Describe::decode),
                c(new Describe(Describe.PORTAL, ""), b('D', 0, 0, 0, 6, 'P', 0), Describe::decode),
                c(new Close(Close.STATEMENT, "s1"), b('C', 0, 0, 0, 8, 'S', 's', '1', 0), Close::decode),
                c(new Close(Close.PORTAL, "p"), b('C', 0, 0, 0, 7, 'P', 'p', 0), Close::decode));
    }

    @ParameterizedTest
    @MethodSource("messages")
    void encodesByteExactAfterOtherBytes(Case c) {
        assertEncodes(c.message()::encode, c.message()::encode, c.bytes());
    }

    @ParameterizedTest
    @MethodSource("messages")
    void decodesBackInPlace(Case c) throws ProtocolException {
        assertSameMessage(decodeInPlace(c.bytes(), c.typed()), c.message());
        FrontendMessage any = decodeInPlace(c.bytes(), FrontendMessage::decode);
        if (c.bytes()[0] == 'p') {
            assertThat(any).as("'p' needs the authentication exchange to say what it is").isNull();
        } else {
            assertSameMessage(any, c.message());
        }
    }

    @ParameterizedTest
    @MethodSource("messages")
    void typedDecodersRefuseOtherTypes(Case c) {
        byte[] other = c.bytes().clone();
        other[0] = (byte) (other[0] == 'Q' ? 'X' : 'Q');
        assertMalformed(other, c.typed());
    }

    // ---------------------------------------------------------------- malformed

    /** Bytes that must be refused, with the decoder of the type they claim to be. */
    record Bad(String why, byte[] bytes, Decoder<?> typed) {
        @Override
        public String toString() {
            return why;
        }
    }

    private static Bad bad(String why, byte[] bytes, Decoder<?> typed) {
        return new Bad(why, bytes, typed);
    }

    static Stream<Bad> malformed() {
        return Stream.of(
                bad("no length word", b('X', 0, 0), Terminate::decode),
                bad("length word too large", b('Q', 0, 0, 0, 6, 0), Query::decode),
                bad("length word too small", b('Q', 0, 0, 0, 3, 0), Query::decode),
                bad("Terminate with a body", b('X', 0, 0, 0, 5, 0), Terminate::decode),
                bad("Sync with a body", b('S', 0, 0, 0, 5, 0), Sync::decode),
                bad("Flush with a body", b('H', 0, 0, 0, 5, 0), Flush::decode),
                bad("empty Query", b('Q', 0, 0, 0, 4), Query::decode),
                bad("unterminated query", WireBytes.of().raw("SELECT 1").message('Q'), Query::decode),
                bad("bytes after the query", WireBytes.of().cstring("SELECT 1").cstring("SELECT 2").message('Q'),
                        Query::decode),
                bad("Parse without query", WireBytes.of().cstring("s1").message('P'), Parse::decode),
                bad("Parse without count", WireBytes.of().cstring("s1").cstring("SELECT 1").message('P'),
                        Parse::decode),
                bad("fewer parameter types than counted",
                        WireBytes.of().cstring("").cstring("SELECT $1").int16(2).int32(23).message('P'), Parse::decode),
                bad("parameter type count beyond the frame",
                        WireBytes.of().cstring("").cstring("SELECT $1").int16(0xFFFF).int32(23).message('P'),
                        Parse::decode),
                bad("parameter type cut short",
                        WireBytes.of().cstring("").cstring("SELECT $1").int16(1).int16(23).message('P'), Parse::decode),
                bad("bytes after the parameter types",
                        WireBytes.of().cstring("").cstring("SELECT $1").int16(1).int32(23).int8(0).message('P'),
                        Parse::decode),
                bad("empty Describe", b('D', 0, 0, 0, 4), Describe::decode),
                bad("Describe of kind 'X'", b('D', 0, 0, 0, 6, 'X', 0), Describe::decode),
                bad("Describe without name", b('D', 0, 0, 0, 5, 'S'), Describe::decode),
                bad("Describe with unterminated name", b('D', 0, 0, 0, 7, 'S', 's', '1'), Describe::decode),
                bad("Describe with more", b('D', 0, 0, 0, 7, 'S', 0, 0), Describe::decode),
                bad("Close of kind 0", b('C', 0, 0, 0, 6, 0, 0), Close::decode),
                bad("Close with more", b('C', 0, 0, 0, 8, 'P', 'p', 0, 'x'), Close::decode));
    }

    @ParameterizedTest
    @MethodSource("malformed")
    void refusesMalformedMessages(Bad bad) {
        assertMalformed(bad.bytes(), FrontendMessage::decode);
        assertMalformed(bad.bytes(), bad.typed());
    }

    /** The 'p' messages, which only their own decoders read. */
    static Stream<Bad> malformedPasswordMessages() {
        return Stream.of(
                bad("empty PasswordMessage", b('p', 0, 0, 0, 4), PasswordMessage::decode),
                bad("unterminated password", WireBytes.of().raw("secret").message('p'), PasswordMessage::decode),
                bad("bytes after the password", WireBytes.of().cstring("sec").raw("ret").int8(0).message('p'),
                        PasswordMessage::decode),
                bad("two passwords", WireBytes.of().cstring("a").cstring("b").message('p'), PasswordMessage::decode),
                bad("empty SASLInitialResponse", b('p', 0, 0, 0, 4), SASLInitialResponse::decode),
                bad("unterminated mechanism", WireBytes.of().raw("SCRAM-SHA-256").message('p'),
                        SASLInitialResponse::decode),
                bad("no data length", WireBytes.of().cstring("SCRAM-SHA-256").message('p'),
                        SASLInitialResponse::decode),
                bad("data length cut short", WireBytes.of().cstring("SCRAM-SHA-256").int16(0).message('p'),
                        SASLInitialResponse::decode),
                bad("data length -2", WireBytes.of().cstring("SCRAM-SHA-256").int32(-2).message('p'),
                        SASLInitialResponse::decode),
                bad("data longer than the frame", WireBytes.of().cstring("SCRAM-SHA-256").int32(5).raw("n,,").message('p'),
                        SASLInitialResponse::decode),
                bad("bytes after the data", WireBytes.of().cstring("SCRAM-SHA-256").int32(1).raw("n,,").message('p'),
                        SASLInitialResponse::decode),
                bad("bytes after no data", WireBytes.of().cstring("SCRAM-SHA-256").int32(-1).raw("n").message('p'),
                        SASLInitialResponse::decode),
                bad("SASLResponse with a bad length word", b('p', 0, 0, 0, 9, 1, 2), SASLResponse::decode));
    }

    @ParameterizedTest
    @MethodSource("malformedPasswordMessages")
    void refusesMalformedPasswordMessages(Bad bad) {
        assertMalformed(bad.bytes(), bad.typed());
    }

    @Test
    void typesWithoutARecordDecodeToNull() throws ProtocolException {
        byte[] execute = WireBytes.of().cstring("").int32(0).message('E');
        assertThat(decodeInPlace(execute, FrontendMessage::decode)).isNull();
        assertThat(decodeInPlace(b('B', 0, 0, 0, 4), FrontendMessage::decode)).isNull();
        assertMalformed(b('B', 0, 0, 0, 9), FrontendMessage::decode); // but their header is checked
    }

    @Test
    void malformedMessagesSayWhatIsWrong() {
        assertThatThrownBy(() -> decodeInPlace(WireBytes.of().cstring("sec").raw("ret").int8(0).message('p'),
                PasswordMessage::decode))
                .hasMessage("malformed PasswordMessage: bytes after the password's terminator");
        assertThatThrownBy(() -> decodeInPlace(b('D', 0, 0, 0, 6, 'X', 0), Describe::decode))
                .hasMessage("malformed Describe: kind 'X' (expected 'S' or 'P')");
        assertThatThrownBy(() -> decodeInPlace(WireBytes.of().cstring("M").int32(-2).message('p'),
                SASLInitialResponse::decode))
                .hasMessage("malformed SASLInitialResponse: negative field length -2");
    }

    @Test
    void refusesComponentsTheWireCannotCarry() {
        assertThatThrownBy(() -> new Query("SELECT 1;\0DROP TABLE t")).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> new PasswordMessage(new byte[] {'a', 0})).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> new SASLInitialResponse("SCRAM\0", null)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> new Parse("s\0", "SELECT 1", new int[0])).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> new Parse("s", "SELECT 1", new int[65536])).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> new Describe((byte) 'X', "s")).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> new Close((byte) 'S', "s\0")).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void toStringShowsNoPassword() {
        assertThat(new PasswordMessage(ascii("hunter2")).toString()).doesNotContain("hunter2").doesNotContain("104, 117");
        assertThat(new SASLResponse(ascii("p=proof")).toString()).doesNotContain("proof").doesNotContain("112, 61");
    }
}
