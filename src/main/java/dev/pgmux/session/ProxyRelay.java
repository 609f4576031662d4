package dev.pgmux.session;

import com.ongres.scram.client.ScramClient;
import com.ongres.scram.common.exception.ScramException;
import dev.pgmux.auth.Md5Hash;
import dev.pgmux.protocol.ErrorResponse;
import dev.pgmux.protocol.ProtocolException;
import dev.pgmux.protocol.SqlState;
import dev.pgmux.protocol.StartupPacket.StartupMessage;
import dev.pgmux.protocol.backend.Authentication;
import dev.pgmux.protocol.backend.AuthenticationMD5Password;
import dev.pgmux.protocol.backend.AuthenticationSASL;
import dev.pgmux.protocol.backend.AuthenticationSASLContinue;
import dev.pgmux.protocol.backend.AuthenticationSASLFinal;
import dev.pgmux.protocol.backend.NegotiateProtocolVersion;
import dev.pgmux.protocol.frontend.PasswordMessage;
import dev.pgmux.protocol.frontend.SASLInitialResponse;
import dev.pgmux.protocol.frontend.SASLResponse;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;

/**
 * A server's login when pgmux authenticated the client itself ({@code auth: proxy}): pgmux answers the server's
 * authentication request on its own, with the route's backend password (SCRAM-SHA-256, MD5 or cleartext, as the
 * server asks) or, when there is none, with the ClientKey it recovered from the client's SCRAM proof (the client
 * proved itself against the server's own verifier: what PgBouncer does), and hides that exchange from the client,
 * which already got its AuthenticationOk from pgmux. Everything after the server's AuthenticationOk (its
 * ParameterStatus, BackendKeyData, ReadyForQuery, or an error such as an unknown database) goes through
 * {@link AuthRelay}'s decisions, as for a relayed login.
 *
 * <p>A failure of pgmux's own login reaches the client as a FATAL that names the backend user, never the server's
 * words about the password: the client did nothing wrong and cannot fix it.
 */
final class ProxyRelay implements LoginRelay {

    /**
     * What pgmux logs in to a server with: a password, or else the ClientKey (and the ServerKey that checks the
     * server) a client's SCRAM proof revealed, or else the MD5 hash a client proved it knows, which answers an MD5
     * request as well as the password would.
     */
    record BackendCredentials(String user, char[] password, byte[] clientKey, byte[] serverKey, Md5Hash md5,
                              byte[] verifierSalt, int verifierIterations) {
        BackendCredentials(String user, char[] password, byte[] clientKey, byte[] serverKey, Md5Hash md5) {
            this(user, password, clientKey, serverKey, md5, null, 0);
        }

        @Override
        public String toString() {
            return "BackendCredentials[user=" + user + "]";
        }
    }

    /** The highest SCRAM iteration count pgmux computes for a server: the key derivation runs on the event loop. */
    static final int MAX_SERVER_ITERATIONS = 1_000_000;

    private final StartupMessage startup;
    private final BackendCredentials credentials;
    /** The state of the login at the current host; a new host starts afresh ({@link #hostStarted}). */
    private AuthRelay after;
    private ScramClient scram;
    private boolean scramProved;
    private boolean authenticated;

    ProxyRelay(StartupMessage startup, BackendCredentials credentials) {
        this.startup = startup;
        this.after = new AuthRelay(startup, false, true);
        this.credentials = credentials;
    }

    @Override
    public void hostStarted() {
        after = new AuthRelay(startup, false, true);
        scram = null;
        scramProved = false;
        authenticated = false;
    }

    @Override
    public List<AuthRelay.Decision> onMessage(ByteBuf frame, boolean laterHost, ByteBufAllocator alloc) {
        byte type = frame.getByte(frame.readerIndex());
        if (authenticated || (type != Authentication.TYPE && type != ErrorResponse.TYPE
                && type != NegotiateProtocolVersion.TYPE)) {
            return after.onMessage(frame, laterHost, alloc);
        }
        try {
            return switch (type) {
                case Authentication.TYPE -> List.of(onAuthRequest(frame, alloc));
                case NegotiateProtocolVersion.TYPE -> {
                    // The client was told its version already; keys pgmux hands out do not depend on the server's.
                    frame.release();
                    yield List.of(new AuthRelay.Drop());
                }
                default -> onError(frame, laterHost, alloc);
            };
        } catch (ProtocolException e) {
            return List.of(new AuthRelay.NextHost("server login failed: " + e.getMessage()));
        } catch (ScramException | RuntimeException e) {
            // Not the exception's text: SASLprep's complaints quote characters of the password.
            return List.of(new AuthRelay.NextHost("server login failed: SCRAM exchange failed ("
                    + e.getClass().getSimpleName() + ")"));
        }
    }

    private List<AuthRelay.Decision> onError(ByteBuf frame, boolean laterHost, ByteBufAllocator alloc) {
        String code = ErrorResponse.sqlStateOf(frame.slice(frame.readerIndex() + 5, frame.readableBytes() - 5));
        if (!SqlState.INVALID_PASSWORD.equals(code) && !SqlState.INVALID_AUTHORIZATION_SPECIFICATION.equals(code)) {
            return after.onMessage(frame, laterHost, alloc); // starting up, too many clients, ...: as relayed
        }
        frame.release();
        return List.of(refused("the server refused pgmux's login sqlstate=" + code, code));
    }

    private AuthRelay.Decision refused(String logReason) {
        return refused(logReason, null);
    }

    private AuthRelay.Decision refused(String logReason, String serverCode) {
        return new AuthRelay.Fail(ErrorResponse.fatal(SqlState.CONNECTION_FAILURE,
                "pgmux could not log in to the backend server as user \"" + credentials.user() + "\"",
                serverCode != null
                        ? "The server refused pgmux's login (SQLSTATE " + serverCode + "): check the route's backend"
                                + " credentials (password_env, password_file, the auth file) and the server's pg_hba.conf."
                        : "The server asks for a login that pgmux cannot give with the route's credentials."),
                logReason);
    }

    private AuthRelay.Decision onAuthRequest(ByteBuf frame, ByteBufAllocator alloc) throws ProtocolException, ScramException {
        Authentication request;
        try {
            request = Authentication.decode(frame);
        } finally {
            frame.release();
        }
        return switch (request) {
            case dev.pgmux.protocol.backend.AuthenticationOk ok -> {
                if (scram != null && !scramProved) {
                    // A server that skips SCRAM's last step has not shown it knows the verifier.
                    yield refused("the server ended SCRAM without proving it knows the password");
                }
                authenticated = true;
                after.authenticatedByProxy();
                yield new AuthRelay.Drop();
            }
            case AuthenticationSASL sasl -> {
                if (!sasl.mechanisms().contains(Authentication.SCRAM_SHA_256)) {
                    yield refused("the server offers no SCRAM-SHA-256");
                }
                var builder = ScramClient.builder().advertisedMechanisms(List.of(Authentication.SCRAM_SHA_256))
                        .username("*"); // PostgreSQL takes the user name from the startup message
                if (credentials.password() != null) {
                    scram = builder.password(credentials.password().clone()).build();
                } else if (credentials.clientKey() != null) {
                    scram = builder.clientAndServerKey(credentials.clientKey().clone(), credentials.serverKey().clone())
                            .build();
                } else {
                    yield refused("no backend password for SCRAM");
                }
                byte[] first = scram.clientFirstMessage().toString().getBytes(StandardCharsets.UTF_8);
                yield new AuthRelay.ToServer(new SASLInitialResponse(Authentication.SCRAM_SHA_256, first).encode(alloc));
            }
            case AuthenticationSASLContinue c when scram != null -> {
                String serverFirst = new String(c.data(), StandardCharsets.UTF_8);
                String mismatch = checkServerFirst(serverFirst);
                if (mismatch != null) {
                    yield refused(mismatch);
                }
                scram.serverFirstMessage(serverFirst);
                byte[] fin = scram.clientFinalMessage().toString().getBytes(StandardCharsets.UTF_8);
                yield new AuthRelay.ToServer(new SASLResponse(fin).encode(alloc));
            }
            case AuthenticationSASLFinal f when scram != null -> {
                // A server that cannot prove it knows the verifier is not the one the route names.
                scram.serverFinalMessage(new String(f.data(), StandardCharsets.UTF_8));
                scramProved = true;
                yield new AuthRelay.Drop();
            }
            case AuthenticationMD5Password md5 when credentials.password() != null || credentials.md5() != null -> {
                Md5Hash hash = credentials.password() != null
                        ? new Md5Hash(Md5Hash.of(new String(credentials.password()), credentials.user()))
                        : credentials.md5();
                yield new AuthRelay.ToServer(new PasswordMessage(hash.response(md5.salt())
                        .getBytes(StandardCharsets.US_ASCII)).encode(alloc));
            }
            case dev.pgmux.protocol.backend.AuthenticationCleartextPassword p when credentials.password() != null -> {
                byte[] bytes = new String(credentials.password()).getBytes(StandardCharsets.UTF_8);
                try {
                    yield new AuthRelay.ToServer(new PasswordMessage(bytes).encode(alloc));
                } finally {
                    Arrays.fill(bytes, (byte) 0);
                }
            }
            default -> refused("the server asks for authentication code " + request.code()
                    + ", which pgmux cannot answer with the route's credentials");
        };
    }

    /**
     * Refuses a server-first message pgmux will not compute: an iteration count past {@link #MAX_SERVER_ITERATIONS}
     * (the derivation would hold the event loop), or, for a login with a client's ClientKey, another salt or count
     * than the verifier the client proved itself against (the server's verifier is not that one, and a proof would
     * only add a failed login at the server).
     */
    private String checkServerFirst(String serverFirst) {
        String salt = null;
        long iterations = -1;
        for (String attribute : serverFirst.split(",")) {
            if (attribute.startsWith("s=")) {
                salt = attribute.substring(2);
            } else if (attribute.startsWith("i=")) {
                try {
                    iterations = Long.parseLong(attribute.substring(2));
                } catch (NumberFormatException e) {
                    return "the server sent a malformed SCRAM iteration count";
                }
            }
        }
        if (iterations > MAX_SERVER_ITERATIONS) {
            return "the server asks for " + iterations + " SCRAM iterations, more than " + MAX_SERVER_ITERATIONS;
        }
        if (credentials.password() == null && credentials.verifierSalt() != null
                && (!java.util.Base64.getEncoder().encodeToString(credentials.verifierSalt()).equals(salt)
                        || iterations != credentials.verifierIterations())) {
            return "the server's SCRAM verifier is not the route's client_password (another salt or iteration count):"
                    + " give the route a backend password, or copy the server's verifier";
        }
        return null;
    }

    @Override
    public int protocolMinor() {
        return after.protocolMinor();
    }

    /** From the server's AuthenticationOk on, the client sees this server's messages: no other host after that. */
    @Override
    public boolean clientTookPart() {
        return authenticated || after.errorRelayed();
    }

    @Override
    public boolean errorRelayed() {
        return after.errorRelayed();
    }

    @Override
    public void clientSpoke(long nanos) {
    }

    @Override
    public long takeClientSpoke() {
        return 0;
    }
}
