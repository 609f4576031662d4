package dev.pgmux.session;

import dev.pgmux.auth.ScramServer;
import dev.pgmux.listen.ClientAddress;
import dev.pgmux.protocol.ErrorResponse;
import dev.pgmux.protocol.SqlState;
import dev.pgmux.protocol.StartupPacket;
import dev.pgmux.protocol.StartupPacket.StartupMessage;
import dev.pgmux.protocol.backend.AuthenticationSASL;
import dev.pgmux.protocol.backend.AuthenticationSASLContinue;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.handler.codec.ByteToMessageDecoder;
import java.util.Map;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The login a user without a route gets when unknown users are hidden: the SCRAM exchange PostgreSQL holds with a
 * user it does not know ({@link ScramServer#mock}), each answer sent after about as long as real logins take at that
 * step, ending in 28P01. The client cannot tell a user without a route from a wrong password, by bytes or by timing.
 */
final class HiddenLogin {
    private static final Logger log = LoggerFactory.getLogger(HiddenLogin.class);
    /** PostgreSQL's limit for one authentication message (PG_MAX_AUTH_TOKEN_LENGTH). */
    private static final int MAX_SASL_MESSAGE = 65535;

    private final ClientSession session;
    private final Channel client;
    private final LoginTiming timing;
    private final ScramServer scram;
    private final StartupMessage startup;
    /** Client bytes not yet taken. */
    private ByteBuf in;
    /** An answer is on its way (delayed like a server's): read nothing more until it is out. */
    private boolean answerPending;
    /** Client SASL messages answered. */
    private int answers;

    HiddenLogin(ClientSession session, Channel client, LoginTiming timing, StartupMessage startup) {
        this.session = session;
        this.startup = startup;
        this.client = client;
        this.timing = timing;
        // SCRAM-SHA-256 only, as before: the hidden login never sees the client's TLS channel binding
        // No SCRAM-SHA-256-PLUS, as for the relayed logins of users with routes (pgmux filters it out there): the
        // offer must not tell an unknown user from a known one.
        this.scram = ScramServer.mock(startup.user(), timing.mockSecret(), null);
    }

    /**
     * Starts the exchange.
     *
     * @param pending     bytes the client sent after its startup message, or null
     * @param spentNanos  how long ago the login began (routing time counts as a server's connect time would)
     */
    void start(ByteBuf pending, long spentNanos) {
        ByteBuf negotiation = AuthRelay.ownNegotiation(startup, client.alloc());
        if (negotiation != null) {
            client.write(negotiation);
        }
        in = pending; // read once the first request is out
        // A real login connects to a server first: answer after about as long, so that timing tells nothing.
        answerPending = true;
        afterDelay(timing.loginLatency(), spentNanos, () -> {
            client.write(new AuthenticationSASL(scram.mechanisms()).encode(client.alloc()));
            answerSent();
        });
    }

    /** Whether the client may be read from now. */
    boolean readable() {
        return !answerPending;
    }

    /** Client bytes; this call takes them over. */
    void onBytes(ByteBuf bytes) {
        in = in == null ? bytes : ByteToMessageDecoder.MERGE_CUMULATOR.cumulate(client.alloc(), in, bytes);
        try {
            while (active() && !answerPending && in.isReadable()) {
                int type = in.getUnsignedByte(in.readerIndex());
                if (type != 'p') {
                    // PostgreSQL looks at the type before anything else (Terminate included)
                    ErrorResponse e = ErrorResponse.fatal(SqlState.PROTOCOL_VIOLATION,
                            "expected SASL response, got message type " + type);
                    afterStep(() -> session.fail(e, Map.of()));
                    return;
                }
                if (in.readableBytes() < 5) {
                    break;
                }
                int length = in.getInt(in.readerIndex() + 1);
                if (length < 4 || length - 4 > MAX_SASL_MESSAGE) {
                    afterStep(() -> failPassword(scram.passwordFailed())); // as PostgreSQL ends such a login
                    return;
                }
                if (in.readableBytes() < length + 1) {
                    break;
                }
                ByteBuf body = in.retainedSlice(in.readerIndex() + 5, length - 4);
                in.skipBytes(length + 1);
                ScramServer.Step step;
                try {
                    step = scram.onMessage(body);
                } finally {
                    body.release();
                }
                switch (step) {
                    case ScramServer.Continue c -> afterStep(() -> {
                        client.write(new AuthenticationSASLContinue(c.serverFirstMessage()).encode(client.alloc()));
                        answerSent();
                    });
                    case ScramServer.Failure f -> afterStep(() -> failPassword(f.error()));
                    // a mock exchange never succeeds
                    case ScramServer.Done d -> afterStep(() -> failPassword(scram.passwordFailed()));
                }
            }
        } finally {
            if (in != null && (!active() || !in.isReadable())) {
                in.release();
                in = null;
            }
        }
    }

    /** Releases what the exchange holds; the session has ended. */
    void release() {
        if (in != null && in.refCnt() > 0) {
            in.release();
        }
        in = null;
    }

    /** A 28P01 carries the source location a server's 28P01 had. */
    private void failPassword(ErrorResponse error) {
        session.fail(error, SqlState.INVALID_PASSWORD.equals(error.sqlState()) ? timing.passwordFailureLocation() : Map.of());
    }

    /** Runs {@code send} about {@code meanNanos} (±25 %) after the step began, {@code spentNanos} ago. */
    private void afterDelay(long meanNanos, long spentNanos, Runnable send) {
        long delay = meanNanos * 3 / 4 + ThreadLocalRandom.current().nextLong(meanNanos / 2 + 1);
        client.eventLoop().schedule(() -> {
            if (active()) {
                try {
                    send.run();
                } catch (RuntimeException e) {
                    log.error("mock authentication failed client={}", ClientAddress.of(client), e);
                    failPassword(scram.passwordFailed());
                }
            }
        }, Math.max(0, delay - spentNanos), TimeUnit.NANOSECONDS);
    }

    /** Answers the client's next SASL step (or ends it) after about as long as servers take for that step. */
    private void afterStep(Runnable send) {
        answerPending = true;
        afterDelay(timing.authRoundTrip(Math.min(answers++, 1)), 0, send);
    }

    private void answerSent() {
        answerPending = false;
        client.flush();
        if (in != null && in.isReadable()) {
            ByteBuf buffered = in;
            in = null;
            onBytes(buffered);
        }
        if (active() && !answerPending) {
            client.read();
        }
    }

    private boolean active() {
        return session.state() instanceof SessionState.Hidden;
    }
}
