package dev.pgmux.protocol;

import java.util.Arrays;
import java.util.List;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.Tuple;

/**
 * A change to an encoded message, for property tests that feed decoders bytes close to valid ones: overwrite,
 * delete or insert one byte, or cut the message short.
 */
public record Mutation(int kind, int position, byte value) {

    /** One to three mutations; the values favour 0 and 0xFF (terminators, -1 lengths). */
    public static Arbitrary<List<Mutation>> some() {
        Arbitrary<Byte> value = Arbitraries.frequencyOf(Tuple.of(1, Arbitraries.just((byte) 0)),
                Tuple.of(1, Arbitraries.just((byte) 0xFF)), Tuple.of(2, Arbitraries.bytes()));
        return Combinators.combine(Arbitraries.integers().between(0, 3), Arbitraries.integers().between(0, 10_000), value)
                .as(Mutation::new).list().ofMinSize(1).ofMaxSize(3);
    }

    /**
     * Applies the mutations, then, if asked, sets the length word to the frame's size, so that the body decoders
     * rather than the header check meet the damage.
     */
    public static byte[] applyAll(byte[] frame, List<Mutation> mutations, boolean fixLength) {
        byte[] out = frame;
        for (Mutation m : mutations) {
            out = m.apply(out);
        }
        if (fixLength && out.length >= 5) {
            int length = out.length - 1;
            out[1] = (byte) (length >>> 24);
            out[2] = (byte) (length >>> 16);
            out[3] = (byte) (length >>> 8);
            out[4] = (byte) length;
        }
        return out;
    }

    public byte[] apply(byte[] in) {
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
