package dev.pgmux.protocol.backend;

import static org.assertj.core.api.Assertions.assertThat;

import dev.pgmux.protocol.MessageAssertions;
import dev.pgmux.protocol.MessageAssertions.Decoder;
import dev.pgmux.protocol.Mutation;
import dev.pgmux.protocol.ProtocolException;
import dev.pgmux.protocol.WireBytes;
import dev.pgmux.protocol.backend.RowDescription.Field;
import io.netty.buffer.PooledByteBufAllocator;
import java.util.List;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.Tuple;
import net.jqwik.api.arbitraries.ArrayArbitrary;
import net.jqwik.api.constraints.Size;

/**
 * Backend messages come from servers pgmux may not trust (and from whatever sits on the network before TLS):
 * whatever the bytes, decoding ends in a message, in {@code null} for a type with no record, or in a
 * {@link ProtocolException}, never in another exception, and it neither moves the frame's indices nor releases
 * nor retains it. What is encoded decodes to itself.
 */
class BackendMessageProperties {
    private static final int TRIES = 2000;
    private static final byte[] TYPES = {'R', 'K', 'S', 'v', 'Z', 'C', 'I', '1', '2', '3', 'n', 'T', 'D', 'E'};

    /** Decodes with every decoder that takes the frame's type; a ProtocolException counts as a refusal. */
    private static void decodeOrRefuse(byte[] frame) {
        decodeOrRefuse(frame, BackendMessage::decode);
        if (frame.length > 0 && frame[0] == Authentication.TYPE) {
            decodeOrRefuse(frame, Authentication::decode);
        }
    }

    private static Object decodeOrRefuse(byte[] frame, Decoder<?> decoder) {
        try {
            return MessageAssertions.decodeInPlace(frame, decoder); // checks indices and reference count
        } catch (ProtocolException e) {
            assertThat(e.sqlState()).isEqualTo("08P01");
            assertThat(e.getMessage()).isNotBlank();
            return null;
        }
    }

    @Property(tries = TRIES)
    void arbitraryBytesDecodeOrFailWithProtocolException(@ForAll @Size(max = 300) byte[] frame) {
        decodeOrRefuse(frame);
    }

    @Property(tries = TRIES)
    void knownTypesWithArbitraryBodiesDecodeOrFailWithProtocolException(@ForAll("types") byte type,
                                                                       @ForAll("bodies") byte[] body) {
        decodeOrRefuse(WireBytes.of().raw(body).message((char) (type & 0xFF)));
    }

    @Property(tries = TRIES)
    void mutatedMessagesDecodeOrFailWithProtocolException(@ForAll("messages") BackendMessage message,
                                                          @ForAll("mutations") List<Mutation> mutations,
                                                          @ForAll boolean fixLength) {
        decodeOrRefuse(Mutation.applyAll(encode(message), mutations, fixLength));
    }

    @Property(tries = TRIES)
    void encodedMessagesDecodeToThemselves(@ForAll("messages") BackendMessage message) throws ProtocolException {
        byte[] frame = encode(message);

        MessageAssertions.assertSameMessage(MessageAssertions.decodeInPlace(frame, BackendMessage::decode), message);
        assertThat(frame.length - 1).as("length word").isEqualTo(
                ((frame[1] & 0xFF) << 24) | ((frame[2] & 0xFF) << 16) | ((frame[3] & 0xFF) << 8) | (frame[4] & 0xFF));
    }

    private static byte[] encode(BackendMessage message) {
        return MessageAssertions.bytes(message.encode(PooledByteBufAllocator.DEFAULT));
    }

    // ---------------------------------------------------------------- generators

    @Provide
    Arbitrary<Byte> types() {
        Byte[] types = new Byte[TYPES.length];
        for (int i = 0; i < TYPES.length; i++) {
            types[i] = TYPES[i];
        }
        return Arbitraries.of(types);
    }

    /** Bodies made of the protocol's pieces (small Int16s and Int32s, Strings, zero bytes), or random bytes. */
    @Provide
    Arbitrary<byte[]> bodies() {
        Arbitrary<byte[]> random = Arbitraries.bytes().array(byte[].class).ofMaxSize(300);
        Arbitrary<byte[]> piece = Arbitraries.oneOf(
                Arbitraries.of(-1, 0, 1, 2, 3, 4, 5, 10, 11, 12, 0x0003_0002).map(i -> WireBytes.of().int32(i).bytes()),
                Arbitraries.of(0, 1, 2, 0xFFFF).map(i -> WireBytes.of().int16(i).bytes()),
                Arbitraries.of("", "SCRAM-SHA-256", "_pq_.x", "TimeZone", "I").map(s -> WireBytes.of().cstring(s).bytes()),
                Arbitraries.of("I", "T", "E", "X", "abc").map(s -> WireBytes.of().raw(s).bytes()));
        Arbitrary<byte[]> structured = piece.list().ofMaxSize(10).map(pieces -> {
            WireBytes b = WireBytes.of();
            pieces.forEach(b::raw);
            return b.bytes();
        });
        return Arbitraries.frequencyOf(Tuple.of(1, random), Tuple.of(3, structured));
    }

    private static Arbitrary<String> strings() {
        return Arbitraries.strings().ofMaxLength(20).excludeChars('\0');
    }

    private static ArrayArbitrary<Byte, byte[]> data(int max) {
        return Arbitraries.bytes().array(byte[].class).ofMaxSize(max);
    }

    private static Arbitrary<Integer> int16() {
        return Arbitraries.integers().between(Short.MIN_VALUE, Short.MAX_VALUE);
    }

    @Provide
    Arbitrary<BackendMessage> messages() {
        Arbitrary<Integer> anyInt = Arbitraries.integers();
        Arbitrary<Field> field = Combinators.combine(strings(), anyInt, int16(), anyInt, int16(), anyInt, int16())
                .as(Field::new);
        Arbitrary<byte[]> value = Arbitraries.frequencyOf(Tuple.of(1, Arbitraries.just((byte[]) null)), Tuple.of(4, data(20)));
        return Arbitraries.oneOf(
                Arbitraries.of(new AuthenticationOk(), new AuthenticationCleartextPassword(), new EmptyQueryResponse(),
                        new ParseComplete(), new BindComplete(), new CloseComplete(), new NoData()),
                data(4).ofMinSize(4).map(AuthenticationMD5Password::new),
                strings().filter(s -> !s.isEmpty()).list().ofMaxSize(4).map(AuthenticationSASL::new),
                data(100).map(AuthenticationSASLContinue::new),
                data(100).map(AuthenticationSASLFinal::new),
                Combinators.combine(anyInt.filter(c -> !List.of(0, 3, 5, 10, 11, 12).contains(c)), data(30))
                        .as(AuthenticationOther::new),
                Combinators.combine(anyInt, data(256).ofMinSize(4)).as(BackendKeyData::new),
                Combinators.combine(strings(), strings()).as(ParameterStatus::new),
                Combinators.combine(Arbitraries.integers().between(0, 0xFFFF), strings().list().ofMaxSize(4))
                        .as(NegotiateProtocolVersion::new),
                Arbitraries.of((byte) 'I', (byte) 'T', (byte) 'E').map(ReadyForQuery::new),
                strings().map(CommandComplete::new),
                field.list().ofMaxSize(5).map(RowDescription::new),
                value.list().ofMaxSize(8).map(DataRow::new));
    }

    @Provide
    Arbitrary<List<Mutation>> mutations() {
        return Mutation.some();
    }
}
