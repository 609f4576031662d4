package dev.pgmux.protocol.backend;

import dev.pgmux.protocol.MessageReader;
import dev.pgmux.protocol.ProtocolException;
import io.netty.buffer.ByteBuf;

/**
 * An authentication request ('R'): an Int32 code says which one (protocol docs, "Message Formats",
 * AuthenticationOk to AuthenticationSASLFinal). The codes and SASL mechanism names live here and nowhere else.
 */
public sealed interface Authentication extends BackendMessage permits AuthenticationOk,
        AuthenticationCleartextPassword, AuthenticationMD5Password, AuthenticationSASL, AuthenticationSASLContinue,
        AuthenticationSASLFinal, AuthenticationOther {

    byte TYPE = 'R';

    int OK = 0;
    int CLEARTEXT_PASSWORD = 3;
    int MD5_PASSWORD = 5;
    int SASL = 10;
    int SASL_CONTINUE = 11;
    int SASL_FINAL = 12;
    /** Codes pgmux has no record for, decoded as {@link AuthenticationOther}. */
    int KERBEROS_V5 = 2, GSS = 7, GSS_CONTINUE = 8, SSPI = 9;

    /** The SASL mechanisms PostgreSQL offers (protocol docs, "SASL Authentication"). */
    String SCRAM_SHA_256 = "SCRAM-SHA-256";
    String SCRAM_SHA_256_PLUS = "SCRAM-SHA-256-PLUS";

    /** The authentication request code. */
    int code();

    /** Decodes an 'R' frame of any code; see {@link BackendMessage#decode} for the frame. */
    static Authentication decode(ByteBuf frame) throws ProtocolException {
        int code = MessageReader.open(frame, TYPE, "Authentication").readInt32();
        return switch (code) {
            case OK -> AuthenticationOk.decode(frame);
            case CLEARTEXT_PASSWORD -> AuthenticationCleartextPassword.decode(frame);
            case MD5_PASSWORD -> AuthenticationMD5Password.decode(frame);
            case SASL -> AuthenticationSASL.decode(frame);
            case SASL_CONTINUE -> AuthenticationSASLContinue.decode(frame);
            case SASL_FINAL -> AuthenticationSASLFinal.decode(frame);
            default -> AuthenticationOther.decode(frame);
        };
    }
}
