package dev.pgmux.session;

import dev.pgmux.log.LineRate;
import java.net.InetSocketAddress;
import org.slf4j.Logger;

/**
 * Logs failed logins at most {@code perSecond} times a second, then one line saying how many were left out, so
 * a client that fails on purpose cannot flood the log. Never logs passwords: only address, user and reason.
 */
final class LoginFailureLog {
    private final LineRate rate;

    LoginFailureLog(int perSecond) {
        this.rate = new LineRate(perSecond, "login failures");
    }

    void log(Logger log, InetSocketAddress client, String user, String reason) {
        if (admit(log)) {
            log.warn("login failed client={} user={} reason=\"{}\"", client, user, reason);
        }
    }

    /** Whether one more line may be logged this second; counts it either way. */
    boolean admit(Logger log) {
        return rate.admit(log);
    }
}
