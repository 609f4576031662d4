package dev.pgmux.protocol.frontend;

import static org.assertj.core.api.Assertions.assertThat;

import dev.pgmux.protocol.MessageAssertions;
import dev.pgmux.protocol.MessageAssertions.Decoder;
import dev.pgmux.protocol.Mutation;
import dev.pgmux.protocol.ProtocolException;
import dev.pgmux.protocol.WireBytes;
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
 * Frontend messages come from clients, before and after they log in: whatever the bytes, every decoder ends in a
 * message, in {@code null} for a type with no record, or in a {@link ProtocolException}, never in another
 * exception, and it neither moves the frame's indices nor releases nor retains it. What is encoded decodes to
 * itself.
 */
class FrontendMessageProperties {
    private static final int TRIES = 2000;
    private static final List<Decoder<?>> PASSWORD_DECODERS =
            List.of(PasswordMessage::decode, SASLInitialResponse::decode, SASLResponse::decode);

    private static void decodeOrRefuse(byte[] frame) {
        decodeOrRefuse(frame, FrontendMessage::decode);
        if (frame.length > 0 && frame[0] == 'p') {
            PASSWORD_DECODERS.forEach(d -> decodeOrRefuse(frame, d));
        }
    }

    private static void decodeOrRefuse(byte[] frame, Decoder<?> decoder) {
        try {
            MessageAssertions.decodeInPlace(frame, decoder); // checks indices and reference count
        } catch (ProtocolException e) {
            assertThat(e.sqlState()).isEqualTo("08P01");
            assertThat(e.getMessage()).isNotBlank();
        }
    }

    @Property(tries = TRIES)
    void arbitraryBytesDecodeOrFailWithProtocolException(@ForAll @Size(max = 300) byte[] frame) {
        decodeOrRefuse(frame);
    }

    @Property(tries = TRIES)
    void knownTypesWithArbitraryBodiesDecodeOrFailWithProtocolException(@ForAll("types") char type,
                                                                       @ForAll("bodies") byte[] body) {
        decodeOrRefuse(WireBytes.of().raw(body).message(type));
    }

    @Property(tries = TRIES)
    void mutatedMessagesDecodeOrFailWithProtocolException(@ForAll("messages") FrontendMessage message,
                                                          @ForAll("mutations") List<Mutation> mutations,
                                                          @ForAll boolean fixLength) {
        decodeOrRefuse(Mutation.applyAll(encode(message), mutations, fixLength));
    }

    @Property(tries = TRIES)
    void encodedMessagesDecodeToThemselves(@ForAll("messages") FrontendMessage message) throws ProtocolException {
        byte[] frame = encode(message);

        Decoder<?> decoder = switch (message) {
            case PasswordMessage m -> PasswordMessage::decode;
            case SASLInitialResponse m -> SASLInitialResponse::decode;
            case SASLResponse m -> SASLResponse::decode;
            default -> FrontendMessage::decode;
        };
        MessageAssertions.assertSameMessage(MessageAssertions.decodeInPlace(frame, decoder), message);
    }

    private static byte[] encode(FrontendMessage message) {
        return MessageAssertions.bytes(message.encode(PooledByteBufAllocator.DEFAULT));
    }

    // ---------------------------------------------------------------- generators

    @Provide
    Arbitrary<Character> types() {
        return Arbitraries.of('X', 'Q', 'S', 'H', 'p', 'P', 'D', 'C', 'B', 'E');
    }

    /** Bodies made of the protocol's pieces (small Int16s and Int32s, Strings, kind bytes), or random bytes. */
    @Provide
    Arbitrary<byte[]> bodies() {
        Arbitrary<byte[]> random = Arbitraries.bytes().array(byte[].class).ofMaxSize(300);
        Arbitrary<byte[]> piece = Arbitraries.oneOf(
                Arbitraries.of(-2, -1, 0, 1, 4, 23).map(i -> WireBytes.of().int32(i).bytes()),
                Arbitraries.of(0, 1, 2, 0xFFFF).map(i -> WireBytes.of().int16(i).bytes()),
                Arbitraries.of("", "SCRAM-SHA-256", "s1", "SELECT 1").map(s -> WireBytes.of().cstring(s).bytes()),
                Arbitraries.of("S", "P", "X", "n,,n=,r=abc").map(s -> WireBytes.of().raw(s).bytes()));
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

    @Provide
    Arbitrary<FrontendMessage> messages() {
        Arbitrary<Byte> kind = Arbitraries.of(FrontendMessage.STATEMENT, FrontendMessage.PORTAL);
        Arbitrary<byte[]> maybeData = Arbitraries.frequencyOf(Tuple.of(1, Arbitraries.just((byte[]) null)),
                Tuple.of(4, data(60)));
        return Arbitraries.oneOf(
                Arbitraries.of(new Terminate(), new Sync(), new Flush()),
                strings().map(Query::new),
                data(40).map(bytes -> {
                    for (int i = 0; i < bytes.length; i++) {
                        bytes[i] = bytes[i] == 0 ? 1 : bytes[i];
                    }
                    return new PasswordMessage(bytes);
                }),
                Combinators.combine(strings(), maybeData).as(SASLInitialResponse::new),
                data(100).map(SASLResponse::new),
                Combinators.combine(strings(), strings(),
                        Arbitraries.integers().array(int[].class).ofMaxSize(6)).as(Parse::new),
                Combinators.combine(kind, strings()).as(Describe::new),
                Combinators.combine(kind, strings()).as(Close::new));
    }

    @Provide
    Arbitrary<List<Mutation>> mutations() {
        return Mutation.some();
    }
}
