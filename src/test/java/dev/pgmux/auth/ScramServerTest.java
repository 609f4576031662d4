package dev.pgmux.auth;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.ongres.scram.client.ScramClient;
import com.ongres.scram.common.ScramFunctions;
import com.ongres.scram.common.ScramMechanism;
import com.ongres.scram.common.StringPreparation;
import dev.pgmux.protocol.ErrorResponse;
import dev.pgmux.testing.TrackingAllocator;
import io.netty.buffer.ByteBuf;
import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The server side of SCRAM: RFC 7677's example byte for byte, full exchanges with com.ongres.scram's client (the one
 * pgjdbc uses) with and without channel binding, and PostgreSQL's answers to wrong and malformed messages.
 */
class ScramServerTest {
    static final String USER = "user";
    static final String PASSWORD = "pencil";
    static final byte[] BINDING_DATA = Crypto.sha256("the server's certificate".getBytes(StandardCharsets.UTF_8));
    static final ChannelBinding BINDING = new ChannelBinding(ChannelBinding.TLS_SERVER_END_POINT, BINDING_DATA);
    static final ScramVerifier VERIFIER = ScramVerifier.generate(PASSWORD.toCharArray());

    final TrackingAllocator alloc = new TrackingAllocator();

    @AfterEach
    void allReleased() {
        alloc.assertAllReleased();
    }

    // ---- RFC 7677 -----------------------------------------------------------------------------------------

    @Test
    void rfc7677ExampleByteForByte() {
        // RFC 7677 §3: user "user", password "pencil"
        byte[] salt = Base64.getDecoder().decode("W22ZaJ0SNY7soEsUEjb6gQ==");
        ScramVerifier verifier = ScramVerifier.fromPassword(PASSWORD.toCharArray(), salt, 4096);
        ScramServer server = ScramServer.forVerifier(USER, verifier, null, () -> "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0");

        ScramServer.Step first = step(server, initial("SCRAM-SHA-256", "n,,n=user,r=rOprNGfwEbeRWgbNEkqO"));
        assertThat(first).isInstanceOf(ScramServer.Continue.class);
        assertThat(text(((ScramServer.Continue) first).serverFirstMessage()))
                .isEqualTo("r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096");

        ScramServer.Step fin = step(server, bytes("c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
                + "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="));
        assertThat(fin).isInstanceOf(ScramServer.Done.class);
        ScramServer.Done done = (ScramServer.Done) fin;
        assertThat(text(done.serverFinalMessage())).isEqualTo("v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=");
        // ClientKey = HMAC(SaltedPassword, "Client Key"), computed here by the library's own PBKDF2
        byte[] salted = ScramFunctions.saltedPassword(ScramMechanism.SCRAM_SHA_256,
                StringPreparation.POSTGRESQL_PREPARATION, PASSWORD.toCharArray(), salt, 4096);
        assertThat(done.clientKey()).isEqualTo(ScramFunctions.clientKey(ScramMechanism.SCRAM_SHA_256, salted));
        assertThat(done.toString()).doesNotContain(Base64.getEncoder().encodeToString(done.clientKey()));
    }

    // ---- with com.ongres.scram's client -------------------------------------------------------------------

    @Test
    void mechanismsInPostgresOrder() {
        assertThat(ScramServer.forVerifier(USER, VERIFIER, null).mechanisms()).containsExactly("SCRAM-SHA-256");
        assertThat(ScramServer.forVerifier(USER, VERIFIER, BINDING).mechanisms())
                .containsExactly("SCRAM-SHA-256-PLUS", "SCRAM-SHA-256");
        assertThat(ScramServer.mock(USER, new byte[32], BINDING).mechanisms())
                .containsExactly("SCRAM-SHA-256-PLUS", "SCRAM-SHA-256");
    }

    @Test
    void aClientWithThePasswordLogsInWithoutChannelBinding() throws Exception {
        ScramServer server = ScramServer.forVerifier(USER, VERIFIER, null);
        ScramClient client = client(server.mechanisms(), PASSWORD, null);
        assertThat(client.getScramMechanism().getName()).isEqualTo("SCRAM-SHA-256");

        ScramServer.Done done = (ScramServer.Done) exchange(server, client);

        // the client checks the server's signature: the server knew the verifier
        client.serverFinalMessage(text(done.serverFinalMessage()));
        assertThat(Crypto.sha256(done.clientKey())).isEqualTo(VERIFIER.storedKey());
    }

    @Test
    void aClientWithThePasswordLogsInWithChannelBinding() throws Exception {
        ScramServer server = ScramServer.forVerifier(USER, VERIFIER, BINDING);
        ScramClient client = client(server.mechanisms(), PASSWORD, BINDING_DATA);
        assertThat(client.getScramMechanism().getName()).isEqualTo("SCRAM-SHA-256-PLUS");

        ScramServer.Done done = (ScramServer.Done) exchange(server, client);

        assertThat(lastClientFirst).startsWith("p=tls-server-end-point,,");

        client.serverFinalMessage(text(done.serverFinalMessage()));
    }

    @Test
    void aClientNotOnTlsMayNotBindOrChoosePlus() throws Exception {
        // a client that can bind but is not offered -PLUS says "y": fine where the server cannot bind either
        ScramServer server = ScramServer.forVerifier(USER, VERIFIER, null);
        ScramClient client = client(server.mechanisms(), PASSWORD, BINDING_DATA);
        assertThat(exchange(server, client)).isInstanceOf(ScramServer.Done.class);
        assertThat(lastClientFirst).startsWith("y,,");

        assertError(step(ScramServer.forVerifier(USER, VERIFIER, null),
                        initial("SCRAM-SHA-256-PLUS", "p=tls-server-end-point,,n=,r=abc")),
                "08P01", "client selected an invalid SASL authentication mechanism", null);
    }

    @Test
    void aWrongPasswordFailsWith28P01() throws Exception {
        ScramServer server = ScramServer.forVerifier(USER, VERIFIER, BINDING);
        ScramClient client = client(server.mechanisms(), "not pencil", BINDING_DATA);

        assertError(exchange(server, client), "28P01", "password authentication failed for user \"user\"", null);
        assertThatThrownBy(() -> step(server, bytes("c=biws"))).isInstanceOf(IllegalStateException.class);
    }

    @Test
    void otherBindingDataFailsTheBindingCheck() throws Exception {
        // the client's TLS ended elsewhere (a man in the middle): it binds to another certificate
        ScramServer server = ScramServer.forVerifier(USER, VERIFIER, BINDING);
        ScramClient client = client(server.mechanisms(), PASSWORD, Crypto.sha256(BINDING_DATA));

        assertError(exchange(server, client), "28000", "SCRAM channel binding check failed", null);
    }

    @Test
    void aClientThatThinksTheServerCannotBindWhileItCanIsADowngrade() throws Exception {
        // someone in between took -PLUS out of the list the client saw
        ScramServer server = ScramServer.forVerifier(USER, VERIFIER, BINDING);
        ScramClient client = client(List.of("SCRAM-SHA-256"), PASSWORD, BINDING_DATA);

        ScramServer.Step step = step(server, initial(client.getScramMechanism().getName(),
                client.clientFirstMessage().toString()));

        assertError(step, "28000", "SCRAM channel binding negotiation error", "The client supports SCRAM channel "
                + "binding but thinks the server does not.  However, this server does support channel binding.");
    }

    @Test
    void aReplayedFinalMessageFailsOnTheNonce() throws Exception {
        ScramServer first = ScramServer.forVerifier(USER, VERIFIER, null);
        ScramClient client = client(first.mechanisms(), PASSWORD, null);
        String clientFirst = client.clientFirstMessage().toString();
        ScramServer.Continue c = (ScramServer.Continue) step(first, initial("SCRAM-SHA-256", clientFirst));
        client.serverFirstMessage(text(c.serverFirstMessage()));
        String clientFinal = client.clientFinalMessage().toString();

        // the same two client messages to a new exchange, whose server nonce differs
        ScramServer second = ScramServer.forVerifier(USER, VERIFIER, null);
        assertThat(step(second, initial("SCRAM-SHA-256", clientFirst))).isInstanceOf(ScramServer.Continue.class);
        assertError(step(second, bytes(clientFinal)), "08P01", "invalid SCRAM response", "Nonce does not match.");
    }

    @Test
    void noInitialResponseGetsAnEmptyChallengeFirst() throws Exception {
        ScramServer server = ScramServer.forVerifier(USER, VERIFIER, null);
        ScramClient client = client(server.mechanisms(), PASSWORD, null);

        ScramServer.Step empty = step(server, initialWithoutResponse("SCRAM-SHA-256"));
        assertThat(((ScramServer.Continue) empty).serverFirstMessage()).isEmpty();
        ScramServer.Step first = step(server, bytes(client.clientFirstMessage().toString()));
        client.serverFirstMessage(text(((ScramServer.Continue) first).serverFirstMessage()));
        ScramServer.Step fin = step(server, bytes(client.clientFinalMessage().toString()));

        client.serverFinalMessage(text(((ScramServer.Done) fin).serverFinalMessage()));
    }

    // ---- the mock exchange --------------------------------------------------------------------------------

    @Test
    void aMockExchangeHasAStableSaltPerNameAndAlwaysFails() throws Exception {
        byte[] secret = Crypto.random(32);
        String salt = saltOf(ScramServer.mock("ghost", secret, null));
        assertThat(saltOf(ScramServer.mock("ghost", secret, null))).isEqualTo(salt);
        assertThat(saltOf(ScramServer.mock("another_ghost", secret, null))).isNotEqualTo(salt);
        assertThat(saltOf(ScramServer.mock("ghost", Crypto.random(32), null))).isNotEqualTo(salt);

        // whatever the client proves, with channel binding too
        ScramServer mock = ScramServer.mock("ghost", secret, BINDING);
        ScramClient client = client(mock.mechanisms(), PASSWORD, BINDING_DATA);
        assertError(exchange(mock, client), "28P01", "password authentication failed for user \"ghost\"", null);
    }

    @Test
    void aLongUserNameIsCutAsPostgresCutsIt() {
        String name = "ghost_" + "x".repeat(70);
        assertThat(ScramServer.mock(name, new byte[32], null).passwordFailed().message())
                .isEqualTo("password authentication failed for user \"" + name.substring(0, 63) + "\"");
        // at a character boundary: 62 bytes, then a 3-byte character that would end past byte 63
        String wide = "a".repeat(62) + "€";
        assertThat(ScramServer.forVerifier(wide, VERIFIER, null).passwordFailed().message())
                .isEqualTo("password authentication failed for user \"" + "a".repeat(62) + "\"");
    }

    // ---- malformed messages: PostgreSQL's answers ---------------------------------------------------------

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', nullValues = "-", textBlock = """
            n,,n=,r=x,m=y                     | -     | -
            ''                                | 08P01 | malformed SCRAM message / The message is empty.
            no gs2 header | 08P01 | malformed SCRAM message / Comma expected, but found character "'o'".
            x,,n=,r=x                         | 08P01 | malformed SCRAM message / Unexpected channel-binding flag "'x'".
            \u00e9,,n=,r=x | 08P01 | malformed SCRAM message / Unexpected channel-binding flag "0xc3".
            p=tls-server-end-point,,n=,r=x    | 08P01 | malformed SCRAM message / The client selected SCRAM-SHA-256 \
            without channel binding, but the SCRAM message includes channel binding data.
            n;,n=,r=x | 08P01 | malformed SCRAM message / Comma expected, but found character "';'".
            n,a=bob,n=,r=x                    | 0A000 | client uses authorization identity, but it is not supported
            n,x,n=,r=x                        | 08P01 | malformed SCRAM message / Unexpected attribute "'x'" in \
            client-first-message.
            n,,m=ext,n=,r=x                   | 0A000 | client requires an unsupported SCRAM extension
            n,,x=1,r=x | 08P01 | malformed SCRAM message / Expected attribute "n" but found "'x'".
            n,,n=,q=x | 08P01 | malformed SCRAM message / Expected attribute "r" but found "'q'".
            n,,n,r=x | 08P01 | malformed SCRAM message / Expected character "=" for attribute "n".
            n,,n=,r=a b                       | 08P01 | non-printable characters in SCRAM nonce
            n,,n=,r=x,1=2 | 08P01 | malformed SCRAM message / Attribute expected, but found invalid \
            character "'1'".
            n,,n=,r=x,e | 08P01 | malformed SCRAM message / Expected character "=" for attribute "e".
            n,,n=,r=x,                        | -     | -
            n,,n=,r=x,, | 08P01 | malformed SCRAM message / Attribute expected, but found invalid \
            character "','".
            """)
    void clientFirstMessages(String message, String sqlState, String error) {
        ScramServer server = ScramServer.forVerifier(USER, VERIFIER, null);
        ScramServer.Step step = step(server, initial("SCRAM-SHA-256", message));
        if (sqlState == null) {
            assertThat(step).isInstanceOf(ScramServer.Continue.class);
        } else {
            String[] parts = error.split(" / ");
            assertError(step, sqlState, parts[0], parts.length > 1 ? parts[1] : null);
        }
    }

    @Test
    void plusWithTheWrongFlagOrType() {
        assertError(step(ScramServer.forVerifier(USER, VERIFIER, BINDING), initial("SCRAM-SHA-256-PLUS", "n,,n=,r=x")),
                "08P01", "malformed SCRAM message", "The client selected SCRAM-SHA-256-PLUS, but the SCRAM message "
                        + "does not include channel binding data.");
        assertError(step(ScramServer.forVerifier(USER, VERIFIER, BINDING), initial("SCRAM-SHA-256-PLUS", "y,,n=,r=x")),
                "08P01", "malformed SCRAM message", "The client selected SCRAM-SHA-256-PLUS, but the SCRAM message "
                        + "does not include channel binding data.");
        assertError(step(ScramServer.forVerifier(USER, VERIFIER, BINDING),
                        initial("SCRAM-SHA-256-PLUS", "p=tls-unique\u00ff0123456789012345678901234567890,,n=,r=x")),
                "08P01", "unsupported SCRAM channel-binding type \"tls-unique??012345678901234567\"", null);
        // a client on TLS choosing SCRAM-SHA-256 with "n" is fine (it does not support binding)
        assertThat(step(ScramServer.forVerifier(USER, VERIFIER, BINDING), initial("SCRAM-SHA-256", "n,,n=,r=x")))
                .isInstanceOf(ScramServer.Continue.class);
    }

    @Test
    void initialResponseFraming() throws IOException {
        assertError(step(ScramServer.forVerifier(USER, VERIFIER, null), bytes("SCRAM-SHA-256")),
                "08P01", "invalid string in message", null);
        assertError(step(ScramServer.forVerifier(USER, VERIFIER, null), initial("SCRAM-SHA-1", "n,,n=,r=x")),
                "08P01", "client selected an invalid SASL authentication mechanism", null);
        assertError(step(ScramServer.forVerifier(USER, VERIFIER, null), bytes("SCRAM-SHA-256\0\0\0")),
                "08P01", "insufficient data left in message", null);
        assertError(step(ScramServer.forVerifier(USER, VERIFIER, null), framed("SCRAM-SHA-256", 99, "n,,n=,r=x")),
                "08P01", "insufficient data left in message", null);
        assertError(step(ScramServer.forVerifier(USER, VERIFIER, null), framed("SCRAM-SHA-256", -2, "")),
                "08P01", "insufficient data left in message", null);
        assertError(step(ScramServer.forVerifier(USER, VERIFIER, null), framed("SCRAM-SHA-256", 3, "n,,n=,r=x")),
                "08P01", "invalid message format", null);
        assertError(step(ScramServer.forVerifier(USER, VERIFIER, null), initial("SCRAM-SHA-256", "n,,n=\0,r=x")),
                "08P01", "malformed SCRAM message", "Message length does not match input length.");
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', nullValues = "-", textBlock = """
            c=eSws,r=NONCE,p=PROOF              | 08P01 | unexpected SCRAM channel-binding attribute in \
            client-final-message / -
            r=NONCE,p=PROOF                     | 08P01 | malformed SCRAM message / Expected attribute "c" but found \
            "'r'".
            c=biws                              | 08P01 | malformed SCRAM message / Expected attribute "r" but found \
            "0x00".
            c=biws,r=NONCE                      | 08P01 | malformed SCRAM message / Attribute expected, but found end \
            of string.
            c=biws,r=NONCE,p=AAAA               | 08P01 | malformed SCRAM message / Malformed proof in \
            client-final-message.
            c=biws,r=NONCE,p=PROOF,x=1          | 08P01 | malformed SCRAM message / Garbage found at the end of \
            client-final-message.
            c=biws,r=NONCEx,p=PROOF             | 08P01 | invalid SCRAM response / Nonce does not match.
            c=biws,r=NONCE,x=1,p=PROOF          | 28P01 | password authentication failed for user "user" / -
            c=biws,r=NONCE,p=PROOF,             | 28P01 | password authentication failed for user "user" / -
            """)
    void clientFinalMessages(String template, String sqlState, String error) {
        ScramServer server = ScramServer.forVerifier(USER, VERIFIER, null, () -> "servernonce");
        step(server, initial("SCRAM-SHA-256", "n,,n=,r=client"));
        String message = template.replace("NONCE", "clientservernonce")
                .replace("PROOF", Base64.getEncoder().encodeToString(new byte[32]));
        String[] parts = error.split(" / ");
        assertError(step(server, bytes(message)), sqlState, parts[0], parts[1].equals("-") ? null : parts[1]);
    }

    @Test
    void postgresBase64EdgesInTheProof() {
        // PostgreSQL's decoder takes characters after '=' (one byte per quantum) and refuses whitespace
        ScramServer server = ScramServer.forVerifier(USER, VERIFIER, null, () -> "s");
        step(server, initial("SCRAM-SHA-256", "n,,n=,r=c"));
        String proof = Base64.getEncoder().encodeToString(new byte[32]);
        assertError(step(server, bytes("c=biws,r=cs,p=" + proof.replace("A=", "A\n"))), "08P01",
                "malformed SCRAM message", "Malformed proof in client-final-message.");
    }

    @Test
    void theCallersBufferIsReadNotMovedNorReleased() {
        ScramServer server = ScramServer.forVerifier(USER, VERIFIER, null);
        ByteBuf body = alloc.buffer().writeBytes(new byte[] {9, 9}).writeBytes(initial("SCRAM-SHA-256", "n,,n=,r=x"));
        body.readerIndex(2);

        assertThat(server.onMessage(body)).isInstanceOf(ScramServer.Continue.class);

        assertThat(body.readerIndex()).isEqualTo(2);
        assertThat(body.refCnt()).isEqualTo(1);
        body.release();
    }

    // ---- helpers ------------------------------------------------------------------------------------------

    ScramServer.Step step(ScramServer server, byte[] body) {
        ByteBuf buf = alloc.of(body);
        try {
            return server.onMessage(buf);
        } finally {
            buf.release();
        }
    }

    /** The client-first-message of the last {@link #exchange}. */
    String lastClientFirst;

    /** Runs the client's two messages through the server; the last step. */
    ScramServer.Step exchange(ScramServer server, ScramClient client) throws Exception {
        lastClientFirst = client.clientFirstMessage().toString();
        ScramServer.Step first = step(server, initial(client.getScramMechanism().getName(), lastClientFirst));
        if (!(first instanceof ScramServer.Continue c)) {
            return first;
        }
        client.serverFirstMessage(text(c.serverFirstMessage()));
        return step(server, bytes(client.clientFinalMessage().toString()));
    }

    static ScramClient client(List<String> offered, String password, byte[] bindingData) {
        var builder = ScramClient.builder().advertisedMechanisms(offered).username(USER)
                .password(password.toCharArray());
        if (bindingData != null) {
            builder.channelBinding(ChannelBinding.TLS_SERVER_END_POINT, bindingData);
        }
        return builder.build();
    }

    String saltOf(ScramServer server) {
        ScramServer.Continue c = (ScramServer.Continue) step(server, initial("SCRAM-SHA-256", "n,,n=,r=x"));
        String first = text(c.serverFirstMessage());
        return first.substring(first.indexOf(",s="));
    }

    static void assertError(ScramServer.Step step, String sqlState, String message, String detail) {
        assertThat(step).isInstanceOf(ScramServer.Failure.class);
        ErrorResponse e = ((ScramServer.Failure) step).error();
        assertThat(e.severity()).isEqualTo("FATAL");
        assertThat(e.sqlState()).isEqualTo(sqlState);
        assertThat(e.message()).isEqualTo(message);
        assertThat(e.detail()).isEqualTo(detail);
    }

    /** A SASLInitialResponse body: mechanism, Int32 length, data. */
    static byte[] initial(String mechanism, String data) {
        byte[] d = data.getBytes(StandardCharsets.UTF_8);
        return framed(mechanism, d.length, data);
    }

    static byte[] initialWithoutResponse(String mechanism) {
        return framed(mechanism, -1, "");
    }

    static byte[] framed(String mechanism, int length, String data) {
        try {
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            DataOutputStream d = new DataOutputStream(out);
            d.write(mechanism.getBytes(StandardCharsets.UTF_8));
            d.writeByte(0);
            d.writeInt(length);
            d.write(data.getBytes(StandardCharsets.UTF_8));
            return out.toByteArray();
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    static String text(byte[] b) {
        return new String(b, StandardCharsets.UTF_8);
    }
}
