package dev.pgmux.session;

import dev.pgmux.protocol.ErrorResponse;
import dev.pgmux.protocol.ProtocolException;
import dev.pgmux.protocol.SqlState;
import dev.pgmux.protocol.StartupPacket;
import dev.pgmux.protocol.StartupPacket.StartupMessage;
import dev.pgmux.protocol.backend.Authentication;
import dev.pgmux.protocol.backend.AuthenticationSASL;
import dev.pgmux.protocol.backend.BackendKeyData;
import dev.pgmux.protocol.backend.NegotiateProtocolVersion;
import dev.pgmux.protocol.backend.ReadyForQuery;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import java.util.ArrayList;
import java.util.List;

/**
 * The relay of a client's login to its server, as a function from each message the server sends to what the
 * session does with it. Messages it does not need to look into are relayed as they are, in order.
 *
 * <ul>
 *   <li>AuthenticationSASL: the client may not pick SCRAM-SHA-256-PLUS, since TLS ends at pgmux and a client's
 *       binding to pgmux's certificate would fail at the server;</li>
 *   <li>AuthenticationMD5Password after a user rename: cannot work (the hash includes the user name);</li>
 *   <li>BackendKeyData: swapped for pgmux's own key, so that cancel requests come to pgmux;</li>
 *   <li>NegotiateProtocolVersion: lowers the version for the client, and pgmux sends its own when the client asked
 *       for more than pgmux speaks;</li>
 *   <li>an ErrorResponse before any authentication request: another host may still serve the client;</li>
 *   <li>the first ReadyForQuery ends the login.</li>
 * </ul>
 */
final class AuthRelay implements LoginRelay {

    /** What to do with one server message. Buffers in a decision belong to whoever carries it out. */
    sealed interface Decision {
    }

    /** Write this to the client. */
    record Relay(ByteBuf message) implements Decision {
    }

    /** An ErrorResponse for the client: the login failed at the server. */
    record RelayError(ByteBuf message, String sqlState) implements Decision {
    }

    /** The server's cancel key: the client gets pgmux's own key instead. */
    record SwapKey(int processId, byte[] secret) implements Decision {
    }

    /**
     * This host is not usable (it refused before asking for a password, or broke the protocol): the next host takes
     * over if the client has not taken part yet, else the login fails as a failed connection.
     */
    record NextHost(String why) implements Decision {
    }

    /** End the login with this error. */
    record Fail(ErrorResponse error, String logReason) implements Decision {
    }

    /** Nothing for the client. */
    record Drop() implements Decision {
    }

    /** Write this to the server (pgmux answers the server's authentication request itself). */
    record ToServer(ByteBuf message) implements Decision {
    }

    /** The first ReadyForQuery: login is over; relay it once the session accepts the server. */
    record Ready(ByteBuf message) implements Decision {
    }

    /** Releases what a decision that will not be carried out holds. */
    static void release(Decision d) {
        switch (d) {
            case Relay m -> m.message().release();
            case RelayError e -> e.message().release();
            case Ready m -> m.message().release();
            case ToServer m -> m.message().release();
            default -> {
            }
        }
    }

    private final StartupMessage startup;
    private final boolean renamed;
    private int protocolMinor;
    private boolean negotiationPending;
    private boolean negotiationSent;
    private boolean authRequestSeen;
    private boolean errorSeen;
    private int lastAuthCode = -1;
    /** When the client last sent bytes (for the hidden users' timing), or 0. */
    private long clientSpokeNanos;

    /**
     * @param startup the client's startup message
     * @param renamed whether the server sees another user name than the client sent
     */
    AuthRelay(StartupMessage startup, boolean renamed) {
        this(startup, renamed, false);
    }

    /**
     * @param clientNegotiated pgmux already told the client the protocol version (it authenticated the client
     *                         itself): send it no NegotiateProtocolVersion of its own
     */
    AuthRelay(StartupMessage startup, boolean renamed, boolean clientNegotiated) {
        this.startup = startup;
        this.renamed = renamed;
        this.protocolMinor = agreedMinor(startup);
        this.negotiationPending = !clientNegotiated && needsNegotiation(startup);
        this.negotiationSent = clientNegotiated;
    }

    /** The protocol minor version agreed with a client before any server speaks: its own, capped by pgmux's. */
    static int agreedMinor(StartupMessage startup) {
        return Math.min(startup.minor(), StartupPacket.NEWEST_MINOR);
    }

    static boolean needsNegotiation(StartupMessage startup) {
        return startup.minor() > StartupPacket.NEWEST_MINOR || !startup.protocolOptions().isEmpty();
    }

    /**
     * The NegotiateProtocolVersion pgmux sends a client before its first authentication request when pgmux itself
     * answers the login (hidden unknown users, authentication at pgmux), as a server would; null when none is due.
     */
    static ByteBuf ownNegotiation(StartupMessage startup, ByteBufAllocator alloc) {
        return needsNegotiation(startup) ? new NegotiateProtocolVersion(agreedMinor(startup),
                startup.protocolOptions()).encode(alloc) : null;
    }

    /** The protocol minor version agreed so far: the client's, capped by pgmux's and the servers'. */
    @Override
    public int protocolMinor() {
        return protocolMinor;
    }

    /** Whether the client has seen an authentication request or an error: the login can no longer move. */
    @Override
    public boolean clientTookPart() {
        return authRequestSeen || errorSeen;
    }

    /** Whether the client was sent the server's error. */
    @Override
    public boolean errorRelayed() {
        return errorSeen;
    }

    /**
     * pgmux logged in to the server itself (the server sent AuthenticationOk): what follows is relayed as after a
     * relayed authentication, errors included (an unknown database is the client's to know, not a reason to try
     * another host).
     */
    void authenticatedByProxy() {
        authRequestSeen = true;
    }

    /** The client sent bytes at this time (System.nanoTime()). */
    @Override
    public void clientSpoke(long nanos) {
        clientSpokeNanos = nanos;
    }

    /** When the client last sent bytes, or 0 if not since the last call. */
    @Override
    public long takeClientSpoke() {
        long t = clientSpokeNanos;
        clientSpokeNanos = 0;
        return t;
    }

    /** The code of the last authentication request relayed (10 SASL, 11 SASL continue, ...), or -1. */
    int lastAuthCode() {
        return lastAuthCode;
    }

    /**
     * Decides what to do with one server message (type, length, body), which this call takes over.
     *
     * @param laterHost whether another host could still take over the login
     */
    @Override
    public List<Decision> onMessage(ByteBuf frame, boolean laterHost, ByteBufAllocator alloc) {
        byte type = frame.getByte(frame.readerIndex());
        List<Decision> out = new ArrayList<>(2);
        if (type == ErrorResponse.TYPE && !authRequestSeen && laterHost) {
            // Refused before asking for a password (starting up, too many clients, no pg_hba.conf entry): the
            // client has not taken part yet, so another host can still serve it.
            String code = ErrorResponse.sqlStateOf(frame.slice(frame.readerIndex() + 5, frame.readableBytes() - 5));
            frame.release();
            out.add(new NextHost("server refused the connection sqlstate=" + code));
            return out;
        }
        if (negotiationPending) {
            negotiationPending = false;
            if (type != NegotiateProtocolVersion.TYPE && !negotiationSent) {
                negotiationSent = true;
                out.add(new Relay(new NegotiateProtocolVersion(protocolMinor, startup.protocolOptions()).encode(alloc)));
            }
        }
        try {
            out.add(decide(type, frame, alloc));
        } catch (ProtocolException e) {
            out.add(new NextHost(e.getMessage()));
        }
        return out;
    }

    private Decision decide(byte type, ByteBuf frame, ByteBufAllocator alloc) throws ProtocolException {
        switch (type) {
            case Authentication.TYPE -> {
                return onAuthRequest(frame, alloc);
            }
            case BackendKeyData.TYPE -> {
                try {
                    BackendKeyData key = BackendKeyData.decode(frame);
                    return new SwapKey(key.processId(), key.secret());
                } finally {
                    frame.release();
                }
            }
            case NegotiateProtocolVersion.TYPE -> {
                NegotiateProtocolVersion n;
                try {
                    n = NegotiateProtocolVersion.decode(frame);
                } finally {
                    frame.release();
                }
                protocolMinor = Math.min(protocolMinor, n.newestMinor());
                List<String> unrecognized = new ArrayList<>(startup.protocolOptions());
                n.unrecognized().stream().filter(o -> !unrecognized.contains(o)).forEach(unrecognized::add);
                if ((protocolMinor < startup.minor() || !unrecognized.isEmpty()) && !negotiationSent) {
                    negotiationSent = true;
                    return new Relay(new NegotiateProtocolVersion(protocolMinor, unrecognized).encode(alloc));
                }
                return new Drop();
            }
            case ErrorResponse.TYPE -> {
                errorSeen = true;
                return new RelayError(frame, ErrorResponse.sqlStateOf(frame.slice(frame.readerIndex() + 5,
                        frame.readableBytes() - 5)));
            }
            case ReadyForQuery.TYPE -> {
                return new Ready(frame);
            }
            default -> {
                return new Relay(frame);
            }
        }
    }

    private Decision onAuthRequest(ByteBuf frame, ByteBufAllocator alloc) throws ProtocolException {
        if (frame.readableBytes() < 9) {
            frame.release();
            throw new ProtocolException(SqlState.PROTOCOL_VIOLATION, "invalid authentication request from backend");
        }
        int code = frame.getInt(frame.readerIndex() + 5);
        authRequestSeen = true;
        lastAuthCode = code;
        if (code == Authentication.MD5_PASSWORD && renamed) {
            frame.release();
            return new Fail(ErrorResponse.fatal(SqlState.INVALID_AUTHORIZATION_SPECIFICATION,
                    "the server asks for MD5 password authentication, which cannot work through pgmux when the user"
                            + " name is rewritten (the MD5 hash includes the user name)",
                    "Use scram-sha-256 for this user on the server, or route it without renaming the user."),
                    "md5 with renamed user");
        }
        if (code != Authentication.SASL) {
            return new Relay(frame);
        }
        List<String> mechanisms;
        try {
            mechanisms = AuthenticationSASL.decode(frame).mechanisms();
        } finally {
            frame.release();
        }
        // TLS ends at pgmux, so a client binding to "its" server certificate would bind to pgmux's, and the
        // backend would reject the proof: never offer channel binding to the client.
        List<String> offered = mechanisms.stream().filter(m -> !m.equals(Authentication.SCRAM_SHA_256_PLUS)).toList();
        if (offered.isEmpty()) {
            return new Fail(ErrorResponse.fatal(SqlState.INVALID_AUTHORIZATION_SPECIFICATION,
                    "the server accepts only SCRAM-SHA-256-PLUS, whose channel binding cannot pass through pgmux"),
                    "server offers only channel binding");
        }
        return new Relay(new AuthenticationSASL(offered).encode(alloc));
    }
}
