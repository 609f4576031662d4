package dev.pgmux.session;

import dev.pgmux.AuthRequest;
import dev.pgmux.Authenticator;
import dev.pgmux.BackendConfig;
import dev.pgmux.ClientAuthMethod;
import dev.pgmux.auth.Credential;
import dev.pgmux.auth.LoginErrors;
import dev.pgmux.auth.Md5Hash;
import dev.pgmux.auth.PlainPassword;
import dev.pgmux.auth.ScramServer;
import dev.pgmux.auth.ScramVerifier;
import dev.pgmux.listen.ClientAddress;
import dev.pgmux.protocol.ErrorResponse;
import dev.pgmux.protocol.SqlState;
import dev.pgmux.protocol.StartupPacket;
import dev.pgmux.protocol.StartupPacket.StartupMessage;
import dev.pgmux.protocol.backend.AuthenticationCleartextPassword;
import dev.pgmux.protocol.backend.AuthenticationMD5Password;
import dev.pgmux.protocol.backend.AuthenticationOk;
import dev.pgmux.protocol.backend.AuthenticationSASL;
import dev.pgmux.protocol.backend.AuthenticationSASLContinue;
import dev.pgmux.protocol.backend.AuthenticationSASLFinal;
import dev.pgmux.protocol.backend.NegotiateProtocolVersion;
import dev.pgmux.server.Inbox;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.channel.Channel;
import io.netty.handler.ssl.SslHandler;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.security.cert.X509Certificate;
import java.util.Arrays;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeoutException;
import java.util.function.BiConsumer;

/**
 * A client's login when pgmux authenticates it itself ({@code auth: proxy}), by the route's
 * {@link ClientAuthMethod} as PostgreSQL's pg_hba.conf methods of the same names would (src/backend/libpq/auth.c):
 * SCRAM-SHA-256 (-PLUS offered first on TLS, bound to pgmux's certificate), MD5 for a user whose credential is an
 * MD5 hash when the route allows it, the password in cleartext (over TLS unless allowed otherwise), a client
 * certificate whose CN is the user name, or nothing at all. A user without a credential gets the exchange
 * PostgreSQL holds with an unknown user, which ends in the same 28P01 as a wrong password.
 *
 * <p>With an application's {@link Authenticator}, the hook is asked first (for {@code password}, once the client
 * sent it) and may accept, refuse, or pass on to the route's method. The hook and the check of a cleartext password
 * against a SCRAM verifier (thousands of hash iterations) run off the event loop ({@link OffLoop}); their answer
 * comes back through the listener given to {@link #begin}, client bytes waiting meanwhile.
 */
final class ProxyLogin {
    /** PostgreSQL's limit for one authentication message (PG_MAX_AUTH_TOKEN_LENGTH). */
    private static final int MAX_AUTH_MESSAGE = 65535;
    private static final SecureRandom RANDOM = new SecureRandom();
    /** A client chooses what the hook is given, so it could make a faulty one throw on every login. */
    private static final LoginFailureLog HOOK_FAILURES = new LoginFailureLog(10);

    /** How the exchange ended. */
    sealed interface Outcome {
    }

    /** The client is in (AuthenticationOk is on its way to it); pgmux logs in to the server with {@code server}. */
    record Authenticated(ProxyRelay.BackendCredentials server) implements Outcome {
    }

    /** @param reason why, for the log (never a password) */
    record Refused(ErrorResponse error, String reason) implements Outcome {
    }

    /** What the client's next message answers, with what checking it needs. */
    private sealed interface Step {
    }

    private record Sasl(ScramServer scram) implements Step {
    }

    private record Md5(Md5Hash hash, byte[] salt) implements Step {
    }

    private record Cleartext() implements Step {
    }

    /** Nothing asked: a check runs off the event loop, or the exchange is over. Client bytes wait. */
    private record Waiting() implements Step {
    }

    /** What the check of a cleartext password found: the hook's decision, and for PASS whether it matched. */
    private record Verdict(Authenticator.Decision decision, boolean matches) {
    }

    private final Channel client;
    private final ProxyContext proxy;
    private final Login login;
    private final BackendConfig backend;
    private final Credential credential;
    private final boolean tls;
    private final BiConsumer<ProxyLogin, Outcome> later;
    /** Where the credential came from when an auth query found it, or null. */
    private final CredentialLookup.Found found;
    private final Inbox in = new Inbox();
    private Step step = new Waiting();
    private boolean released;
    /** A console login: the Authenticator hook is not asked. */
    private boolean noHook;

    private ProxyLogin(Channel client, ProxyContext proxy, Login login, BackendConfig backend, Credential credential,
                       CredentialLookup.Found found, BiConsumer<ProxyLogin, Outcome> later) {
        this.found = found;
        this.client = client;
        this.proxy = proxy;
        this.login = login;
        this.backend = backend;
        this.credential = credential;
        this.tls = client.pipeline().get(SslHandler.class) != null;
        this.later = later;
    }

    /**
     * The login of a client on a route with {@code auth: proxy}, its credential from the route or the auth file;
     * {@link #start} asks the client.
     *
     * @param later takes an outcome that comes from a check off the event loop, on the event loop
     */
    static ProxyLogin begin(Channel client, ProxyContext proxy, Login login, BackendConfig backend,
                            BiConsumer<ProxyLogin, Outcome> later) {
        Credential credential;
        try {
            credential = ProxyCredentials.forClient(backend, proxy.authFile(), login.user());
        } catch (IllegalArgumentException e) {
            ClientSession.log.warn("unusable credential for user={} error=\"{}\"", login.logUser(), e.getMessage());
            credential = null;
        }
        return new ProxyLogin(client, proxy, login, backend, credential, null, later);
    }

    /**
     * The login of an admin console user: against {@code credential} (null for a user the console does not list),
     * never through the application's {@link Authenticator}, which decides logins to routes only.
     */
    static ProxyLogin console(Channel client, ProxyContext proxy, Login login, BackendConfig backend,
                              Credential credential, BiConsumer<ProxyLogin, Outcome> later) {
        ProxyLogin l = new ProxyLogin(client, proxy, login, backend, credential, null, later);
        l.noHook = true;
        return l;
    }

    /** The application's hook, or null: none, or a console login. */
    private ProxyContext.Hook hook() {
        return noHook ? null : proxy.hook();
    }

    /** As {@link #begin}, with the credential an auth query found ({@link CredentialLookup}). */
    static ProxyLogin begin(Channel client, ProxyContext proxy, Login login, BackendConfig backend,
                            CredentialLookup.Found found, BiConsumer<ProxyLogin, Outcome> later) {
        return new ProxyLogin(client, proxy, login, backend, found.credential(), found, later);
    }

    /**
     * The client failed to prove it knows the credential: one an auth query found is asked for again at the next
     * login (the password may have changed in the backend).
     */
    void refuted() {
        if (found != null) {
            proxy.credentialCache().refuted(found.key());
        }
    }

    /**
     * Asks the client for what the route's method needs (after a NegotiateProtocolVersion, as a server would send
     * it first), or the hook first; the outcome when known at once, else null.
     *
     * @param pending what the client sent after its startup message, or null; taken over
     */
    Outcome start(ByteBuf pending) {
        if (pending != null) {
            in.add(client.alloc(), pending);
        }
        StartupMessage startup = login.startup();
        ByteBuf negotiation = AuthRelay.ownNegotiation(startup, client.alloc());
        if (negotiation != null) {
            client.write(negotiation);
        }
        ClientAuthMethod method = backend.clientAuthMethod();
        if (method == ClientAuthMethod.PASSWORD && !tls && !proxy.cleartextWithoutTls()) {
            return new Refused(LoginErrors.cleartextNeedsTls(), "cleartext password asked for without TLS");
        }
        ProxyContext.Hook hook = hook();
        if (hook == null || method == ClientAuthMethod.PASSWORD) {
            return ask();
        }
        AuthRequest request = request(null);
        OffLoop.call(proxy.routerExecutor(), client.eventLoop(), hook.timeout(),
                () -> hook.authenticator().authenticate(request), (decision, error) -> {
                    if (released) {
                        return;
                    }
                    Outcome outcome = error != null ? hookFailed(error) : switch (decision) {
                        case null -> hookFailed(new NullPointerException("the authenticator returned null"));
                        case Authenticator.Pass p -> ask();
                        default -> decided(decision, false);
                    };
                    if (outcome != null) {
                        later.accept(this, outcome);
                    }
                    if (!released && readable()) {
                        client.read();
                    }
                });
        return null;
    }

    /** Client bytes, taken over; the outcome once the exchange ended, else null. */
    Outcome onBytes(ByteBuf bytes) {
        in.add(client.alloc(), bytes);
        return read();
    }

    /** Whether the exchange waits for the client (rather than for a check off the event loop). */
    boolean readable() {
        return !(step instanceof Waiting);
    }

    /** What the client sent after its last authentication message (it may pipeline queries), or null. */
    ByteBuf rest() {
        return in.take();
    }

    void release() {
        released = true;
        in.release();
    }

    /** The route's method: its request to the client, or its outcome when it asks nothing. */
    private Outcome ask() {
        ClientAuthMethod method = backend.clientAuthMethod();
        switch (method) {
            case TRUST -> {
                return authenticated(ProxyCredentials.Proof.NONE);
            }
            case CERT -> {
                return certificate();
            }
            case PASSWORD -> {
                step = new Cleartext();
                client.writeAndFlush(new AuthenticationCleartextPassword().encode(client.alloc()));
            }
            case MD5, SCRAM_SHA_256 -> {
                if (method == ClientAuthMethod.MD5 && credential instanceof Md5Hash hash) {
                    byte[] salt = new byte[AuthenticationMD5Password.SALT_LENGTH];
                    RANDOM.nextBytes(salt);
                    step = new Md5(hash, salt);
                    client.writeAndFlush(new AuthenticationMD5Password(salt).encode(client.alloc()));
                } else {
                    // SCRAM, also for MD5 when the credential cannot answer MD5 (auth.c's CheckPWChallengeAuth); an
                    // unknown user, or an MD5 hash asked for SCRAM, gets the exchange of an unknown user.
                    ScramServer scram = ProxyCredentials.exchange(login.user(), credential,
                            proxy.loginTiming().mockSecret(), ProxyCredentials.bindingOf(client));
                    step = new Sasl(scram);
                    client.writeAndFlush(new AuthenticationSASL(scram.mechanisms()).encode(client.alloc()));
                }
            }
        }
        return read();
    }

    private Outcome read() {
        try {
            ByteBuf buf;
            while (!(step instanceof Waiting) && (buf = in.peek()) != null && buf.isReadable()) {
                int type = buf.getUnsignedByte(buf.readerIndex());
                if (type != 'p') {
                    // PostgreSQL looks at the type before anything else (Terminate included)
                    return new Refused(LoginErrors.expected(step instanceof Sasl ? "SASL" : "password", type),
                            "protocol violation");
                }
                if (buf.readableBytes() < 5) {
                    return null;
                }
                int length = buf.getInt(buf.readerIndex() + 1);
                if (length < 4 || length - 4 > MAX_AUTH_MESSAGE) {
                    // PostgreSQL ends such a login as a failed password
                    return new Refused(LoginErrors.passwordFailed(login.user()), "authentication message too long");
                }
                if (buf.readableBytes() < length + 1) {
                    return null;
                }
                ByteBuf body = buf.retainedSlice(buf.readerIndex() + 5, length - 4);
                buf.skipBytes(length + 1);
                Outcome outcome;
                try {
                    outcome = onMessage(body);
                } finally {
                    body.release();
                }
                if (outcome != null) {
                    return outcome;
                }
            }
            return null;
        } finally {
            in.compact();
        }
    }

    private Outcome onMessage(ByteBuf body) {
        switch (step) {
            case Sasl s -> {
                switch (s.scram().onMessage(body)) {
                    case ScramServer.Continue c -> client.writeAndFlush(
                            new AuthenticationSASLContinue(c.serverFirstMessage()).encode(client.alloc()));
                    case ScramServer.Done d -> {
                        client.write(new AuthenticationSASLFinal(d.serverFinalMessage()).encode(client.alloc()));
                        // A verifier made here from a plain password has a salt of its own: its keys are not the
                        // server's.
                        return authenticated(switch (credential) {
                            case ScramVerifier v -> new ProxyCredentials.Proof.ScramKeys(d.clientKey(), v.serverKey(),
                                    v.salt(), v.iterations());
                            // proved against a verifier made from the auth file's plain password: that password
                            case PlainPassword plain -> new ProxyCredentials.Proof.Cleartext(
                                    new String(plain.password()).getBytes(java.nio.charset.StandardCharsets.UTF_8));
                            default -> ProxyCredentials.Proof.NONE;
                        });
                    }
                    case ScramServer.Failure f -> {
                        return new Refused(f.error(), credential == null ? "no credential for the user (SCRAM"
                                + " exchange of an unknown user)" : credential instanceof Md5Hash
                                ? "the user's credential is an MD5 hash, which cannot check SCRAM (client_auth_method"
                                + " md5 would ask for MD5)" : "SCRAM authentication failed");
                    }
                }
                return null;
            }
            case Md5 m -> {
                Refused malformed = malformedPassword(body);
                if (malformed != null) {
                    return malformed;
                }
                // ISO-8859-1 keeps every byte: anything but the 35 ASCII characters of the answer cannot match.
                String answer = body.toString(body.readerIndex(), body.readableBytes() - 1,
                        StandardCharsets.ISO_8859_1);
                if (!m.hash().verifyResponse(answer, m.salt())) {
                    return new Refused(LoginErrors.passwordFailed(login.user()), "wrong password (MD5)");
                }
                return authenticated(new ProxyCredentials.Proof.Md5(m.hash()));
            }
            case Cleartext c -> {
                Refused malformed = malformedPassword(body);
                if (malformed != null) {
                    return malformed;
                }
                check(ByteBufUtil.getBytes(body, body.readerIndex(), body.readableBytes() - 1));
                return null;
            }
            case Waiting w -> throw new IllegalStateException("no message expected");
        }
    }

    /** PostgreSQL's checks of a PasswordMessage ({@code recv_password_packet}): one string, and not empty. */
    private static Refused malformedPassword(ByteBuf body) {
        int n = body.readableBytes();
        if (n == 0 || body.indexOf(body.readerIndex(), body.writerIndex(), (byte) 0) != body.writerIndex() - 1) {
            return new Refused(LoginErrors.invalidPasswordPacket(), "malformed password message");
        }
        return n == 1 ? new Refused(LoginErrors.emptyPassword(), "empty password") : null;
    }

    /**
     * The cleartext password's check, off the event loop: the hook's (with the password on TLS only), then, unless
     * it decided, the stored credential's.
     */
    private void check(byte[] password) {
        step = new Waiting();
        ProxyContext.Hook hook = hook();
        AuthRequest request = hook == null ? null : request(tls ? ProxyCredentials.utf8(password) : null);
        Credential stored = credential;
        String user = login.user();
        OffLoop.call(proxy.routerExecutor(), client.eventLoop(), hook == null ? null : hook.timeout(), () -> {
            try {
                Authenticator.Decision decision = hook == null ? Authenticator.Decision.PASS
                        : hook.authenticator().authenticate(request);
                boolean pass = decision instanceof Authenticator.Pass;
                return new Verdict(decision, pass && stored != null && stored.matchesCleartext(password, user));
            } finally {
                if (request != null && request.password() != null) {
                    Arrays.fill(request.password(), '\0');
                }
            }
        }, (verdict, error) -> {
            try {
                if (released) {
                    return;
                }
                Outcome outcome = error != null ? hookFailed(error) : switch (verdict.decision()) {
                    case null -> hookFailed(new NullPointerException("the authenticator returned null"));
                    case Authenticator.Pass p -> verdict.matches()
                            ? authenticated(new ProxyCredentials.Proof.Cleartext(password))
                            : new Refused(LoginErrors.passwordFailed(login.user()), stored == null
                            ? "no credential for the user" : "wrong password (cleartext)");
                    default -> decided(verdict.decision(), true);
                };
                later.accept(this, outcome);
            } finally {
                Arrays.fill(password, (byte) 0);
            }
        });
    }

    /** The hook's ACCEPT or REFUSE. */
    private Outcome decided(Authenticator.Decision decision, boolean passwordSent) {
        if (!(decision instanceof Authenticator.Refuse refuse)) {
            return authenticated(ProxyCredentials.Proof.NONE);
        }
        String sqlState = passwordSent ? SqlState.INVALID_PASSWORD : SqlState.INVALID_AUTHORIZATION_SPECIFICATION;
        ErrorResponse error = refuse.message() != null ? ErrorResponse.fatal(sqlState, refuse.message())
                : passwordSent ? LoginErrors.passwordFailed(login.user())
                : LoginErrors.authenticationFailed(login.user());
        return new Refused(error, "refused by the authenticator");
    }

    private Refused hookFailed(Throwable error) {
        return switch (error) {
            case TimeoutException e -> {
                if (HOOK_FAILURES.admit(ClientSession.log)) {
                    ClientSession.log.warn("authenticator timed out client={} user={} timeout_ms={}",
                            client.remoteAddress(), login.logUser(),
                            hook() == null ? null : hook().timeout().toMillis());
                }
                yield new Refused(ErrorResponse.fatal(SqlState.CONNECTION_FAILURE,
                        "could not authenticate the connection: timed out"), "authenticator timed out");
            }
            case RejectedExecutionException e -> new Refused(ErrorResponse.fatal(SqlState.CANNOT_CONNECT_NOW,
                    "the proxy is shutting down"), "shutting down");
            default -> {
                if (HOOK_FAILURES.admit(ClientSession.log)) {
                    ClientSession.log.error("authenticator failed client={} user={}", client.remoteAddress(),
                            login.logUser(), error);
                }
                yield new Refused(ErrorResponse.fatal(SqlState.CONNECTION_FAILURE,
                        "could not authenticate the connection"), "authenticator failed");
            }
        };
    }

    /** PostgreSQL's {@code cert} method: a certificate pgmux verified, whose CN is the user name. */
    private Outcome certificate() {
        X509Certificate certificate = ProxyCredentials.clientCertificate(client);
        if (certificate == null) {
            return new Refused(LoginErrors.certificateRequired(), tls ? "no client certificate"
                    : "no client certificate (not on TLS)");
        }
        String cn = ProxyCredentials.commonName(certificate);
        if (cn == null || !cn.equals(login.user())) {
            return new Refused(LoginErrors.certificateFailed(login.user()), cn == null
                    ? "client certificate contains no user name (CN)"
                    : "certificate CN \"" + Login.escape(cn) + "\" is not the user name");
        }
        return authenticated(ProxyCredentials.Proof.NONE);
    }

    /** Sends AuthenticationOk; {@code proof} is what the client proved it knows. */
    private Outcome authenticated(ProxyCredentials.Proof proof) {
        step = new Waiting();
        client.writeAndFlush(new AuthenticationOk().encode(client.alloc()));
        return new Authenticated(ProxyCredentials.forServer(backend, proxy.authFile(), login, proof));
    }

    private AuthRequest request(char[] password) {
        return new AuthRequest(login.user(), login.startup().database(), backend,
                ClientAddress.of(client), tls, password);
    }
}
