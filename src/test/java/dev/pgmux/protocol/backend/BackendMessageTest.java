package dev.pgmux.protocol.backend;

import static dev.pgmux.protocol.MessageAssertions.assertEncodes;
import static dev.pgmux.protocol.MessageAssertions.assertMalformed;
import static dev.pgmux.protocol.MessageAssertions.assertSameMessage;
import static dev.pgmux.protocol.MessageAssertions.bytes;
import static dev.pgmux.protocol.MessageAssertions.decodeInPlace;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.pgmux.protocol.MessageAssertions.Decoder;
import dev.pgmux.protocol.ProtocolException;
import dev.pgmux.protocol.WireBytes;
import dev.pgmux.protocol.backend.RowDescription.Field;
import io.netty.buffer.PooledByteBufAllocator;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Every backend message byte by byte (protocol docs, "Message Formats"): the expected bytes are written by hand
 * (literals or {@link WireBytes}), encoded after other bytes, decoded back in place, and malformed variants are
 * refused with 08P01.
 */
class BackendMessageTest {

    /** A message and its exact encoding, with the decoder of its own type. */
    record Case(BackendMessage message, byte[] bytes, Decoder<?> typed) {
        @Override
        public String toString() {
            return message.getClass().getSimpleName() + " " + Arrays.toString(bytes);
        }
    }

    private static Case c(BackendMessage message, byte[] bytes, Decoder<?> typed) {
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
        byte[] secret32 = new byte[32];
        for (int i = 0; i < 32; i++) {
            secret32[i] = (byte) (i * 7);
        }
        byte[] secret256 = new byte[256];
        Arrays.fill(secret256, (byte) 0xFF);
        String longMechanism = "A-MECHANISM-NAME-THAT-OVERFLOWS-SIXTY-FOUR-BYTES-OF-INITIAL-CAPACITY";
        List<String> longOptions = List.of("_pq_.x", "_pq_.an_option_name_longer_than_thirty_two_bytes");
        List<byte[]> row = new ArrayList<>();
        row.add(ascii("42"));
        row.add(null);
        row.add(new byte[0]);
        return Stream.of(
                c(new AuthenticationOk(), b('R', 0, 0, 0, 8, 0, 0, 0, 0), AuthenticationOk::decode),
                c(new AuthenticationCleartextPassword(), b('R', 0, 0, 0, 8, 0, 0, 0, 3),
                        AuthenticationCleartextPassword::decode),
                c(new AuthenticationMD5Password(b(1, 2, 3, 0xFE)), b('R', 0, 0, 0, 12, 0, 0, 0, 5, 1, 2, 3, 0xFE),
                        AuthenticationMD5Password::decode),
                c(new AuthenticationSASL(List.of("SCRAM-SHA-256")),
                        b('R', 0, 0, 0, 23, 0, 0, 0, 10,
                                'S', 'C', 'R', 'A', 'M', '-', 'S', 'H', 'A', '-', '2', '5', '6', 0, 0),
                        AuthenticationSASL::decode),
                c(new AuthenticationSASL(List.of("SCRAM-SHA-256-PLUS", "SCRAM-SHA-256", longMechanism)),
                        WireBytes.of().int32(10).cstring("SCRAM-SHA-256-PLUS").cstring("SCRAM-SHA-256")
                                .cstring(longMechanism).int8(0).message('R'),
                        AuthenticationSASL::decode),
                c(new AuthenticationSASL(List.of()), b('R', 0, 0, 0, 9, 0, 0, 0, 10, 0), AuthenticationSASL::decode),
                c(new AuthenticationSASLContinue(ascii("r=abc,s=c2FsdA==,i=4096")),
                        WireBytes.of().int32(11).raw("r=abc,s=c2FsdA==,i=4096").message('R'),
                        AuthenticationSASLContinue::decode),
                c(new AuthenticationSASLContinue(new byte[0]), b('R', 0, 0, 0, 8, 0, 0, 0, 11),
                        AuthenticationSASLContinue::decode),
                c(new AuthenticationSASLFinal(ascii("v=dmVyaWZpZXI=")),
                        WireBytes.of().int32(12).raw("v=dmVyaWZpZXI=").message('R'), AuthenticationSASLFinal::decode),
                c(new AuthenticationOther(Authentication.GSS, new byte[0]), b('R', 0, 0, 0, 8, 0, 0, 0, 7),
                        AuthenticationOther::decode),
                c(new AuthenticationOther(Authentication.GSS_CONTINUE, b(1, 0, 2)),
                        b('R', 0, 0, 0, 11, 0, 0, 0, 8, 1, 0, 2), AuthenticationOther::decode),
                c(new AuthenticationOther(-1, new byte[0]), b('R', 0, 0, 0, 8, 0xFF, 0xFF, 0xFF, 0xFF),
                        AuthenticationOther::decode),
                c(new BackendKeyData(0x01020304, b(9, 8, 7, 6)), b('K', 0, 0, 0, 12, 1, 2, 3, 4, 9, 8, 7, 6),
                        BackendKeyData::decode),
                c(new BackendKeyData(-2, secret32), WireBytes.of().int32(-2).raw(secret32).message('K'),
                        BackendKeyData::decode),
                c(new BackendKeyData(77, secret256), WireBytes.of().int32(77).raw(secret256).message('K'),
                        BackendKeyData::decode),
                c(new ParameterStatus("TimeZone", "UTC"),
                        b('S', 0, 0, 0, 17, 'T', 'i', 'm', 'e', 'Z', 'o', 'n', 'e', 0, 'U', 'T', 'C', 0),
                        ParameterStatus::decode),
                c(new ParameterStatus("application_name", ""),
                        WireBytes.of().cstring("application_name").cstring("").message('S'), ParameterStatus::decode),
                c(new ParameterStatus("client_encoding", "ü€"),
                        WireBytes.of().cstring("client_encoding").raw(b(0xC3, 0xBC, 0xE2, 0x82, 0xAC)).int8(0)
                                .message('S'),
                        ParameterStatus::decode),
                // The version field holds the whole version code 3.2, as PostgreSQL writes it and libpq reads it.
                c(new NegotiateProtocolVersion(2, List.of("_pq_.a", "_pq_.bc")),
                        b('v', 0, 0, 0, 27,
                                0, 3, 0, 2,
                                0, 0, 0, 2,
                                '_', 'p', 'q', '_', '.', 'a', 0,
                                '_', 'p', 'q', '_', '.', 'b', 'c', 0),
                        NegotiateProtocolVersion::decode),
                c(new NegotiateProtocolVersion(0, List.of()), b('v', 0, 0, 0, 12, 0, 3, 0, 0, 0, 0, 0, 0),
                        NegotiateProtocolVersion::decode),
                c(new NegotiateProtocolVersion(1, longOptions),
                        WireBytes.of().int32(0x0003_0001).int32(2).cstring(longOptions.get(0))
                                .cstring(longOptions.get(1)).message('v'),
                        NegotiateProtocolVersion::decode),
                c(new ReadyForQuery(ReadyForQuery.IDLE), b('Z', 0, 0, 0, 5, 'I'), ReadyForQuery::decode),
                c(new ReadyForQuery(ReadyForQuery.IN_TRANSACTION), b('Z', 0, 0, 0, 5, 'T'), ReadyForQuery::decode),
                c(new ReadyForQuery(ReadyForQuery.FAILED_TRANSACTION), b('Z', 0, 0, 0, 5, 'E'), ReadyForQuery::decode),
                c(new CommandComplete("SELECT 1"), b('C', 0, 0, 0, 13, 'S', 'E', 'L', 'E', 'C', 'T', ' ', '1', 0),
                        CommandComplete::decode),
                c(new CommandComplete(""), b('C', 0, 0, 0, 5, 0), CommandComplete::decode),
                c(new EmptyQueryResponse(), b('I', 0, 0, 0, 4), EmptyQueryResponse::decode),
                c(new ParseComplete(), b('1', 0, 0, 0, 4), ParseComplete::decode),
                c(new BindComplete(), b('2', 0, 0, 0, 4), BindComplete::decode),
                c(new CloseComplete(), b('3', 0, 0, 0, 4), CloseComplete::decode),
                c(new NoData(), b('n', 0, 0, 0, 4), NoData::decode),
                c(new RowDescription(List.of(new Field("id", 16384, 1, 23, 4, -1, 0))),
                        b('T', 0, 0, 0, 27, 0, 1,
                                'i', 'd', 0,
                                0, 0, 0x40, 0,
                                0, 1,
                                0, 0, 0, 23,
                                0, 4,
                                0xFF, 0xFF, 0xFF, 0xFF,
                                0, 0),
                        RowDescription::decode),
                c(new RowDescription(List.of(new Field("name", 0, 0, 25, -1, -1, 0),
                                new Field("", 0, -32768, 17, -2, 68, 1))),
                        WireBytes.of().int16(2)
                                .cstring("name").int32(0).int16(0).int32(25).int16(-1).int32(-1).int16(0)
                                .cstring("").int32(0).int16(-32768).int32(17).int16(-2).int32(68).int16(1)
                                .message('T'),
                        RowDescription::decode),
                c(new RowDescription(List.of()), b('T', 0, 0, 0, 6, 0, 0), RowDescription::decode),
                c(new DataRow(row), b('D', 0, 0, 0, 20, 0, 3, 0, 0, 0, 2, '4', '2', 0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 0),
                        DataRow::decode),
                c(new DataRow(List.of()), b('D', 0, 0, 0, 6, 0, 0), DataRow::decode));
    }

    @ParameterizedTest
    @MethodSource("messages")
    void encodesByteExactAfterOtherBytes(Case c) {
        assertEncodes(c.message()::encode, c.message()::encode, c.bytes());
    }

    @ParameterizedTest
    @MethodSource("messages")
    void decodesBackInPlace(Case c) throws ProtocolException {
        assertSameMessage(decodeInPlace(c.bytes(), BackendMessage::decode), c.message());
        assertSameMessage(decodeInPlace(c.bytes(), c.typed()), c.message());
        if (c.message() instanceof Authentication) {
            assertSameMessage(decodeInPlace(c.bytes(), Authentication::decode), c.message());
        }
    }

    @ParameterizedTest
    @MethodSource("messages")
    void typedDecodersRefuseOtherTypes(Case c) {
        byte[] other = c.bytes().clone();
        other[0] = (byte) (other[0] == 'S' ? 'K' : 'S');
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
        byte[] opt = WireBytes.of().cstring("_pq_.a").bytes();
        byte[] field = WireBytes.of().cstring("id").int32(0).int16(0).int32(23).int16(4).int32(-1).int16(0).bytes();
        return Stream.of(
                // header
                bad("no length word", b('Z', 0, 0, 0), ReadyForQuery::decode),
                bad("length word too large", b('Z', 0, 0, 0, 6, 'I'), ReadyForQuery::decode),
                bad("length word too small", b('Z', 0, 0, 0, 4, 'I'), ReadyForQuery::decode),
                bad("negative length word", b('Z', 0xFF, 0xFF, 0xFF, 0xFF, 'I'), ReadyForQuery::decode),
                // Authentication
                bad("no authentication code", b('R', 0, 0, 0, 4), Authentication::decode),
                bad("half an authentication code", b('R', 0, 0, 0, 6, 0, 0), Authentication::decode),
                bad("AuthenticationOk with more", b('R', 0, 0, 0, 9, 0, 0, 0, 0, 0), AuthenticationOk::decode),
                bad("AuthenticationCleartextPassword with more", b('R', 0, 0, 0, 9, 0, 0, 0, 3, 1),
                        AuthenticationCleartextPassword::decode),
                bad("MD5 salt of 3 bytes", b('R', 0, 0, 0, 11, 0, 0, 0, 5, 1, 2, 3), AuthenticationMD5Password::decode),
                bad("MD5 salt of 5 bytes", b('R', 0, 0, 0, 13, 0, 0, 0, 5, 1, 2, 3, 4, 5),
                        AuthenticationMD5Password::decode),
                bad("unterminated SASL mechanism", WireBytes.of().int32(10).raw("SCRAM-SHA-256").message('R'),
                        AuthenticationSASL::decode),
                bad("SASL list without its final zero byte",
                        WireBytes.of().int32(10).cstring("SCRAM-SHA-256").message('R'), AuthenticationSASL::decode),
                bad("SASL list with bytes after its end",
                        WireBytes.of().int32(10).cstring("SCRAM-SHA-256").int8(0).raw("x").message('R'),
                        AuthenticationSASL::decode),
                bad("SASL list with no zero byte at all", b('R', 0, 0, 0, 8, 0, 0, 0, 10), AuthenticationSASL::decode),
                // BackendKeyData
                bad("BackendKeyData without process id", b('K', 0, 0, 0, 6, 0, 1), BackendKeyData::decode),
                bad("BackendKeyData without secret", b('K', 0, 0, 0, 8, 0, 0, 0, 1), BackendKeyData::decode),
                bad("secret of 3 bytes", b('K', 0, 0, 0, 11, 0, 0, 0, 1, 1, 2, 3), BackendKeyData::decode),
                bad("secret of 257 bytes", WireBytes.of().int32(1).raw(new byte[257]).message('K'),
                        BackendKeyData::decode),
                // ParameterStatus
                bad("empty ParameterStatus", b('S', 0, 0, 0, 4), ParameterStatus::decode),
                bad("unterminated name", WireBytes.of().raw("TimeZone").message('S'), ParameterStatus::decode),
                bad("no value", WireBytes.of().cstring("TimeZone").message('S'), ParameterStatus::decode),
                bad("unterminated value", WireBytes.of().cstring("TimeZone").raw("UTC").message('S'),
                        ParameterStatus::decode),
                bad("ParameterStatus with more", WireBytes.of().cstring("a").cstring("b").cstring("c").message('S'),
                        ParameterStatus::decode),
                // NegotiateProtocolVersion
                bad("no option count", WireBytes.of().int32(2).message('v'), NegotiateProtocolVersion::decode),
                bad("negative option count", WireBytes.of().int32(2).int32(-1).message('v'),
                        NegotiateProtocolVersion::decode),
                bad("fewer options than counted", WireBytes.of().int32(2).int32(3).raw(opt).message('v'),
                        NegotiateProtocolVersion::decode),
                bad("option count beyond the frame", WireBytes.of().int32(2).int32(100).message('v'),
                        NegotiateProtocolVersion::decode),
                bad("huge option count", WireBytes.of().int32(2).int32(Integer.MAX_VALUE).raw(opt).message('v'),
                        NegotiateProtocolVersion::decode),
                bad("unterminated option", WireBytes.of().int32(2).int32(1).raw("_pq_.a").message('v'),
                        NegotiateProtocolVersion::decode),
                bad("more options than counted", WireBytes.of().int32(2).int32(1).raw(opt).raw(opt).message('v'),
                        NegotiateProtocolVersion::decode),
                // ReadyForQuery
                bad("no transaction status", b('Z', 0, 0, 0, 4), ReadyForQuery::decode),
                bad("unknown transaction status", b('Z', 0, 0, 0, 5, 'X'), ReadyForQuery::decode),
                bad("ReadyForQuery with more", b('Z', 0, 0, 0, 6, 'I', 'I'), ReadyForQuery::decode),
                // CommandComplete
                bad("empty CommandComplete", b('C', 0, 0, 0, 4), CommandComplete::decode),
                bad("unterminated tag", WireBytes.of().raw("SELECT 1").message('C'), CommandComplete::decode),
                bad("CommandComplete with more", WireBytes.of().cstring("SELECT 1").int8(1).message('C'),
                        CommandComplete::decode),
                // messages without a body
                bad("EmptyQueryResponse with a body", b('I', 0, 0, 0, 5, 0), EmptyQueryResponse::decode),
                bad("ParseComplete with a body", b('1', 0, 0, 0, 5, 0), ParseComplete::decode),
                bad("BindComplete with a body", b('2', 0, 0, 0, 5, 0), BindComplete::decode),
                bad("CloseComplete with a body", b('3', 0, 0, 0, 5, 0), CloseComplete::decode),
                bad("NoData with a body", b('n', 0, 0, 0, 5, 0), NoData::decode),
                // RowDescription
                bad("no field count", b('T', 0, 0, 0, 4), RowDescription::decode),
                bad("half a field count", b('T', 0, 0, 0, 5, 0), RowDescription::decode),
                bad("fewer fields than counted", WireBytes.of().int16(2).raw(field).message('T'),
                        RowDescription::decode),
                bad("field count beyond the frame", WireBytes.of().int16(0xFFFF).raw(field).message('T'),
                        RowDescription::decode),
                bad("field without format code",
                        WireBytes.of().int16(1).raw(Arrays.copyOf(field, field.length - 2)).int16(0).int16(0)
                                .message('T'),
                        RowDescription::decode),
                bad("field cut short", WireBytes.of().int16(1).raw(Arrays.copyOf(field, field.length - 1))
                        .message('T'), RowDescription::decode),
                bad("unterminated field name", WireBytes.of().int16(1).raw(new byte[] {'i', 'd', 1, 2, 3, 4, 5, 6, 7,
                        8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19}).message('T'), RowDescription::decode),
                bad("RowDescription with more", WireBytes.of().int16(1).raw(field).int8(0).message('T'),
                        RowDescription::decode),
                // DataRow
                bad("no column count", b('D', 0, 0, 0, 4), DataRow::decode),
                bad("no value length", b('D', 0, 0, 0, 6, 0, 1), DataRow::decode),
                bad("value length -2", b('D', 0, 0, 0, 10, 0, 1, 0xFF, 0xFF, 0xFF, 0xFE), DataRow::decode),
                bad("value longer than the frame", b('D', 0, 0, 0, 13, 0, 1, 0, 0, 0, 10, 1, 2, 3), DataRow::decode),
                bad("fewer values than counted", b('D', 0, 0, 0, 12, 0, 2, 0, 0, 0, 2, 1, 2), DataRow::decode),
                bad("column count beyond the frame", b('D', 0, 0, 0, 10, 0xFF, 0xFF, 0, 0, 0, 0), DataRow::decode),
                bad("DataRow with more", b('D', 0, 0, 0, 11, 0, 1, 0xFF, 0xFF, 0xFF, 0xFF, 0), DataRow::decode));
    }

    @ParameterizedTest
    @MethodSource("malformed")
    void refusesMalformedMessages(Bad bad) {
        assertMalformed(bad.bytes(), BackendMessage::decode);
        assertMalformed(bad.bytes(), bad.typed());
    }

    @Test
    void malformedMessagesSayWhatIsWrong() {
        assertThatThrownBy(() -> decodeInPlace(WireBytes.of().cstring("TimeZone").raw("UTC").message('S'),
                BackendMessage::decode))
                .hasMessage("malformed ParameterStatus: string without terminator");
        assertThatThrownBy(() -> decodeInPlace(b('K', 0, 0, 0, 11, 0, 0, 0, 1, 1, 2, 3), BackendMessage::decode))
                .hasMessage("malformed BackendKeyData: secret of 3 bytes (4 to 256 allowed)");
        assertThatThrownBy(() -> decodeInPlace(b('Z', 0, 0, 0, 6, 'I'), BackendMessage::decode))
                .hasMessage("invalid length 6 in message of type 'Z' (5 bytes follow the type byte)");
        assertThatThrownBy(() -> decodeInPlace(b('Z', 0, 0, 0, 5, 'I'), ParameterStatus::decode))
                .hasMessage("expected ParameterStatus (type 'S'), got a message of type 'Z'");
    }

    // ---------------------------------------------------------------- what decode chooses

    @Test
    void typesWithoutARecordDecodeToNull() throws ProtocolException {
        byte[] error = WireBytes.of().int8('S').cstring("FATAL").int8('C').cstring("28000").int8(0).message('E');
        assertThat(decodeInPlace(error, BackendMessage::decode)).isNull();
        assertThat(decodeInPlace(b('N', 0, 0, 0, 5, 0), BackendMessage::decode)).isNull();
        assertThat(decodeInPlace(b('d', 0, 0, 0, 7, 1, 2, 3), BackendMessage::decode)).isNull();
        assertThat(decodeInPlace(b(0, 0, 0, 0, 4), BackendMessage::decode)).isNull();
        assertMalformed(b('E', 0, 0, 0, 9, 0), BackendMessage::decode); // but their header is checked
    }

    @Test
    void eachAuthenticationRecordTakesOnlyItsCode() {
        byte[] ok = b('R', 0, 0, 0, 8, 0, 0, 0, 0);
        byte[] cleartext = b('R', 0, 0, 0, 8, 0, 0, 0, 3);
        assertMalformed(cleartext, AuthenticationOk::decode);
        assertMalformed(ok, AuthenticationCleartextPassword::decode);
        assertMalformed(ok, AuthenticationMD5Password::decode);
        assertMalformed(ok, AuthenticationSASL::decode);
        assertMalformed(ok, AuthenticationSASLContinue::decode);
        assertMalformed(ok, AuthenticationSASLFinal::decode);
        assertMalformed(ok, AuthenticationOther::decode);
        assertMalformed(b('R', 0, 0, 0, 8, 0, 0, 0, 11), AuthenticationOther::decode);
    }

    @Test
    void decodesTheMinorVersionFromAVersionCodeOrABareMinor() throws ProtocolException {
        byte[] fromPostgres = WireBytes.of().int32(0x0003_0001).int32(0).message('v');
        byte[] asTheDocsSay = WireBytes.of().int32(2).int32(0).message('v');

        assertThat(decodeInPlace(fromPostgres, NegotiateProtocolVersion::decode))
                .isEqualTo(new NegotiateProtocolVersion(1, List.of()));
        assertThat(decodeInPlace(asTheDocsSay, NegotiateProtocolVersion::decode))
                .isEqualTo(new NegotiateProtocolVersion(2, List.of()));
    }

    @Test
    void codesAndMechanismsAreThoseOfTheDocs() {
        assertThat(List.of(Authentication.OK, Authentication.CLEARTEXT_PASSWORD, Authentication.MD5_PASSWORD,
                Authentication.SASL, Authentication.SASL_CONTINUE, Authentication.SASL_FINAL))
                .containsExactly(0, 3, 5, 10, 11, 12);
        assertThat(Authentication.SCRAM_SHA_256).isEqualTo("SCRAM-SHA-256");
        assertThat(Authentication.SCRAM_SHA_256_PLUS).isEqualTo("SCRAM-SHA-256-PLUS");
        assertThat(new AuthenticationSASLFinal(new byte[0]).code()).isEqualTo(12);
        assertThat(new AuthenticationOther(9, new byte[0]).code()).isEqualTo(Authentication.SSPI);
    }

    @Test
    void toStringShowsNoSecret() {
        byte[] secret = ascii("hunter2!");
        assertThat(new BackendKeyData(1, secret).toString()).doesNotContain("104, 117").doesNotContain("hunter2");
    }

    @Test
    void encodeWithAllocatorReturnsOneReleasableBuffer() {
        var out = new DataRow(Collections.nCopies(1000, ascii("a value long enough to grow the buffer")))
                .encode(PooledByteBufAllocator.DEFAULT);
        assertThat(out.refCnt()).isEqualTo(1);
        assertThat(bytes(out)).hasSize(5 + 2 + 1000 * (4 + 38));
    }

    // ---------------------------------------------------------------- what cannot be encoded

    @Test
    void refusesComponentsTheWireCannotCarry() {
        assertThatThrownBy(() -> new AuthenticationMD5Password(new byte[3])).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> new AuthenticationMD5Password(new byte[5])).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> new AuthenticationSASL(List.of(""))).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> new AuthenticationSASL(List.of("A\0B"))).isInstanceOf(IllegalArgumentException.class);
        for (int code : new int[] {0, 3, 5, 10, 11, 12}) {
            assertThatThrownBy(() -> new AuthenticationOther(code, new byte[0]))
                    .isInstanceOf(IllegalArgumentException.class);
        }
        assertThatThrownBy(() -> new BackendKeyData(1, new byte[3])).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> new BackendKeyData(1, new byte[257])).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> new ParameterStatus("a\0b", "c")).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> new ParameterStatus("a", "\0")).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> new NegotiateProtocolVersion(-1, List.of()))
                .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> new NegotiateProtocolVersion(0x10000, List.of()))
                .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> new NegotiateProtocolVersion(0, List.of("_pq_.\0")))
                .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> new ReadyForQuery((byte) 'X')).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> new CommandComplete("SELECT\0")).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> new Field("id", 0, 32768, 23, 4, -1, 0)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> new Field("id", 0, 0, 23, -32769, -1, 0)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> new Field("id", 0, 0, 23, 4, -1, 1 << 16)).isInstanceOf(IllegalArgumentException.class);
        Field id = new Field("id", 0, 0, 23, 4, -1, 0);
        assertThatThrownBy(() -> new RowDescription(Collections.nCopies(65536, id)))
                .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> new DataRow(Collections.nCopies(65536, (byte[]) null)))
                .isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void countsUpTo65535AreUnsignedOnTheWire() throws ProtocolException {
        DataRow wide = new DataRow(Collections.nCopies(65535, (byte[]) null));
        byte[] encoded = bytes(wide.encode(PooledByteBufAllocator.DEFAULT));
        assertThat(encoded).startsWith('D', 0, 0x04, 0, 0x02, 0xFF, 0xFF);
        assertThat(decodeInPlace(encoded, DataRow::decode).values()).hasSize(65535).containsOnlyNulls();
    }
}
