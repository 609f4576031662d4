package dev.pgmux.session;

import dev.pgmux.protocol.ErrorResponse;
import dev.pgmux.protocol.SqlState;
import dev.pgmux.protocol.Wire;
import dev.pgmux.protocol.backend.Authentication;
import dev.pgmux.protocol.backend.AuthenticationSASL;
import dev.pgmux.protocol.backend.AuthenticationSASLContinue;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.SecureRandom;
import java.util.Arrays;
import java.util.Base64;
import java.util.List;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * The SCRAM-SHA-256 exchange PostgreSQL holds with a user that does not exist, so that a client cannot tell an
 * unknown user name from a wrong password: the server asks for SCRAM, answers the client's first message with a
 * salt that is the same on every attempt for the same name (derived from a secret of the proxy's), checks the
 * client's final message as PostgreSQL does, and fails its proof with 28P01
 * {@code password authentication failed for user "NAME"}. The checks and messages follow PostgreSQL's
 * {@code auth-scram.c}; a client that sends malformed SCRAM gets the errors PostgreSQL gives.
 */
final class MockScram {
    static final String MECHANISM = Authentication.SCRAM_SHA_256;
    /** PostgreSQL's NAMEDATALEN - 1: longer user names are cut there. */
    static final int MAX_NAME_BYTES = 63;
    private static final int ITERATIONS = 4096;
    private static final SecureRandom RANDOM = new SecureRandom();

    /** What a client message leads to: an answer to write, or an error that ends the login. */
    sealed interface Step {
    }

    /** An answer, built when it is sent (it may wait: see the session's delays). */
    record Answer(byte[] serverFirst) implements Step {
        ByteBuf encode(ByteBufAllocator alloc) {
            return new AuthenticationSASLContinue(serverFirst).encode(alloc);
        }
    }

    record Failure(ErrorResponse error) implements Step {
    }

    private final byte[] secret;
    private final String user;
    private String gs2Header;
    private String nonce;

    /** @param secret the proxy's random secret, for salts that do not change between attempts */
    MockScram(byte[] secret, String user) {
        this.secret = secret;
        this.user = truncate(user);
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

    /** The first message: AuthenticationSASL offering SCRAM-SHA-256. */
    ByteBuf start(ByteBufAllocator alloc) {
        return new AuthenticationSASL(List.of(MECHANISM)).encode(alloc);
    }

    /** The error for a wrong password, as PostgreSQL words it. */
    ErrorResponse passwordFailed() {
        return ErrorResponse.fatal(SqlState.INVALID_PASSWORD, "password authentication failed for user \"" + user + "\"");
    }

    /**
     * Takes the body of one SASL message ('p') from the client and says what follows.
     */
    Step onMessage(ByteBuf body) {
        try {
            if (nonce == null) {
                return new Answer(onClientFirst(body));
            }
            onClientFinal(body.toString(StandardCharsets.UTF_8));
            return new Failure(passwordFailed()); // a well-formed proof: wrong, whatever it is
        } catch (Malformed e) {
            return new Failure(e.error);
        }
    }

    private byte[] onClientFirst(ByteBuf body) throws Malformed {
        String mechanism;
        try {
            mechanism = Wire.readCString(body);
        } catch (dev.pgmux.protocol.ProtocolException e) {
            throw malformed(null);
        }
        if (!mechanism.equals(MECHANISM)) {
            throw new Malformed(ErrorResponse.fatal(SqlState.PROTOCOL_VIOLATION,
                    "client selected an invalid SASL authentication mechanism"));
        }
        if (body.readableBytes() < 4) {
            throw malformed(null);
        }
        int length = body.readInt();
        if (length != body.readableBytes()) {
            throw malformed(null);
        }
        Cursor in = new Cursor(body.toString(StandardCharsets.UTF_8));
        // read_client_first_message: gs2-cbind-flag "," [authzid] "," client-first-message-bare
        char flag = in.peek();
        switch (flag) {
            case 'n', 'y' -> in.next();
            case 'p' -> throw malformed("The client selected SCRAM-SHA-256 without channel binding, but the SCRAM "
                    + "message includes channel binding data.");
            default -> throw malformed("Unexpected channel-binding flag \"" + sanitize(flag) + "\".");
        }
        if (in.peek() != ',') {
            throw malformed("Comma expected, but found character \"" + sanitize(in.peek()) + "\".");
        }
        in.next();
        if (in.peek() == 'a') {
            throw new Malformed(ErrorResponse.fatal(SqlState.FEATURE_NOT_SUPPORTED,
                    "client uses authorization identity, but it is not supported"));
        }
        if (in.peek() != ',') {
            throw malformed("Unexpected attribute \"" + sanitize(in.peek()) + "\" in client-first-message.");
        }
        in.next();
        gs2Header = flag + ",,";
        if (in.peek() == 'm') {
            throw new Malformed(ErrorResponse.fatal(SqlState.FEATURE_NOT_SUPPORTED,
                    "client requires an unsupported SCRAM extension"));
        }
        in.attrValue('n');
        String clientNonce = in.attrValue('r');
        if (!clientNonce.chars().allMatch(c -> c >= 0x21 && c <= 0x7E && c != ',')) {
            throw new Malformed(ErrorResponse.fatal(SqlState.PROTOCOL_VIOLATION, "non-printable characters in SCRAM nonce"));
        }
        while (!in.atEnd()) {
            in.anyAttr(); // extensions, ignored
        }
        byte[] serverNonce = new byte[18];
        RANDOM.nextBytes(serverNonce);
        nonce = clientNonce + Base64.getEncoder().encodeToString(serverNonce);
        String serverFirst = "r=" + nonce + ",s=" + Base64.getEncoder().encodeToString(salt()) + ",i=" + ITERATIONS;
        return serverFirst.getBytes(StandardCharsets.UTF_8);
    }

    /** read_client_final_message, then the nonce check: {@code c=...,r=...[,ext...],p=...}. */
    private void onClientFinal(String fin) throws Malformed {
        Cursor in = new Cursor(fin);
        String binding = in.attrValue('c');
        String expected = gs2Header.charAt(0) == 'y' ? "eSws" : "biws";
        if (!binding.equals(expected)) {
            throw new Malformed(ErrorResponse.fatal(SqlState.PROTOCOL_VIOLATION,
                    "unexpected SCRAM channel-binding attribute in client-final-message"));
        }
        String finalNonce = in.attrValue('r');
        String proof;
        while (true) {
            char[] attr = new char[1];
            String value = in.anyAttr(attr);
            if (attr[0] == 'p') {
                proof = value;
                break;
            }
        }
        byte[] p;
        try {
            p = Base64.getDecoder().decode(proof);
        } catch (IllegalArgumentException e) {
            p = new byte[0];
        }
        if (p.length != 32) {
            throw malformed("Malformed proof in client-final-message.");
        }
        if (!in.atEnd()) {
            throw malformed("Garbage found at the end of client-final-message.");
        }
        if (!finalNonce.equals(nonce)) {
            throw new Malformed(new ErrorResponse("FATAL", SqlState.PROTOCOL_VIOLATION, "invalid SCRAM response",
                    "Nonce does not match.", null));
        }
    }

    /** PostgreSQL's sanitize_char: {@code 'c'} for a printable character, else {@code 0x..}. */
    private static String sanitize(char c) {
        return c >= 0x21 && c <= 0x7E ? "'" + c + "'" : String.format("0x%02x", (int) c);
    }

    /** A read position in a SCRAM message, with PostgreSQL's attribute readers and their messages. */
    private static final class Cursor {
        private final String text;
        private int at;

        Cursor(String text) {
            int nul = text.indexOf('\0');
            this.text = nul >= 0 ? text.substring(0, nul) : text; // C strings end at the first NUL
        }

        boolean atEnd() {
            return at >= text.length();
        }

        char peek() {
            return atEnd() ? '\0' : text.charAt(at);
        }

        void next() {
            at++;
        }

        /** read_attr_value: {@code ATTR=VALUE} up to the next comma (consumed) or the end. */
        String attrValue(char attr) throws Malformed {
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

        /** read_any_attr: any letter, then {@code =VALUE}. */
        String anyAttr(char[] attrOut) throws Malformed {
            char attr = peek();
            if (attr == '\0') {
                throw malformed("Attribute expected, but found end of string.");
            }
            if (!((attr >= 'A' && attr <= 'Z') || (attr >= 'a' && attr <= 'z'))) {
                throw malformed("Attribute expected, but found invalid character \"" + sanitize(attr) + "\".");
            }
            if (attrOut != null) {
                attrOut[0] = attr;
            }
            next();
            if (peek() != '=') {
                throw malformed("Expected character \"=\" for attribute \"" + attr + "\".");
            }
            next();
            return value();
        }

        String anyAttr() throws Malformed {
            return anyAttr(null);
        }

        private String value() {
            int comma = text.indexOf(',', at);
            String v = text.substring(at, comma < 0 ? text.length() : comma);
            at = comma < 0 ? text.length() : comma + 1;
            return v;
        }
    }

    private static Malformed malformed(String detail) {
        return new Malformed(new ErrorResponse("FATAL", SqlState.PROTOCOL_VIOLATION, "malformed SCRAM message",
                detail, null));
    }

    private static final class Malformed extends Exception {
        final transient ErrorResponse error;

        Malformed(ErrorResponse error) {
            super(error.message(), null, false, false);
            this.error = error;
        }
    }

    private byte[] salt() {
        try {
            Mac mac = Mac.getInstance("HmacSHA256");
            mac.init(new SecretKeySpec(secret, "HmacSHA256"));
            return Arrays.copyOf(mac.doFinal(user.getBytes(StandardCharsets.UTF_8)), 16);
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException(e);
        }
    }
}
