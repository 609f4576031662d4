package dev.pgmux.auth;

import static org.assertj.core.api.Assertions.assertThat;

import dev.pgmux.protocol.ErrorResponse;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.PooledByteBufAllocator;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.constraints.Size;

/**
 * SCRAM messages come from unauthenticated clients: whatever their bytes, an exchange answers with a step, a failure
 * carrying one of PostgreSQL's SQLSTATEs for a login, never another exception, and it leaves the caller's buffer
 * as it was.
 */
class ScramServerProperties {
    private static final int TRIES = 2000;
    private static final ScramVerifier VERIFIER = ScramVerifier.generate("pencil".toCharArray());
    private static final ChannelBinding BINDING = new ChannelBinding(ChannelBinding.TLS_SERVER_END_POINT,
            new byte[32]);

    /** Feeds {@code body} from a pooled direct buffer with other bytes around it, and checks the step. */
    private static ScramServer.Step feed(ScramServer server, byte[] body) {
        ByteBuf buf = PooledByteBufAllocator.DEFAULT.directBuffer(body.length + 8);
        try {
            buf.writeInt(0x7F7F7F7F).writeBytes(body).writeInt(0x7F7F7F7F);
            ByteBuf slice = buf.slice(4, body.length);
            ScramServer.Step step = server.onMessage(slice);
            assertThat(slice.readerIndex()).isZero();
            assertThat(buf.refCnt()).as("neither released nor retained").isEqualTo(1);
            if (step instanceof ScramServer.Failure f) {
                ErrorResponse e = f.error();
                assertThat(e.severity()).isEqualTo("FATAL");
                // what PostgreSQL answers a broken SASL exchange with
                assertThat(e.sqlState()).isIn("08P01", "28P01", "28000", "0A000");
                assertThat(e.message()).isNotBlank();
            }
            return step;
        } finally {
            buf.release();
        }
    }

    private static ScramServer server(boolean tls, boolean mock) {
        ChannelBinding binding = tls ? BINDING : null;
        return mock ? ScramServer.mock("user", new byte[32], binding)
                : ScramServer.forVerifier("user", VERIFIER, binding);
    }

    @Property(tries = TRIES)
    void arbitraryInitialResponses(@ForAll @Size(max = 200) byte[] body, @ForAll boolean tls, @ForAll boolean mock) {
        feed(server(tls, mock), body);
    }

    @Property(tries = TRIES)
    void arbitraryClientFirstAndFinalMessages(@ForAll("mechanisms") String mechanism,
                                              @ForAll("messages") byte[] clientFirst,
                                              @ForAll("messages") byte[] clientFinal,
                                              @ForAll boolean tls, @ForAll boolean mock) {
        ScramServer server = server(tls, mock);
        byte[] mech = mechanism.getBytes(StandardCharsets.US_ASCII);
        byte[] initial = new byte[mech.length + 1 + 4 + clientFirst.length];
        System.arraycopy(mech, 0, initial, 0, mech.length);
        int at = mech.length + 1;
        initial[at] = (byte) (clientFirst.length >>> 24);
        initial[at + 1] = (byte) (clientFirst.length >>> 16);
        initial[at + 2] = (byte) (clientFirst.length >>> 8);
        initial[at + 3] = (byte) clientFirst.length;
        System.arraycopy(clientFirst, 0, initial, at + 4, clientFirst.length);
        if (feed(server, initial) instanceof ScramServer.Continue) {
            assertThat(feed(server, clientFinal)).isNotInstanceOf(ScramServer.Continue.class);
        }
    }

    @Provide
    Arbitrary<String> mechanisms() {
        return Arbitraries.of("SCRAM-SHA-256", "SCRAM-SHA-256-PLUS", "SCRAM-SHA-1", "");
    }

    /** Arbitrary bytes, and messages made of SCRAM's pieces so that the later checks are reached too. */
    @Provide
    Arbitrary<byte[]> messages() {
        Arbitrary<String> piece = Arbitraries.oneOf(
                Arbitraries.of("n,,", "y,,", "p=tls-server-end-point,,", "p=x,,", "n,a=b,", "n=", "n=user", "r=",
                        "r=abc", "r=abc" + "s".repeat(24), "c=biws", "c=eSws", "c=" + Base64.getEncoder()
                                .encodeToString("p=tls-server-end-point,,".getBytes(StandardCharsets.US_ASCII)),
                        "p=" + Base64.getEncoder().encodeToString(new byte[32]), "p=AAAA", "m=x", "x=1", ",", "=",
                        "\0", "\u00e9"),
                Arbitraries.strings().ofMaxLength(5));
        Arbitrary<byte[]> built = piece.list().ofMaxSize(8)
                .map(parts -> String.join(",", parts).getBytes(StandardCharsets.UTF_8));
        return Arbitraries.oneOf(built, Arbitraries.bytes().array(byte[].class).ofMaxSize(120));
    }
}
