package dev.pgmux.auth;

import dev.pgmux.protocol.ErrorResponse;
import dev.pgmux.protocol.SqlState;
import dev.pgmux.protocol.backend.Authentication;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.Arrays;
import java.util.Base64;
import java.util.List;
import java.util.function.Supplier;

/**
 * The server side of one SCRAM-SHA-256 or SCRAM-SHA-256-PLUS exchange with a client (RFC 5802, RFC 7677; the
 * protocol docs' "SASL Authentication"), as PostgreSQL holds it in {@code auth-sasl.c} and {@code auth-scram.c}:
 * every check of theirs in their order, with their SQLSTATEs, messages and details, so that a client cannot tell
 * pgmux from a server by its answers to malformed messages.
 * <p>
 * The session sends AuthenticationSASL with {@link #mechanisms()}, then hands each 'p' message body the client sends
 * to {@link #onMessage}: a {@link Continue} is sent as AuthenticationSASLContinue, a {@link Done} as
 * AuthenticationSASLFinal (the client is authenticated), a {@link Failure} as the ErrorResponse that ends the login.
 * <p>
 * {@link #mock} holds the exchange PostgreSQL holds with a user it does not know: a salt derived from a secret and
 * the user name (the same on every attempt), the full exchange, and 28P01 at the end whatever the proof.
 * <p>
 * One exchange, on one thread; nothing is logged here, and the {@code toString()} of every step leaves out its bytes.
 */
public final class ScramServer {
    /** PostgreSQL's NAMEDATALEN - 1: longer user names are cut there. */
    static final int MAX_NAME_BYTES = 63;
    /** SCRAM_RAW_NONCE_LEN: the server's part of the nonce, before base64. */
    private static final int RAW_NONCE_LENGTH = 18;

    /** What a client message leads to. */
    public sealed interface Step permits Continue, Done, Failure {
    }

    /**
     * The exchange goes on: send AuthenticationSASLContinue with this message (the server-first-message; empty when
     * the client's SASLInitialResponse carried no initial response and must send its client-first-message next).
     */
    public record Continue(byte[] serverFirstMessage) implements Step {
        @Override
        public String toString() {
            return "Continue[" + serverFirstMessage.length + " bytes]";
        }
    }

    /**
     * The client proved its password: send AuthenticationSASLFinal with {@code serverFinalMessage}. {@code clientKey}
     * is the ClientKey the proof revealed (ClientProof XOR ClientSignature, whose hash matched StoredKey), with which
     * the proxy can prove the same password to a server holding the same verifier. It is as good as the password
     * there: never log it.
     */
    public record Done(byte[] serverFinalMessage, byte[] clientKey) implements Step {
        @Override
        public String toString() {
            return "Done[" + serverFinalMessage.length + " bytes]";
        }
    }

    /** The login fails with this error (FATAL), as PostgreSQL's would. */
    public record Failure(ErrorResponse error) implements Step {
    }

    private enum Phase { MECHANISM, CLIENT_FIRST, CLIENT_FINAL, FINISHED }

    private final String user;
    private final int iterations;
    private final byte[] salt;
    private final byte[] storedKey;
    private final byte[] serverKey;
    /** A mock exchange fails at its end whatever the client proves (auth-scram.c's "doomed"). */
    private final boolean doomed;
    private final ChannelBinding binding;
    private final Supplier<String> serverNonces;

    private Phase phase = Phase.MECHANISM;
    private boolean channelBindingInUse;
    private byte cbindFlag;
    private byte[] clientFirstBare;
    private byte[] clientNonce;
    private byte[] serverNonce;
    private byte[] serverFirst;

    private ScramServer(String user, int iterations, byte[] salt, byte[] storedKey, byte[] serverKey, boolean doomed,
                        ChannelBinding binding, Supplier<String> serverNonces) {
        this.user = truncate(user);
        this.iterations = iterations;
        this.salt = salt;
        this.storedKey = storedKey;
        this.serverKey = serverKey;
        this.doomed = doomed;
        this.binding = binding;
        this.serverNonces = serverNonces;
    }

    /**
     * An exchange that checks the client's proof against this verifier.
     *
     * @param user    the user name of the startup message (for the 28P01 message; SCRAM's own is ignored, as
     *                PostgreSQL ignores it)
     * @param binding the channel binding of the client's TLS connection, or null when it is not on TLS (or no
     *                binding can be offered): then only SCRAM-SHA-256 is offered
     */
    public static ScramServer forVerifier(String user, ScramVerifier verifier, ChannelBinding binding) {
        return forVerifier(user, verifier, binding, ScramServer::randomNonce);
    }

    /** As {@link #forVerifier(String, ScramVerifier, ChannelBinding)} with the server's nonces chosen here. */
    static ScramServer forVerifier(String user, ScramVerifier verifier, ChannelBinding binding,
                                   Supplier<String> serverNonces) {
        return new ScramServer(user, verifier.iterations(), verifier.salt(), verifier.storedKeyUnsafe(),
                verifier.serverKeyUnsafe(), false, binding, serverNonces);
    }

    /**
     * The exchange PostgreSQL holds with a user it does not know ({@code mock_scram_secret}): the salt is
     * HMAC-SHA-256(secret, user name)'s first 16 bytes, the same for a name on every attempt and unlike any other
     * name's, the iteration count 4096, and the exchange ends in 28P01 {@code password authentication failed for
     * user "NAME"} after the client's final message, once its proof has been computed (as PostgreSQL does, so that
     * timing does not tell).
     *
     * @param secret the proxy's random secret, the same for every mock exchange
     */
    public static ScramServer mock(String user, byte[] secret, ChannelBinding binding) {
        return mock(user, secret, binding, ScramServer::randomNonce);
    }

    static ScramServer mock(String user, byte[] secret, ChannelBinding binding, Supplier<String> serverNonces) {
        String name = truncate(user);
        byte[] salt = Arrays.copyOf(Crypto.hmac(secret, name.getBytes(StandardCharsets.UTF_8)),
                ScramVerifier.DEFAULT_SALT_LENGTH);
        return new ScramServer(name, ScramVerifier.DEFAULT_ITERATIONS, salt, new byte[Crypto.KEY_LENGTH],
                new byte[Crypto.KEY_LENGTH], true, binding, serverNonces);
    }

    /** The user name as PostgreSQL keeps it: at most 63 bytes of UTF-8, cut at a character boundary. */
    static String truncate(String user) {
        byte[] bytes = user.getBytes(StandardCharsets.UTF_8);
        if (bytes.length <= MAX_NAME_BYTES) {
            return user;
        }
        int end = MAX_NAME_BYTES;
        while (end > 0 && (bytes[end] & 0xC0) == 0x80) {
            end--; // not in the middle of a character
        }
        return new String(bytes, 0, end, StandardCharsets.UTF_8);
    }

    /**
     * The mechanisms to offer in AuthenticationSASL, in PostgreSQL's order ({@code scram_get_mechanisms}): the
     * channel-binding variant first when the client is on TLS.
     */
    public List<String> mechanisms() {
        return binding != null ? List.of(Authentication.SCRAM_SHA_256_PLUS, Authentication.SCRAM_SHA_256)
                : List.of(Authentication.SCRAM_SHA_256);
    }

    /** The error for a wrong password, as PostgreSQL words it ({@code auth_failed}). */
    public ErrorResponse passwordFailed() {
        return ErrorResponse.fatal(SqlState.INVALID_PASSWORD,
                "password authentication failed for user \"" + user + "\"");
    }

    /**
     * Takes the body of the client's next 'p' message: first SASLInitialResponse (mechanism, Int32 length, data;
     * length -1 for no initial response), then SASLResponse (data). Reads its readable bytes without moving the reader
     * index; the caller keeps the buffer. After a {@link Done} or a {@link Failure} the exchange is over.
     *
     * @throws IllegalStateException when called after the exchange ended
     */
    public Step onMessage(ByteBuf body) {
        if (phase == Phase.FINISHED) {
            throw new IllegalStateException("the SCRAM exchange is over");
        }
        byte[] bytes = ByteBufUtil.getBytes(body);
        try {
            Step step = phase == Phase.MECHANISM ? onInitialResponse(bytes) : exchange(bytes);
            if (!(step instanceof Continue)) {
                phase = Phase.FINISHED;
            }
            return step;
        } catch (Refused e) {
            phase = Phase.FINISHED;
            return new Failure(e.error);
        }
    }

    /** CheckSASLAuth's reading of SASLInitialResponse (auth-sasl.c), with pqformat.c's errors, and scram_init. */
    private Step onInitialResponse(byte[] in) throws Refused {
        int nul = indexOf(in, 0, (byte) 0);
        if (nul < 0) {
            throw new Refused(error(SqlState.PROTOCOL_VIOLATION, "invalid string in message", null));
        }
        byte[] mechanism = Arrays.copyOf(in, nul);
        if (binding != null && Arrays.equals(mechanism, Crypto.ascii(Authentication.SCRAM_SHA_256_PLUS))) {
            channelBindingInUse = true;
        } else if (!Arrays.equals(mechanism, Crypto.ascii(Authentication.SCRAM_SHA_256))) {
            // -PLUS without TLS too: it was not offered
            throw new Refused(error(SqlState.PROTOCOL_VIOLATION,
                    "client selected an invalid SASL authentication mechanism", null));
        }
        int at = nul + 1;
        if (in.length - at < 4) {
            throw insufficientData();
        }
        int length = (in[at] & 0xFF) << 24 | (in[at + 1] & 0xFF) << 16 | (in[at + 2] & 0xFF) << 8 | (in[at + 3] & 0xFF);
        at += 4;
        byte[] data = null;
        if (length != -1) {
            if (length < 0 || length > in.length - at) {
                throw insufficientData();
            }
            data = Arrays.copyOfRange(in, at, at + length);
            at += length;
        }
        if (at != in.length) {
            throw new Refused(error(SqlState.PROTOCOL_VIOLATION, "invalid message format", null));
        }
        phase = Phase.CLIENT_FIRST;
        if (data == null) {
            // no initial response: an empty challenge, answered by the client-first-message (scram_exchange)
            return new Continue(new byte[0]);
        }
        return exchange(data);
    }

    /** scram_exchange: one SCRAM message from the client. */
    private Step exchange(byte[] input) throws Refused {
        if (input.length == 0) {
            throw malformed("The message is empty.");
        }
        if (indexOf(input, 0, (byte) 0) >= 0) {
            throw malformed("Message length does not match input length.");
        }
        if (phase == Phase.CLIENT_FIRST) {
            readClientFirst(input);
            serverFirst = buildServerFirst();
            phase = Phase.CLIENT_FINAL;
            return new Continue(serverFirst.clone());
        }
        ClientFinal fin = readClientFinal(input);
        if (!MessageDigest.isEqual(fin.nonce(), concat(clientNonce, serverNonce))) { // verify_final_nonce
            throw new Refused(error(SqlState.PROTOCOL_VIOLATION, "invalid SCRAM response", "Nonce does not match."));
        }
        // verify_client_proof, computed in a mock exchange too so that its timing does not tell
        byte[] authMessage = concat(clientFirstBare, Crypto.ascii(","), serverFirst, Crypto.ascii(","),
                fin.withoutProof());
        byte[] clientSignature = Crypto.hmac(storedKey, authMessage);
        byte[] clientKey = Crypto.xor(fin.proof(), clientSignature);
        boolean proved = MessageDigest.isEqual(Crypto.sha256(clientKey), storedKey);
        if (!proved || doomed) {
            Arrays.fill(clientKey, (byte) 0);
            return new Failure(passwordFailed());
        }
        // build_server_final_message: v=base64(HMAC(ServerKey, AuthMessage))
        byte[] serverSignature = Crypto.hmac(serverKey, authMessage);
        return new Done(Crypto.ascii("v=" + Base64.getEncoder().encodeToString(serverSignature)), clientKey);
    }

    /** read_client_first_message. */
    private void readClientFirst(byte[] input) throws Refused {
        Cursor in = new Cursor(input);
        cbindFlag = in.peek();
        switch (cbindFlag) {
            case 'n' -> {
                if (channelBindingInUse) {
                    throw malformed("The client selected SCRAM-SHA-256-PLUS, but the SCRAM message does not include "
                            + "channel binding data.");
                }
                in.next();
                in.expectComma();
            }
            case 'y' -> {
                if (channelBindingInUse) {
                    throw malformed("The client selected SCRAM-SHA-256-PLUS, but the SCRAM message does not include "
                            + "channel binding data.");
                }
                if (binding != null) {
                    // RFC 5802 §6: the client supports binding and thinks the server does not, yet it was offered:
                    // a downgrade by someone in between
                    throw new Refused(error(SqlState.INVALID_AUTHORIZATION_SPECIFICATION,
                            "SCRAM channel binding negotiation error", "The client supports SCRAM channel binding "
                                    + "but thinks the server does not.  However, this server does support channel "
                                    + "binding."));
                }
                in.next();
                in.expectComma();
            }
            case 'p' -> {
                if (!channelBindingInUse) {
                    throw malformed("The client selected SCRAM-SHA-256 without channel binding, but the SCRAM message "
                            + "includes channel binding data.");
                }
                byte[] type = in.attrValue('p');
                if (!Arrays.equals(type, Crypto.ascii(binding.type()))) {
                    throw new Refused(error(SqlState.PROTOCOL_VIOLATION,
                            "unsupported SCRAM channel-binding type \"" + sanitize(type) + "\"", null));
                }
            }
            default -> throw malformed("Unexpected channel-binding flag \"" + sanitize(in.peek()) + "\".");
        }
        if (in.peek() == 'a') {
            throw new Refused(error(SqlState.FEATURE_NOT_SUPPORTED,
                    "client uses authorization identity, but it is not supported", null));
        }
        if (in.peek() != ',') {
            throw malformed("Unexpected attribute \"" + sanitize(in.peek()) + "\" in client-first-message.");
        }
        in.next();
        clientFirstBare = in.rest();
        if (in.peek() == 'm') {
            throw new Refused(error(SqlState.FEATURE_NOT_SUPPORTED, "client requires an unsupported SCRAM extension",
                    null));
        }
        in.attrValue('n'); // the SCRAM user name: PostgreSQL uses the startup message's
        clientNonce = in.attrValue('r');
        for (byte b : clientNonce) {
            if (b < 0x21 || b > 0x7E || b == ',') { // is_scram_printable: RFC 5802's "printable"
                throw new Refused(error(SqlState.PROTOCOL_VIOLATION, "non-printable characters in SCRAM nonce", null));
            }
        }
        while (!in.atEnd()) {
            in.anyAttr(); // extensions, ignored
        }
    }

    /** build_server_first_message: {@code r=<client nonce><server nonce>,s=<salt>,i=<iterations>}. */
    private byte[] buildServerFirst() {
        serverNonce = Crypto.ascii(serverNonces.get());
        return concat(Crypto.ascii("r="), clientNonce, serverNonce,
                Crypto.ascii(",s=" + Base64.getEncoder().encodeToString(salt) + ",i=" + iterations));
    }

    /**
     * What the client-final-message holds: its nonce, its proof, and the message without {@code ,p=<proof>}, which
     * the signatures cover.
     */
    private record ClientFinal(byte[] nonce, byte[] proof, byte[] withoutProof) {
    }

    /** read_client_final_message: {@code c=<binding>,r=<nonce>[,extensions],p=<proof>}. */
    private ClientFinal readClientFinal(byte[] input) throws Refused {
        Cursor in = new Cursor(input);
        byte[] channelBinding = in.attrValue('c');
        if (channelBindingInUse) {
            // c= is base64(gs2-header + channel-binding data); the gs2 header is "p=tls-server-end-point,,"
            byte[] expected = Crypto.ascii(Base64.getEncoder().encodeToString(
                    concat(Crypto.ascii("p=" + binding.type() + ",,"), binding.data())));
            if (!MessageDigest.isEqual(channelBinding, expected)) {
                throw new Refused(error(SqlState.INVALID_AUTHORIZATION_SPECIFICATION,
                        "SCRAM channel binding check failed", null));
            }
        } else if (!(Arrays.equals(channelBinding, Crypto.ascii("biws")) && cbindFlag == 'n') // "n,,"
                && !(Arrays.equals(channelBinding, Crypto.ascii("eSws")) && cbindFlag == 'y')) { // "y,,"
            throw new Refused(error(SqlState.PROTOCOL_VIOLATION,
                    "unexpected SCRAM channel-binding attribute in client-final-message", null));
        }
        byte[] nonce = in.attrValue('r');
        int proofStart;
        byte[] value;
        byte attr;
        do {
            proofStart = in.at - 1; // the comma before the attribute
            attr = in.peek();
            value = in.anyAttr();
        } while (attr != 'p');
        byte[] proof = Crypto.pgBase64Decode(value, 0, value.length);
        if (proof == null || proof.length != Crypto.KEY_LENGTH) {
            throw malformed("Malformed proof in client-final-message.");
        }
        if (!in.atEnd()) {
            throw malformed("Garbage found at the end of client-final-message.");
        }
        return new ClientFinal(nonce, proof, Arrays.copyOf(input, proofStart));
    }

    /** A read position in a SCRAM message, with auth-scram.c's attribute readers and their errors. */
    private static final class Cursor {
        private final byte[] text;
        int at;

        Cursor(byte[] text) {
            this.text = text;
        }

        boolean atEnd() {
            return at >= text.length;
        }

        /** The byte at the read position; 0 at the end, as C's string terminator. */
        byte peek() {
            return atEnd() ? 0 : text[at];
        }

        void next() {
            at++;
        }

        byte[] rest() {
            return Arrays.copyOfRange(text, at, text.length);
        }

        void expectComma() throws Refused {
            if (peek() != ',') {
                throw malformed("Comma expected, but found character \"" + sanitize(peek()) + "\".");
            }
            next();
        }

        /** read_attr_value: {@code ATTR=VALUE} up to the next comma (consumed) or the end. */
        byte[] attrValue(char attr) throws Refused {
            if (peek() != attr) {
                throw malformed("Expected attribute \"" + attr + "\" but found \"" + sanitize(peek()) + "\".");
            }
            next();
            if (peek() != '=') {
                throw malformed("Expected character \"=\" for attribute \"" + attr + "\".");
            }
            next();
            return value();
        }

        /** read_any_attr: a letter, then {@code =VALUE}. */
        byte[] anyAttr() throws Refused {
            byte attr = peek();
            if (attr == 0) {
                throw malformed("Attribute expected, but found end of string.");
            }
            if (!(attr >= 'A' && attr <= 'Z' || attr >= 'a' && attr <= 'z')) {
                throw malformed("Attribute expected, but found invalid character \"" + sanitize(attr) + "\".");
            }
            next();
            if (peek() != '=') {
                throw malformed("Expected character \"=\" for attribute \"" + (char) attr + "\".");
            }
            next();
            return value();
        }

        private byte[] value() {
            int comma = indexOf(text, at, (byte) ',');
            int end = comma < 0 ? text.length : comma;
            byte[] v = Arrays.copyOfRange(text, at, end);
            at = comma < 0 ? text.length : comma + 1;
            return v;
        }
    }

    /** sanitize_char: {@code 'c'} for a printable ASCII character, else {@code 0x..} of the byte. */
    private static String sanitize(byte c) {
        return c >= 0x21 && c <= 0x7E ? "'" + (char) c + "'" : String.format("0x%02x", c & 0xFF);
    }

    /** sanitize_str: printable ASCII kept, any other byte '?', at most 30 characters. */
    private static String sanitize(byte[] s) {
        StringBuilder out = new StringBuilder();
        for (int i = 0; i < s.length && i < 30; i++) {
            out.append(s[i] >= 0x21 && s[i] <= 0x7E ? (char) s[i] : '?');
        }
        return out.toString();
    }

    private static Refused malformed(String detail) {
        return new Refused(error(SqlState.PROTOCOL_VIOLATION, "malformed SCRAM message", detail));
    }

    private static Refused insufficientData() {
        return new Refused(error(SqlState.PROTOCOL_VIOLATION, "insufficient data left in message", null));
    }

    private static ErrorResponse error(String sqlState, String message, String detail) {
        return new ErrorResponse("FATAL", sqlState, message, detail, null);
    }

    /** An error that ends the exchange, thrown from deep in the readers as PostgreSQL's ereport(ERROR) is. */
    private static final class Refused extends Exception {
        final transient ErrorResponse error;

        Refused(ErrorResponse error) {
            super(error.message(), null, false, false);
            this.error = error;
        }
    }

    private static String randomNonce() {
        return Base64.getEncoder().encodeToString(Crypto.random(RAW_NONCE_LENGTH));
    }

    private static int indexOf(byte[] bytes, int from, byte b) {
        for (int i = from; i < bytes.length; i++) {
            if (bytes[i] == b) {
                return i;
            }
        }
        return -1;
    }

    private static byte[] concat(byte[]... parts) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (byte[] p : parts) {
            out.writeBytes(p);
        }
        return out.toByteArray();
    }
}
