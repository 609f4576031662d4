package dev.pgmux.session;

import dev.pgmux.protocol.ProtocolException;
import dev.pgmux.protocol.SqlState;
import dev.pgmux.protocol.Wire;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.SecureRandom;
import java.util.Base64;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * The SCRAM-SHA-256 exchange PostgreSQL holds with a user that does not exist, so that a client cannot tell an
 * unknown user name from a wrong password: the server asks for SCRAM, answers the client's first message with a
 * salt that is the same on every attempt for the same name (derived from a secret of the proxy's), and fails the
 * client's proof with 28P01 {@code password authentication failed for user "NAME"}.
 */
final class MockScram {
    static final String MECHANISM = "SCRAM-SHA-256";
    private static final int AUTH_SASL_CONTINUE = 11;
    private static final int ITERATIONS = 4096;
    private static final SecureRandom RANDOM = new SecureRandom();

    private final byte[] secret;
    private final String user;
    private boolean sentChallenge;

    /** @param secret the proxy's random secret, for salts that do not change between attempts */
    MockScram(byte[] secret, String user) {
        this.secret = secret;
        this.user = user;
    }

    /** The first message: AuthenticationSASL offering SCRAM-SHA-256. */
    ByteBuf start(ByteBufAllocator alloc) {
        return dev.pgmux.protocol.BackendMessages.authenticationSasl(alloc, java.util.List.of(MECHANISM));
    }

    /**
     * Takes one client message (type byte, length and body, whole). Returns the server's answer to write, or null
     * when the exchange is over and the login fails with 28P01.
     *
     * @throws ProtocolException for anything but the SASL messages expected, as PostgreSQL reports it
     */
    ByteBuf onMessage(ByteBuf frame, ByteBufAllocator alloc) throws ProtocolException {
        byte type = frame.readByte();
        frame.skipBytes(4);
        if (type != 'p') {
            throw new ProtocolException(SqlState.PROTOCOL_VIOLATION,
                    "expected SASL response, got message type " + type);
        }
        if (sentChallenge) {
            return null; // the client's proof: whatever it is, it cannot be right
        }
        String mechanism = Wire.readCString(frame);
        if (!mechanism.equals(MECHANISM)) {
            throw new ProtocolException(SqlState.PROTOCOL_VIOLATION,
                    "client selected an invalid SASL authentication mechanism");
        }
        if (frame.readableBytes() < 4) {
            throw new ProtocolException(SqlState.PROTOCOL_VIOLATION, "malformed SCRAM message");
        }
        int length = frame.readInt();
        if (length < 0 || length != frame.readableBytes()) {
            throw new ProtocolException(SqlState.PROTOCOL_VIOLATION, "malformed SCRAM message");
        }
        String clientFirst = frame.toString(StandardCharsets.UTF_8);
        String nonce = clientNonce(clientFirst);
        byte[] serverNonce = new byte[18];
        RANDOM.nextBytes(serverNonce);
        String serverFirst = "r=" + nonce + Base64.getEncoder().encodeToString(serverNonce)
                + ",s=" + Base64.getEncoder().encodeToString(salt()) + ",i=" + ITERATIONS;
        sentChallenge = true;
        byte[] body = serverFirst.getBytes(StandardCharsets.UTF_8);
        return alloc.buffer(9 + body.length).writeByte('R').writeInt(8 + body.length).writeInt(AUTH_SASL_CONTINUE)
                .writeBytes(body);
    }

    /** The client nonce of a client-first-message ({@code n,,n=user,r=NONCE}). */
    private static String clientNonce(String clientFirst) throws ProtocolException {
        // gs2-header: n / y / p=..., then an optional authzid, then the bare message.
        String[] parts = clientFirst.split(",", -1);
        if (parts.length < 4 || !(parts[0].equals("n") || parts[0].equals("y") || parts[0].startsWith("p="))) {
            throw new ProtocolException(SqlState.PROTOCOL_VIOLATION, "malformed SCRAM message");
        }
        for (int i = 2; i < parts.length; i++) {
            if (parts[i].startsWith("r=") && parts[i].length() > 2) {
                return parts[i].substring(2);
            }
        }
        throw new ProtocolException(SqlState.PROTOCOL_VIOLATION, "malformed SCRAM message");
    }

    private byte[] salt() {
        try {
            Mac mac = Mac.getInstance("HmacSHA256");
            mac.init(new SecretKeySpec(secret, "HmacSHA256"));
            byte[] full = mac.doFinal(user.getBytes(StandardCharsets.UTF_8));
            return java.util.Arrays.copyOf(full, 16);
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException(e);
        }
    }
}
