package dev.pgmux.session;

import static org.assertj.core.api.Assertions.assertThat;

import dev.pgmux.protocol.WireBytes;
import dev.pgmux.protocol.StartupPacket.StartupMessage;
import dev.pgmux.session.AuthRelay.Decision;
import dev.pgmux.session.AuthRelay.Drop;
import dev.pgmux.session.AuthRelay.Fail;
import dev.pgmux.session.AuthRelay.NextHost;
import dev.pgmux.session.AuthRelay.Ready;
import dev.pgmux.session.AuthRelay.Relay;
import dev.pgmux.session.AuthRelay.RelayError;
import dev.pgmux.session.AuthRelay.SwapKey;
import dev.pgmux.testing.TrackingAllocator;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * What {@link AuthRelay} decides for each message a server sends during a relayed login, and the exact bytes the
 * client would get. Server messages are given as bytes, each as a slice of a bigger buffer (as the server
 * connection hands them over), and every buffer, given or made, must be released by the end of the test.
 */
class AuthRelayTest {
    private static final byte[] AROUND = {(byte) 0xDE, (byte) 0xAD, 'Z', 0, 0, 0, 5, 'I'};

    private final TrackingAllocator alloc = new TrackingAllocator();
    private final List<ByteBuf> frames = new ArrayList<>();

    /** What a decision comes to, its buffers read (as printable text) and released. */
    private record Relayed(String bytes) {
    }

    private record Errored(String sqlState, String bytes) {
    }

    private record ReadyWith(String bytes) {
    }

    private record Swapped(int processId, String secret) {
    }

    private record Failed(String bytes, String logReason) {
    }

    @AfterEach
    void everythingReleased() {
        assertThat(frames).as("server messages").allSatisfy(f -> assertThat(f.refCnt()).isZero());
        alloc.assertAllReleased();
    }

    // ---------------------------------------------------------------- SASL: no channel binding through pgmux

    @Test
    void saslWithChannelBindingIsOfferedToTheClientWithout() {
        AuthRelay relay = relay(startup(0), false);

        List<Object> out = decide(relay, sasl("SCRAM-SHA-256-PLUS", "SCRAM-SHA-256"), true);

        assertThat(out).containsExactly(relayed(WireBytes.of()
                .int32(10).cstring("SCRAM-SHA-256").int8(0).message('R')));
        assertThat(relay.clientTookPart()).isTrue();
        assertThat(relay.lastAuthCode()).isEqualTo(10);
    }

    @Test
    void saslWithoutChannelBindingIsRelayedAsItCame() {
        AuthRelay relay = relay(startup(0), false);
        byte[] request = sasl("SCRAM-SHA-256");

        assertThat(decide(relay, request, true)).containsExactly(relayed(request));
    }

    @Test
    void saslOfferingOnlyChannelBindingFails() {
        AuthRelay relay = relay(startup(0), false);

        List<Object> out = decide(relay, sasl("SCRAM-SHA-256-PLUS"), true);

        assertThat(out).containsExactly(new Failed(printable(fatal("28000",
                "the server accepts only SCRAM-SHA-256-PLUS, whose channel binding cannot pass through pgmux", null)),
                "server offers only channel binding"));
    }

    // ---------------------------------------------------------------- MD5

    @Test
    void md5WithRenamedUserFails() {
        AuthRelay relay = relay(startup(0), true);

        List<Object> out = decide(relay, md5Request(), true);

        assertThat(out).containsExactly(new Failed(printable(fatal("28000",
                "the server asks for MD5 password authentication, which cannot work through pgmux when the user"
                        + " name is rewritten (the MD5 hash includes the user name)",
                "Use scram-sha-256 for this user on the server, or route it without renaming the user.")),
                "md5 with renamed user"));
    }

    @Test
    void md5WithoutRenameIsRelayedAsItCame() {
        AuthRelay relay = relay(startup(0), false);
        byte[] request = md5Request();

        assertThat(decide(relay, request, true)).containsExactly(relayed(request));
        assertThat(relay.clientTookPart()).isTrue();
        assertThat(relay.lastAuthCode()).isEqualTo(5);
    }

    // ---------------------------------------------------------------- BackendKeyData

    @ParameterizedTest
    @ValueSource(ints = {4, 32})
    void backendKeyDataIsSwappedForTheServersKey(int secretLength) {
        AuthRelay relay = relay(startup(secretLength == 4 ? 0 : 2), false);
        decide(relay, authenticationOk(), false);
        byte[] secret = new byte[secretLength];
        for (int i = 0; i < secretLength; i++) {
            secret[i] = (byte) (0xA0 + i);
        }

        List<Object> out = decide(relay, WireBytes.of().int32(0x01020304).raw(secret).message('K'), false);

        assertThat(out).containsExactly(new Swapped(0x01020304, HexFormat.of().formatHex(secret)));
    }

    @ParameterizedTest
    @ValueSource(ints = {3, 257})
    void malformedBackendKeyDataBeforeTheClientTookPartMovesToTheNextHost(int secretLength) {
        AuthRelay relay = relay(startup(2), false);

        List<Object> out = decide(relay, WireBytes.of().int32(7).raw(new byte[secretLength]).message('K'), true);

        assertThat(out).containsExactly(new NextHost("malformed BackendKeyData: secret of " + secretLength
                + " bytes (4 to 256 allowed)"));
        assertThat(relay.clientTookPart()).isFalse();
    }

    @ParameterizedTest
    @ValueSource(ints = {3, 257})
    void malformedBackendKeyDataAfterTheClientTookPartIsStillAHostFault(int secretLength) {
        // The server connection, committed by then, turns it into 08006 (ServerConnectionTest).
        AuthRelay relay = relay(startup(2), false);
        assertThat(decide(relay, authenticationOk(), true)).containsExactly(relayed(authenticationOk()));

        List<Object> out = decide(relay, WireBytes.of().int32(7).raw(new byte[secretLength]).message('K'), true);

        assertThat(out).containsExactly(new NextHost("malformed BackendKeyData: secret of " + secretLength
                + " bytes (4 to 256 allowed)"));
        assertThat(relay.clientTookPart()).isTrue();
    }

    // ---------------------------------------------------------------- protocol version negotiation

    @Test
    void clientAskingForANewerVersionGetsPgmuxsNegotiationBeforeTheFirstServerMessage() {
        AuthRelay relay = relay(new StartupMessage(3, 5, Map.of("user", "alice"), List.of()), false);

        List<Object> out = decide(relay, authenticationOk(), false);

        assertThat(out).containsExactly(relayed(negotiate(2)), relayed(authenticationOk()));
        assertThat(relay.protocolMinor()).isEqualTo(2);
        assertThat(decide(relay, parameterStatus("server_version", "18.0"), false))
                .as("negotiated once").containsExactly(relayed(parameterStatus("server_version", "18.0")));
    }

    @Test
    void clientSendingProtocolOptionsGetsThemListedAsUnrecognized() {
        AuthRelay relay = relay(new StartupMessage(3, 5, Map.of("user", "alice"),
                List.of("_pq_.compression", "_pq_.report_parameters")), false);

        List<Object> out = decide(relay, authenticationOk(), false);

        assertThat(out).containsExactly(relayed(negotiate(2, "_pq_.compression", "_pq_.report_parameters")),
                relayed(authenticationOk()));
    }

    @Test
    void clientOfAKnownVersionWithAnOptionIsToldItsOwnVersion() {
        // PostgreSQL answers with the client's own version when only an option is unknown.
        AuthRelay relay = relay(new StartupMessage(3, 0, Map.of("user", "alice"), List.of("_pq_.x")), false);

        assertThat(decide(relay, authenticationOk(), false)).containsExactly(relayed(negotiate(0, "_pq_.x")),
                relayed(authenticationOk()));
        assertThat(relay.protocolMinor()).isZero();
    }

    @Test
    void clientOfAKnownVersionWithoutOptionsGetsNoNegotiation() {
        AuthRelay relay = relay(startup(2), false);

        assertThat(decide(relay, authenticationOk(), false)).containsExactly(relayed(authenticationOk()));
        assertThat(relay.protocolMinor()).isEqualTo(2);
    }

    @Test
    void serverLoweringTheVersionIsPassedOn() {
        AuthRelay relay = relay(startup(2), false);

        assertThat(decide(relay, negotiate(0), false)).containsExactly(relayed(negotiate(0)));
        assertThat(relay.protocolMinor()).isZero();
        assertThat(decide(relay, authenticationOk(), false)).containsExactly(relayed(authenticationOk()));
    }

    @Test
    void serverLoweringTheVersionOfANewerClientIsTheOnlyNegotiation() {
        AuthRelay relay = relay(new StartupMessage(3, 5, Map.of("user", "alice"), List.of("_pq_.x")), false);

        List<Object> out = new ArrayList<>(decide(relay, negotiate(0), false));
        out.addAll(decide(relay, authenticationOk(), false));

        assertThat(out).containsExactly(relayed(negotiate(0, "_pq_.x")), relayed(authenticationOk()));
        assertThat(relay.protocolMinor()).isZero();
    }

    @Test
    void serverNegotiationAfterPgmuxsOwnIsNotSentAgain() {
        AuthRelay relay = relay(new StartupMessage(3, 5, Map.of("user", "alice"), List.of()), false);
        assertThat(decide(relay, parameterStatus("server_version", "18.0"), false))
                .containsExactly(relayed(negotiate(2)), relayed(parameterStatus("server_version", "18.0")));

        assertThat(decide(relay, negotiate(0), false)).containsExactly(new Drop());
    }

    @Test
    void serverNegotiationTellingTheClientNothingNewIsDropped() {
        AuthRelay relay = relay(startup(2), false);

        assertThat(decide(relay, negotiate(2), false)).containsExactly(new Drop());
        assertThat(relay.protocolMinor()).isEqualTo(2);
    }

    @Test
    void hostRefusingBeforeTheFirstMessageLeavesTheNegotiationToTheNextHost() {
        AuthRelay relay = relay(new StartupMessage(3, 5, Map.of("user", "alice"), List.of()), false);

        assertThat(decide(relay, tooManyClients(), true))
                .containsExactly(new NextHost("server refused the connection sqlstate=53300"));
        assertThat(decide(relay, authenticationOk(), false))
                .containsExactly(relayed(negotiate(2)), relayed(authenticationOk()));
    }

    // ---------------------------------------------------------------- errors

    @Test
    void errorBeforeAuthenticationWithALaterHostMovesToIt() {
        AuthRelay relay = relay(startup(0), false);
        ByteBuf frame = frame(tooManyClients());

        List<Decision> out = relay.onMessage(frame, true, alloc);

        assertThat(out).containsExactly(new NextHost("server refused the connection sqlstate=53300"));
        assertThat(frame.refCnt()).as("the server's error, released").isZero();
        assertThat(relay.clientTookPart()).isFalse();
        assertThat(relay.errorRelayed()).isFalse();
    }

    @Test
    void errorBeforeAuthenticationWithoutALaterHostIsRelayed() {
        AuthRelay relay = relay(startup(0), false);

        assertThat(decide(relay, tooManyClients(), false)).containsExactly(new Errored("53300", printable(tooManyClients())));
        assertThat(relay.errorRelayed()).isTrue();
        assertThat(relay.clientTookPart()).isTrue();
    }

    @Test
    void errorAfterAnAuthenticationRequestIsRelayedEvenWithALaterHost() {
        AuthRelay relay = relay(startup(0), false);
        decide(relay, sasl("SCRAM-SHA-256"), true);
        byte[] error = WireBytes.of().int8('S').cstring("FATAL").int8('V').cstring("FATAL").int8('C').cstring("28P01")
                .int8('M').cstring("password authentication failed for user \"alice\"").int8(0).message('E');

        assertThat(decide(relay, error, true)).containsExactly(new Errored("28P01", printable(error)));
        assertThat(relay.errorRelayed()).isTrue();
    }

    @Test
    void malformedAuthenticationRequestBeforeTheClientTookPartMovesToTheNextHost() {
        AuthRelay relay = relay(startup(0), false);

        assertThat(decide(relay, WireBytes.of().int8(0).message('R'), true))
                .containsExactly(new NextHost("invalid authentication request from backend"));
        assertThat(relay.clientTookPart()).isFalse();
    }

    // ---------------------------------------------------------------- the rest

    @Test
    void readyForQueryEndsTheLoginWithItsOwnBytes() {
        AuthRelay relay = relay(startup(0), false);
        byte[] ready = WireBytes.of().int8('I').message('Z');

        assertThat(decide(relay, ready, false)).containsExactly(new ReadyWith(printable(ready)));
    }

    @Test
    void otherMessagesAreRelayedUnchanged() {
        AuthRelay relay = relay(startup(0), false);
        List<byte[]> messages = List.of(
                parameterStatus("in_hot_standby", "off"),
                WireBytes.of().int32(11).raw("r=abc,s=c2FsdA==,i=4096").message('R'),
                WireBytes.of().int32(12).raw("v=c2lnbmF0dXJl").message('R'),
                authenticationOk(),
                WireBytes.of().int8('S').cstring("NOTICE").int8('C').cstring("00000").int8('M').cstring("hello")
                        .int8(0).message('N'),
                WireBytes.of().raw("unknown").message('?'));

        for (byte[] m : messages) {
            assertThat(decide(relay, m, true)).as(printable(m)).containsExactly(relayed(m));
        }
    }

    @Test
    void relayPassesOnTheServersBufferItself() {
        AuthRelay relay = relay(startup(0), false);
        ByteBuf frame = frame(parameterStatus("TimeZone", "UTC"));

        List<Decision> out = relay.onMessage(frame, true, alloc);

        assertThat(out).singleElement().isInstanceOfSatisfying(Relay.class,
                r -> assertThat(r.message()).isSameAs(frame));
        AuthRelay.release(out.get(0));
    }

    // ---------------------------------------------------------------- helpers

    private static AuthRelay relay(StartupMessage startup, boolean renamed) {
        return new AuthRelay(startup, renamed);
    }

    private static StartupMessage startup(int minor) {
        return new StartupMessage(3, minor, Map.of("user", "alice", "database", "app"), List.of());
    }

    /** A server message as the server connection hands it over: a slice of a buffer holding other bytes too. */
    private ByteBuf frame(byte[] message) {
        ByteBuf whole = alloc.buffer(message.length + 2 * AROUND.length)
                .writeBytes(AROUND).writeBytes(message).writeBytes(AROUND);
        ByteBuf frame = whole.retainedSlice(AROUND.length, message.length);
        whole.release();
        frames.add(frame);
        return frame;
    }

    record ToServerWith(String message) {
    }

    /** The decisions for one server message, each buffer read and released. */
    private List<Object> decide(AuthRelay relay, byte[] message, boolean laterHost) {
        List<Object> out = new ArrayList<>();
        for (Decision d : relay.onMessage(frame(message), laterHost, alloc)) {
            out.add(switch (d) {
                case Relay r -> new Relayed(take(r.message()));
                case RelayError e -> new Errored(e.sqlState(), take(e.message()));
                case Ready r -> new ReadyWith(take(r.message()));
                case SwapKey k -> new Swapped(k.processId(), HexFormat.of().formatHex(k.secret()));
                case Fail f -> new Failed(take(f.error().encode(alloc)), f.logReason());
                case NextHost n -> n;
                case Drop x -> x;
                case AuthRelay.ToServer t -> new ToServerWith(take(t.message()));
            });
        }
        return out;
    }

    private static String take(ByteBuf buf) {
        try {
            return printable(ByteBufUtil.getBytes(buf));
        } finally {
            buf.release();
        }
    }

    private static Relayed relayed(byte[] message) {
        return new Relayed(printable(message));
    }

    /** Bytes as text: printable ASCII as it is, every other byte as \xNN. */
    private static String printable(byte[] bytes) {
        StringBuilder s = new StringBuilder();
        for (byte b : bytes) {
            if (b >= 0x20 && b < 0x7F && b != '\\') {
                s.append((char) b);
            } else {
                s.append(String.format("\\x%02x", b & 0xFF));
            }
        }
        return s.toString();
    }

    private static byte[] sasl(String... mechanisms) {
        WireBytes b = WireBytes.of().int32(10);
        for (String m : mechanisms) {
            b.cstring(m);
        }
        return b.int8(0).message('R');
    }

    private static byte[] md5Request() {
        return WireBytes.of().int32(5).raw(new byte[] {0x11, 0x22, 0x33, 0x44}).message('R');
    }

    private static byte[] authenticationOk() {
        return WireBytes.of().int32(0).message('R');
    }

    private static byte[] parameterStatus(String name, String value) {
        return WireBytes.of().cstring(name).cstring(value).message('S');
    }

    /** NegotiateProtocolVersion as PostgreSQL writes it: the whole version code, then the options. */
    private static byte[] negotiate(int minor, String... options) {
        WireBytes b = WireBytes.of().int32((3 << 16) | minor).int32(options.length);
        for (String o : options) {
            b.cstring(o);
        }
        return b.message('v');
    }

    private static byte[] tooManyClients() {
        return WireBytes.of().int8('S').cstring("FATAL").int8('V').cstring("FATAL").int8('C').cstring("53300")
                .int8('M').cstring("sorry, too many clients already").int8(0).message('E');
    }

    /** pgmux's own FATAL ErrorResponse: S and V, C, M, and H when given. */
    private static byte[] fatal(String sqlState, String message, String hint) {
        WireBytes b = WireBytes.of().int8('S').cstring("FATAL").int8('V').cstring("FATAL")
                .int8('C').cstring(sqlState).int8('M').cstring(message);
        if (hint != null) {
            b.int8('H').cstring(hint);
        }
        return b.int8(0).message('E');
    }
}
