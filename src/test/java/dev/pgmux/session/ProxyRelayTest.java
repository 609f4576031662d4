package dev.pgmux.session;

import static org.assertj.core.api.Assertions.assertThat;

import dev.pgmux.protocol.StartupPacket.StartupMessage;
import dev.pgmux.protocol.backend.AuthenticationOk;
import dev.pgmux.protocol.backend.AuthenticationSASL;
import dev.pgmux.protocol.backend.AuthenticationSASLContinue;
import dev.pgmux.testing.TrackingAllocator;
import io.netty.buffer.ByteBuf;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** pgmux's own login to a server (auth: proxy): what it answers, and what it refuses from a server. */
class ProxyRelayTest {
    private final TrackingAllocator alloc = new TrackingAllocator();
    private final StartupMessage startup = new StartupMessage(3, 0, Map.of("user", "ann"), List.of());

    @AfterEach
    void released() {
        alloc.assertAllReleased();
    }

    private ProxyRelay relay() {
        return new ProxyRelay(startup, new ProxyRelay.BackendCredentials("ann", "pw".toCharArray(), null, null, null));
    }

    private List<AuthRelay.Decision> send(ProxyRelay relay, ByteBuf frame) {
        List<AuthRelay.Decision> out = relay.onMessage(frame, false, alloc);
        out.forEach(AuthRelay::release);
        return out;
    }

    private ByteBuf sasl() {
        return new AuthenticationSASL(List.of("SCRAM-SHA-256")).encode(alloc);
    }

    private ByteBuf serverFirst(String attributes) {
        return new AuthenticationSASLContinue(attributes.getBytes(StandardCharsets.UTF_8)).encode(alloc);
    }

    @Test
    void aServerThatSkipsTheLastScramStepIsRefused() {
        ProxyRelay relay = relay();
        assertThat(send(relay, sasl())).singleElement().isInstanceOf(AuthRelay.ToServer.class);

        List<AuthRelay.Decision> out = send(relay, new AuthenticationOk().encode(alloc));

        assertThat(out).singleElement().isInstanceOfSatisfying(AuthRelay.Fail.class,
                f -> assertThat(f.logReason()).contains("without proving"));
    }

    @Test
    void aServerAskingForTooManyIterationsIsRefusedBeforeAnyDerivation() {
        ProxyRelay relay = relay();
        send(relay, sasl());

        List<AuthRelay.Decision> out = send(relay, serverFirst("r=xyz,s=c2FsdA==,i=20000000"));

        assertThat(out).singleElement().isInstanceOfSatisfying(AuthRelay.Fail.class,
                f -> assertThat(f.logReason()).contains("20000000 SCRAM iterations"));
    }

    @Test
    void aClientKeyLoginStopsWhenTheServersVerifierIsAnotherOne() {
        ProxyRelay relay = new ProxyRelay(startup, new ProxyRelay.BackendCredentials("ann", null, new byte[32],
                new byte[32], null, "salt-of-the-route".getBytes(StandardCharsets.UTF_8), 4096));
        send(relay, sasl());

        List<AuthRelay.Decision> out = send(relay, serverFirst("r=xyz,s=c2FsdA==,i=4096"));

        assertThat(out).singleElement().isInstanceOfSatisfying(AuthRelay.Fail.class,
                f -> assertThat(f.logReason()).contains("not the route's client_password"));
    }

    @Test
    void anotherHostStartsAfresh() {
        ProxyRelay relay = relay();
        send(relay, sasl());
        relay.hostStarted();

        // the next host asks again: pgmux answers it, rather than relaying its request to the client
        assertThat(send(relay, sasl())).singleElement().isInstanceOf(AuthRelay.ToServer.class);
        assertThat(relay.clientTookPart()).isFalse();
    }
}
