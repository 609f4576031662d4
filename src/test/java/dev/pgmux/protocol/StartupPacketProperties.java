package dev.pgmux.protocol;

import static org.assertj.core.api.Assertions.assertThat;

import dev.pgmux.protocol.StartupPacket.StartupMessage;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.PooledByteBufAllocator;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.Tuple;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.constraints.Size;

/**
 * Startup packets come from unauthenticated peers: whatever the bytes, decoding ends in a packet or a
 * {@link ProtocolException} (which becomes a FATAL ErrorResponse), never in another exception that would skip the
 * error reply, and it neither releases nor retains the caller's buffer.
 */
class StartupPacketProperties {
    private static final int TRIES = 2000;

    /**
     * Decodes {@code packet} from a pooled direct buffer, with other bytes before and after it so that a read
     * outside the packet would show, and checks the buffer's reference count on the way.
     */
    private static StartupPacket decodeOrNull(byte[] packet, int before) {
        ByteBuf buf = PooledByteBufAllocator.DEFAULT.directBuffer(before + packet.length + 4);
        try {
            buf.writeZero(before).writeBytes(packet).writeInt(0x7F7F7F7F);
            ByteBuf slice = buf.slice(before, packet.length);
            try {
                return StartupPacket.decode(slice);
            } catch (ProtocolException e) {
                assertThat(e.sqlState()).isIn("08P01", "0A000", "28000");
                assertThat(e.getMessage()).isNotBlank();
                return null;
            } finally {
                assertThat(buf.refCnt()).as("decode neither releases nor retains").isEqualTo(1);
            }
        } finally {
            buf.release();
            assertThat(buf.refCnt()).isZero();
        }
    }

    @Property(tries = TRIES)
    void arbitraryBytesDecodeOrFailWithProtocolException(@ForAll @Size(max = 300) byte[] packet,
                                                         @ForAll @IntRange(max = 16) int before) {
        decodeOrNull(packet, before);
    }

    @Property(tries = TRIES)
    void knownCodesWithArbitraryBodiesDecodeOrFailWithProtocolException(@ForAll("codes") int code,
                                                                       @ForAll("bodies") byte[] body) {
        byte[] packet = WireBytes.of().int32(code).raw(body).bytes();

        StartupPacket p = decodeOrNull(packet, 3);

        if (p instanceof StartupMessage m) {
            assertThat(m.major()).isEqualTo(3);
            assertThat(m.user()).isNotEmpty();
            assertThat(m.parameters().keySet()).noneMatch(k -> k.isEmpty() || k.startsWith("_pq_."));
        }
    }

    @Property(tries = TRIES)
    void mutatedStartupMessagesDecodeOrFailWithProtocolException(@ForAll("mutatedStartupMessages") byte[] packet) {
        decodeOrNull(packet, 1);
    }

    @Property(tries = TRIES)
    void encodedMessagesDecodeToThemselves(@ForAll("startupMessages") StartupMessage message) {
        ByteBuf out = message.encode(PooledByteBufAllocator.DEFAULT);
        byte[] bytes;
        try {
            bytes = ByteBufUtil.getBytes(out);
        } finally {
            out.release();
        }
        assertThat(bytes.length).isEqualTo(lengthWord(bytes));

        StartupPacket decoded = decodeOrNull(Arrays.copyOfRange(bytes, 4, bytes.length), 0);

        assertThat(decoded).isEqualTo(message);
    }

    @Property(tries = TRIES)
    void lengthIsAcceptedExactlyInRange(@ForAll int length) {
        boolean inRange = length >= 8 && length <= 10_000;
        try {
            assertThat(StartupPacket.checkLength(length)).isEqualTo(length);
            assertThat(inRange).as("accepted " + length).isTrue();
        } catch (ProtocolException e) {
            assertThat(inRange).as("rejected " + length).isFalse();
            assertThat(e.sqlState()).isEqualTo("08P01");
        }
    }

    // ---------------------------------------------------------------- generators

    @Provide
    Arbitrary<Integer> codes() {
        return Arbitraries.of(196608, 196609, 196610, 196707, 131072, StartupPacket.SSL_REQUEST_CODE,
                StartupPacket.GSSENC_REQUEST_CODE, StartupPacket.CANCEL_REQUEST_CODE);
    }

    /** Bodies that are often made of NUL-terminated strings, so that the parameter parser gets far. */
    @Provide
    Arbitrary<byte[]> bodies() {
        Arbitrary<byte[]> random = Arbitraries.bytes().array(byte[].class).ofMaxSize(300);
        Arbitrary<byte[]> strings = Arbitraries.of("user", "database", "_pq_.x", "", "a", "options", "ü")
                .list().ofMaxSize(12)
                .map(list -> {
                    WireBytes b = WireBytes.of();
                    list.forEach(b::cstring);
                    return b.bytes();
                });
        return Arbitraries.frequencyOf(Tuple.of(1, random), Tuple.of(2, strings));
    }

    private static Arbitrary<String> names() {
        return Arbitraries.oneOf(
                Arbitraries.of("database", "options", "application_name", "replication", "client_encoding",
                        "_pq_.command_compression", "_pq_.x"),
                Arbitraries.strings().ofMinLength(1).ofMaxLength(12).excludeChars('\0'));
    }

    private static Arbitrary<String> values() {
        return Arbitraries.strings().ofMaxLength(20).excludeChars('\0');
    }

    @Provide
    Arbitrary<StartupMessage> startupMessages() {
        Arbitrary<Map<String, String>> others = Arbitraries.maps(
                names().filter(n -> !n.startsWith("_pq_.") && !n.equals("user")), values()).ofMaxSize(6);
        Arbitrary<String> user = values().filter(u -> !u.isEmpty());
        return Combinators.combine(Arbitraries.integers().between(0, 5), user, others, Arbitraries.integers().between(0, 6))
                .as((minor, u, rest, userPosition) -> {
                    Map<String, String> params = new LinkedHashMap<>();
                    List<Map.Entry<String, String>> entries = new ArrayList<>(rest.entrySet());
                    entries.add(Math.min(userPosition, entries.size()), Map.entry("user", u));
                    entries.forEach(e -> params.put(e.getKey(), e.getValue()));
                    return new StartupMessage(3, minor, params, List.of());
                });
    }

    /** A mutation of a packet: overwrite, delete or insert one byte, or cut the packet short. */
    private record Mutation(int kind, int position, byte value) {
        byte[] apply(byte[] in) {
            int n = in.length;
            return switch (kind) {
                case 0 -> {
                    if (n == 0) {
                        yield in;
                    }
                    byte[] out = in.clone();
                    out[position % n] = value;
                    yield out;
                }
                case 1 -> {
                    if (n == 0) {
                        yield in;
                    }
                    int p = position % n;
                    byte[] out = new byte[n - 1];
                    System.arraycopy(in, 0, out, 0, p);
                    System.arraycopy(in, p + 1, out, p, n - p - 1);
                    yield out;
                }
                case 2 -> {
                    int p = position % (n + 1);
                    byte[] out = new byte[n + 1];
                    System.arraycopy(in, 0, out, 0, p);
                    out[p] = value;
                    System.arraycopy(in, p, out, p + 1, n - p);
                    yield out;
                }
                default -> Arrays.copyOf(in, position % (n + 1));
            };
        }
    }

    @Provide
    Arbitrary<byte[]> mutatedStartupMessages() {
        Arbitrary<byte[]> valid = Combinators.combine(Arbitraries.integers().between(0, 3),
                        Arbitraries.maps(names(), values()).ofMaxSize(5), values())
                .as((minor, params, user) -> {
                    WireBytes b = WireBytes.of().int32((3 << 16) | minor).cstring("user").cstring(user);
                    params.forEach((k, v) -> b.cstring(k).cstring(v));
                    return b.int8(0).bytes();
                });
        Arbitrary<Byte> value = Arbitraries.frequencyOf(Tuple.of(1, Arbitraries.just((byte) 0)),
                Tuple.of(2, Arbitraries.bytes()));
        Arbitrary<Mutation> mutation = Combinators.combine(Arbitraries.integers().between(0, 3),
                Arbitraries.integers().between(0, 10_000), value).as(Mutation::new);
        return Combinators.combine(valid, mutation.list().ofMinSize(1).ofMaxSize(4)).as((packet, mutations) -> {
            byte[] out = packet;
            for (Mutation m : mutations) {
                out = m.apply(out);
            }
            return out;
        });
    }

    /** The Int32 length word at the start of an encoded packet. */
    private static int lengthWord(byte[] packet) {
        return ((packet[0] & 0xFF) << 24) | ((packet[1] & 0xFF) << 16) | ((packet[2] & 0xFF) << 8) | (packet[3] & 0xFF);
    }
}
