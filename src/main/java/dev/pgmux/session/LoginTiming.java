package dev.pgmux.session;

import java.security.SecureRandom;
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

    private static long average(long mean, long sample) {
        long capped = Math.min(sample, 1_000_000_000L); // one slow login must not slow every later one
        return mean + (capped - mean) / 8;
    }

    /** This proxy's secret for the salts of {@link MockScram}: the same salt for a name on every attempt. */
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
