package dev.pgmux.session;

import dev.pgmux.protocol.ErrorResponse;
import dev.pgmux.protocol.backend.Authentication;
import io.netty.buffer.ByteBuf;
import java.security.SecureRandom;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;

/**
 * What hidden unknown users' answers are made to look like: how long real logins take, as clients see it, and the
 * source location fields of the last "password authentication failed" a server sent; also the secret that makes
 * each unknown name's salt stable.
 *
 * <p>The times are moving averages (1/8 weight to each new sample, in nanoseconds) of what pgmux sees of real
 * logins: from the start of routing to the server's first authentication request, and from a client's SCRAM
 * message to the server's answer ([0] the client's first message, [1] its proof).
 */
final class LoginTiming {
    private final AtomicLong loginLatency = new AtomicLong(3_000_000);
    private final AtomicLongArray authRoundTrip = new AtomicLongArray(new long[] {1_000_000, 3_000_000});
    private final byte[] mockSecret = new byte[32];
    private volatile Map<Character, String> passwordFailureLocation = Map.of();

    LoginTiming() {
        new SecureRandom().nextBytes(mockSecret);
    }

    void recordLoginLatency(long nanos) {
        loginLatency.accumulateAndGet(nanos, LoginTiming::average);
    }

    void recordAuthRoundTrip(int step, long nanos) {
        authRoundTrip.accumulateAndGet(step, nanos, LoginTiming::average);
    }

    long loginLatency() {
        return loginLatency.get();
    }

    long authRoundTrip(int step) {
        return authRoundTrip.get(step);
    }

    /**
     * Feeds the averages from one server message of a relayed login.
     *
     * @param loginStartNanos  when routing began
     * @param clientSpokeNanos when the client last sent bytes, or 0
     */
    void onServerMessage(byte type, AuthRelay relay, long loginStartNanos, long clientSpokeNanos) {
        if (type == Authentication.TYPE && !relay.clientTookPart()) {
            recordLoginLatency(System.nanoTime() - loginStartNanos);
        } else if (clientSpokeNanos != 0 && (relay.lastAuthCode() == Authentication.SASL
                || relay.lastAuthCode() == Authentication.SASL_CONTINUE)) {
            // only SCRAM steps: a password check (md5, cleartext, maybe LDAP behind it) times something else
            recordAuthRoundTrip(relay.lastAuthCode() == Authentication.SASL ? 0 : 1, System.nanoTime() - clientSpokeNanos);
        }
    }

    /** Keeps F, L and R of a server's 28P01 (a whole ErrorResponse frame), so that hidden unknown users get the same. */
    void rememberPasswordFailureLocation(ByteBuf frame) {
        ByteBuf fields = frame.slice(frame.readerIndex() + 5, frame.readableBytes() - 5);
        Map<Character, String> location = new LinkedHashMap<>();
        for (char f : new char[] {'F', 'L', 'R'}) {
            String value = ErrorResponse.fieldOf(fields, f);
            if (value != null && value.length() <= 64) {
                location.put(f, value);
            }
        }
        if (location.size() == 3 && !location.equals(passwordFailureLocation)) {
            passwordFailureLocation = Collections.unmodifiableMap(location);
        }
    }

    private static long average(long mean, long sample) {
        long capped = Math.min(sample, 1_000_000_000L); // one slow login must not slow every later one
        return mean + (capped - mean) / 8;
    }

    /** This proxy's secret for the salts of {@link dev.pgmux.auth.ScramServer#mock}: the same salt for a name on every attempt. */
    byte[] mockSecret() {
        return mockSecret;
    }

    /** F, L and R of the last server 28P01, or empty until one was seen. */
    Map<Character, String> passwordFailureLocation() {
        return passwordFailureLocation;
    }

    void passwordFailureLocation(Map<Character, String> location) {
        this.passwordFailureLocation = location;
    }
}
