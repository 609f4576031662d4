package dev.pgmux.auth;

import com.ongres.stringprep.Tables;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.text.Normalizer;

/**
 * PostgreSQL's {@code pg_saslprep} (src/common/saslprep.c): SASLprep (RFC 4013, a profile of stringprep, RFC 3454)
 * as PostgreSQL applies it to a password before hashing, with PostgreSQL's departures from the RFC, which decide
 * the bytes of every SCRAM verifier it stores:
 * <ul>
 * <li>a password of ASCII bytes only is taken as it is (control characters included);</li>
 * <li>the prohibited-output and bidirectional checks look at the mapped input, before normalization;</li>
 * <li>a password that maps to nothing is refused;</li>
 * <li>a refused password (not UTF-8, or prohibited) is not an error: the caller hashes its raw bytes
 * ({@code pg_be_scram_build_secret}, and libpq likewise).</li>
 * </ul>
 * com.ongres.scram's {@code POSTGRESQL_PREPARATION} follows the RFC at the second and third points, so only the
 * RFC 3454 tables are taken from the stringprep library; the normalization is the JDK's NFKC.
 */
final class SaslPrep {
    private SaslPrep() {
    }

    /** The password's bytes as PostgreSQL hashes them: SASLprep's output, or the input when SASLprep refuses it. */
    static byte[] passwordBytes(byte[] password) {
        byte[] prepared = prepare(password);
        return prepared != null ? prepared : password;
    }

    /** {@code pg_saslprep}: the prepared UTF-8 bytes, or null where PostgreSQL returns an error code. */
    static byte[] prepare(byte[] input) {
        if (isAscii(input)) {
            return input;
        }
        int[] chars;
        try {
            chars = StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(ByteBuffer.wrap(input)).codePoints().toArray(); // pg_utf8_string_len: legal UTF-8 only
        } catch (CharacterCodingException e) {
            return null; // SASLPREP_INVALID_UTF8
        }
        // 1) Map: non-ASCII spaces (C.1.2) to SPACE, checked first as PostgreSQL does (U+200B is in both tables),
        // then "commonly mapped to nothing" (B.1) removed
        int[] mapped = new int[chars.length];
        int count = 0;
        for (int code : chars) {
            if (Tables.prohibitionNonAsciiSpace(code)) {
                mapped[count++] = ' ';
            } else if (!Tables.mapToNothing(code)) {
                mapped[count++] = code;
            }
        }
        if (count == 0) {
            return null; // "don't allow empty password"
        }
        String mappedString = new String(mapped, 0, count);
        // 2) Normalize: NFKC
        String normalized = Normalizer.normalize(mappedString, Normalizer.Form.NFKC);
        // 3) Prohibit, on the mapped input as PostgreSQL does; unassigned code points (A.1) too, as for stored strings
        boolean randAl = false;
        for (int i = 0; i < count; i++) {
            int code = mapped[i];
            if (prohibited(code) || Tables.unassignedCodePoints(code)) {
                return null;
            }
            randAl |= Tables.bidirectionalPropertyRorAL(code);
        }
        // 4) Bidi (RFC 3454 §6): with any RandALCat character, no LCat one, and RandALCat first and last
        if (randAl) {
            for (int i = 0; i < count; i++) {
                if (Tables.bidirectionalPropertyL(mapped[i])) {
                    return null;
                }
            }
            if (!Tables.bidirectionalPropertyRorAL(mapped[0])
                    || !Tables.bidirectionalPropertyRorAL(mapped[count - 1])) {
                return null;
            }
        }
        return normalized.getBytes(StandardCharsets.UTF_8);
    }

    /** PostgreSQL's prohibited_output_ranges: tables C.1.2, C.2.1, C.2.2 and C.3 to C.9 of RFC 3454. */
    private static boolean prohibited(int code) {
        return Tables.prohibitionNonAsciiSpace(code)
                || Tables.prohibitionAsciiControl(code)
                || Tables.prohibitionNonAsciiControl(code)
                || Tables.prohibitionPrivateUse(code)
                || Tables.prohibitionNonCharacterCodePoints(code)
                || Tables.prohibitionSurrogateCodes(code)
                || Tables.prohibitionInappropriatePlainText(code)
                || Tables.prohibitionInappropriateCanonicalRepresentation(code)
                || Tables.prohibitionChangeDisplayProperties(code)
                || Tables.prohibitionTaggingCharacters(code);
    }

    /** pg_is_ascii: no byte with the high bit set. */
    private static boolean isAscii(byte[] bytes) {
        for (byte b : bytes) {
            if (b < 0) {
                return false;
            }
        }
        return true;
    }
}
