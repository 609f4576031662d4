package dev.pgmux.session;

import static org.assertj.core.api.Assertions.assertThat;

import dev.pgmux.AuthMode;
import dev.pgmux.AuthRequest;
import dev.pgmux.Authenticator;
import dev.pgmux.BackendConfig;
import dev.pgmux.ClientAuthMethod;
import dev.pgmux.Limits;
import dev.pgmux.Router;
import dev.pgmux.auth.Md5Hash;
import dev.pgmux.auth.ScramVerifier;
import dev.pgmux.protocol.ErrorResponse;
import dev.pgmux.protocol.StartupPacket.StartupMessage;
import dev.pgmux.protocol.WireBytes;
import dev.pgmux.testing.TrackingAllocator;
import dev.pgmux.transport.Transport;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.channel.embedded.EmbeddedChannel;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.AbstractExecutorService;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The client side of a login at pgmux, method by method, driven through an {@link EmbeddedChannel} without TLS:
 * the bytes pgmux asks with, the client's answers (right, wrong, malformed), the outcome and what pgmux would log
 * in to the server with, and the application's hook. Checks off the event loop run inline here (or, for the
 * timeout, on a virtual thread that never answers), so that every step is deterministic.
 */
class ProxyLoginTest {
    /** md5("secret" || "ann"). */
    static final String MD5 = Md5Hash.of("secret", "ann");
    static final String VERIFIER = ScramVerifier.generate("secret".toCharArray()).text();

    private final TrackingAllocator alloc = new TrackingAllocator();
    private final List<ProxyLogin.Outcome> later = new ArrayList<>();
    private final List<AuthRequest> asked = new ArrayList<>();
    private final List<ExecutorService> executors = new ArrayList<>();
    private EmbeddedChannel ch;
    private ProxyLogin login;

    @AfterEach
    void everythingReleased() {
        if (login != null) {
            login.release();
        }
        if (ch != null) {
            ch.finishAndReleaseAll();
        }
        executors.forEach(ExecutorService::shutdownNow);
        alloc.assertAllReleased();
    }

    // ---------------------------------------------------------------- MD5

    @Test
    void md5ForAnMd5HashRightThenTheHashLogsInToTheServer() {
        ProxyLogin.Outcome none = start(route(ClientAuthMethod.MD5, MD5), context(null));
        assertThat(none).isNull();
        byte[] request = outbound();
        assertThat(request).hasSize(13).startsWith('R', 0, 0, 0, 12, 0, 0, 0, 5);
        byte[] salt = java.util.Arrays.copyOfRange(request, 9, 13);

        ProxyLogin.Outcome outcome = send(password(new Md5Hash(MD5).response(salt)));
        assertThat(outbound()).containsExactly('R', 0, 0, 0, 8, 0, 0, 0, 0);
        assertThat(outcome).isInstanceOfSatisfying(ProxyLogin.Authenticated.class, ok -> {
            assertThat(ok.server().user()).isEqualTo("ann");
            assertThat(ok.server().password()).isNull();
            assertThat(ok.server().md5()).isEqualTo(new Md5Hash(MD5));
        });
    }

    @Test
    void md5WrongIs28P01AndASaltIsNeverTheSameTwice() {
        start(route(ClientAuthMethod.MD5, MD5), context(null));
        byte[] first = outbound();
        ProxyLogin.Outcome outcome = send(password(Md5Hash.of("wrong", "ann")));
        assertRefused(outcome, "28P01", "password authentication failed for user \"ann\"");

        login.release();
        ch.finishAndReleaseAll();
        start(route(ClientAuthMethod.MD5, MD5), context(null));
        assertThat(outbound()).as("a new random salt").isNotEqualTo(first);
    }

    /** PostgreSQL's md5 method with a SCRAM verifier, or a user without a credential: SCRAM, as auth.c does. */
    @Test
    void md5WithAVerifierOrNoCredentialAsksForScram() {
        start(route(ClientAuthMethod.MD5, VERIFIER), context(null));
        assertThat(new String(outbound(), StandardCharsets.US_ASCII)).contains("SCRAM-SHA-256");
        login.release();
        ch.finishAndReleaseAll();
        start(route(ClientAuthMethod.MD5, null), context(null));
        assertThat(new String(outbound(), StandardCharsets.US_ASCII)).contains("SCRAM-SHA-256");
    }

    @Test
    void aPasswordMessageThatIsNotOneStringOrIsEmpty() {
        start(route(ClientAuthMethod.MD5, MD5), context(null));
        outbound();
        assertRefused(send(WireBytes.of().raw("md5abc").message('p')), "08P01", "invalid password packet size");
        reset(ClientAuthMethod.MD5, MD5, context(null));
        assertRefused(send(WireBytes.of().cstring("md5").int8(1).message('p')), "08P01",
                "invalid password packet size");
        reset(ClientAuthMethod.MD5, MD5, context(null));
        assertRefused(send(WireBytes.of().message('p')), "08P01", "invalid password packet size");
        reset(ClientAuthMethod.MD5, MD5, context(null));
        assertRefused(send(WireBytes.of().cstring("").message('p')), "28P01", "empty password returned by client");
        reset(ClientAuthMethod.MD5, MD5, context(null));
        assertRefused(send(WireBytes.of().message('X')), "08P01", "expected password response, got message type 88");
        reset(ClientAuthMethod.MD5, MD5, context(null));
        assertRefused(send(WireBytes.of().int8('p').int32(70000).bytes()), "28P01",
                "password authentication failed for user \"ann\"");
    }

    // ---------------------------------------------------------------- cleartext

    @Test
    void cleartextWithoutTlsIsRefusedBeforeTheClientSendsIt() {
        ProxyLogin.Outcome outcome = start(route(ClientAuthMethod.PASSWORD, VERIFIER), context(null));
        assertRefused(outcome, "28000", "password authentication requires an SSL connection");
        assertThat((Object) ch.readOutbound()).as("no password request").isNull();
    }

    @Test
    void cleartextAllowedWithoutTlsIsCheckedAgainstAVerifierAndReusedForTheServer() {
        ProxyContext proxy = context(null);
        proxy.cleartextWithoutTls(true);
        start(route(ClientAuthMethod.PASSWORD, VERIFIER), proxy);
        assertThat(outbound()).containsExactly('R', 0, 0, 0, 8, 0, 0, 0, 3);
        assertThat(send(password("secret"))).as("checked off the event loop").isNull();
        assertThat(login.readable()).isFalse();
        ch.runPendingTasks();
        assertThat(outbound()).containsExactly('R', 0, 0, 0, 8, 0, 0, 0, 0);
        assertThat(later).singleElement().isInstanceOfSatisfying(ProxyLogin.Authenticated.class,
                ok -> assertThat(ok.server().password()).containsExactly("secret".toCharArray()));
    }

    @Test
    void cleartextWrongOrWithoutCredentialIs28P01() {
        ProxyContext proxy = context(null);
        proxy.cleartextWithoutTls(true);
        for (String credential : new String[] {VERIFIER, MD5, null}) {
            reset(ClientAuthMethod.PASSWORD, credential, proxy);
            send(password(credential == null ? "secret" : "wrong"));
            ch.runPendingTasks();
            assertRefused(later.getLast(), "28P01", "password authentication failed for user \"ann\"");
        }
        reset(ClientAuthMethod.PASSWORD, MD5, proxy);
        send(password("secret"));
        ch.runPendingTasks();
        assertThat(later.getLast()).isInstanceOf(ProxyLogin.Authenticated.class);
    }

    // ---------------------------------------------------------------- trust and cert

    @Test
    void trustAsksNothingAndKeepsWhatTheClientPipelined() {
        byte[] query = WireBytes.of().cstring("select 1").message('Q');
        ProxyLogin.Outcome outcome = start(route(ClientAuthMethod.TRUST, MD5), context(null), query);
        assertThat(outcome).as("the stored hash is no proof the client gave").isInstanceOfSatisfying(
                ProxyLogin.Authenticated.class, ok -> assertThat(ok.server().md5()).isNull());
        assertThat(outbound()).containsExactly('R', 0, 0, 0, 8, 0, 0, 0, 0);
        ByteBuf rest = login.rest();
        try {
            assertThat(ByteBufUtil.getBytes(rest)).isEqualTo(query);
        } finally {
            rest.release();
        }
    }

    @Test
    void certWithoutTlsIs28000() {
        assertRefused(start(route(ClientAuthMethod.CERT, null), context(null)), "28000",
                "connection requires a valid client certificate");
    }

    // ---------------------------------------------------------------- the application's hook

    @Test
    void theHookIsAskedBeforeAMethodThatAsksNoPasswordAndMayRefuseIt() {
        start(route(ClientAuthMethod.TRUST, null), context(request -> Authenticator.Decision.refuse()));
        assertThat((Object) ch.readOutbound()).as("nothing before the hook answered").isNull();
        ch.runPendingTasks();
        assertRefused(later.getLast(), "28000", "authentication failed for user \"ann\"");
        assertThat(asked).singleElement().satisfies(r -> {
            assertThat(r.user()).isEqualTo("ann");
            assertThat(r.database()).isEqualTo("shop");
            assertThat(r.tls()).isFalse();
            assertThat(r.password()).isNull();
            assertThat(r.route().clientAuthMethod()).isEqualTo(ClientAuthMethod.TRUST);
        });
        reset(ClientAuthMethod.SCRAM_SHA_256, VERIFIER, context(request -> Authenticator.Decision.refuse("go away")));
        ch.runPendingTasks();
        assertRefused(later.getLast(), "28000", "go away");
    }

    @Test
    void theHookAcceptsWithoutAnExchangeOrPassesToTheRoutesMethod() {
        start(route(ClientAuthMethod.SCRAM_SHA_256, VERIFIER), context(request -> Authenticator.Decision.ACCEPT));
        ch.runPendingTasks();
        assertThat(outbound()).containsExactly('R', 0, 0, 0, 8, 0, 0, 0, 0);
        assertThat(later.getLast()).isInstanceOfSatisfying(ProxyLogin.Authenticated.class,
                ok -> assertThat(ok.server().clientKey()).isNull());

        reset(ClientAuthMethod.SCRAM_SHA_256, VERIFIER, context(request -> Authenticator.Decision.PASS));
        assertThat(login.readable()).isFalse();
        ch.runPendingTasks();
        assertThat(new String(outbound(), StandardCharsets.US_ASCII)).contains("SCRAM-SHA-256");
        assertThat(login.readable()).isTrue();
        assertThat(later).hasSize(1);
    }

    /** Without TLS the hook never sees the password, even where a route allows cleartext without TLS. */
    @Test
    void theHookOfAPasswordRouteWithoutTlsDecidesWithoutThePassword() {
        ProxyContext proxy = context(request -> request.password() == null ? Authenticator.Decision.PASS
                : Authenticator.Decision.ACCEPT);
        proxy.cleartextWithoutTls(true);
        start(route(ClientAuthMethod.PASSWORD, VERIFIER), proxy);
        assertThat(outbound()).as("asked at once: the hook comes after the password").hasSize(9);
        send(password("wrong"));
        ch.runPendingTasks();
        assertThat(asked).singleElement().satisfies(r -> assertThat(r.password()).isNull());
        assertRefused(later.getLast(), "28P01", "password authentication failed for user \"ann\"");
    }

    @Test
    void aHookThatThrowsOrAnswersNullFailsTheLoginWith08006() {
        start(route(ClientAuthMethod.TRUST, null), context(request -> {
            throw new IllegalStateException("token service down");
        }));
        ch.runPendingTasks();
        assertRefused(later.getLast(), "08006", "could not authenticate the connection");
        reset(ClientAuthMethod.TRUST, null, context(request -> null));
        ch.runPendingTasks();
        assertRefused(later.getLast(), "08006", "could not authenticate the connection");
    }

    @Test
    void aHookThatTakesTooLongFailsTheLoginWith08006AndIsInterrupted() throws Exception {
        CountDownLatch started = new CountDownLatch(1);
        CountDownLatch interrupted = new CountDownLatch(1);
        ExecutorService threads = Executors.newVirtualThreadPerTaskExecutor();
        executors.add(threads);
        ProxyContext proxy = new ProxyContext(router(), Limits.DEFAULT, null, Transport.nio(), threads);
        proxy.authenticator(request -> {
            started.countDown();
            try {
                Thread.sleep(60_000);
            } catch (InterruptedException e) {
                interrupted.countDown();
            }
            return Authenticator.Decision.ACCEPT;
        }, Duration.ofSeconds(2));
        start(route(ClientAuthMethod.TRUST, null), proxy);
        assertThat(started.await(5, TimeUnit.SECONDS)).isTrue();
        ch.advanceTimeBy(3, TimeUnit.SECONDS);
        ch.runScheduledPendingTasks();
        ch.runPendingTasks();
        assertRefused(later.getLast(), "08006", "could not authenticate the connection: timed out");
        assertThat(interrupted.await(5, TimeUnit.SECONDS)).isTrue();
        assertThat((Object) ch.readOutbound()).as("no AuthenticationOk after the timeout").isNull();
    }

    // ---------------------------------------------------------------- helpers

    static BackendConfig route(ClientAuthMethod method, String credential) {
        return BackendConfig.builder().host("db").auth(AuthMode.PROXY).clientAuthMethod(method)
                .clientCredential(credential).build();
    }

    private static Router router() {
        return request -> null;
    }

    /** A proxy whose checks off the event loop run inline, with {@code hook} (recording its requests) or none. */
    private ProxyContext context(Authenticator hook) {
        ExecutorService inline = new AbstractExecutorService() {
            private boolean shutdown;

            @Override
            public void execute(Runnable command) {
                command.run();
            }

            @Override
            public void shutdown() {
                shutdown = true;
            }

            @Override
            public List<Runnable> shutdownNow() {
                shutdown = true;
                return List.of();
            }

            @Override
            public boolean isShutdown() {
                return shutdown;
            }

            @Override
            public boolean isTerminated() {
                return shutdown;
            }

            @Override
            public boolean awaitTermination(long timeout, TimeUnit unit) {
                return true;
            }
        };
        ProxyContext proxy = new ProxyContext(router(), Limits.DEFAULT, null, Transport.nio(), inline);
        if (hook != null) {
            proxy.authenticator(request -> {
                // the password is wiped once the hook returns: keep a copy of what the test looks at
                asked.add(new AuthRequest(request.user(), request.database(), request.route(),
                        request.clientAddress(), request.tls(),
                        request.password() == null ? null : request.password().clone()));
                return hook.authenticate(request);
            }, Duration.ofSeconds(5));
        }
        return proxy;
    }

    private ProxyLogin.Outcome start(BackendConfig route, ProxyContext proxy, byte[]... pending) {
        ch = new EmbeddedChannel();
        ch.config().setAllocator(alloc);
        Login l = new Login(new StartupMessage(3, 0, Map.of("user", "ann", "database", "shop"), List.of()), null,
                System.nanoTime());
        login = ProxyLogin.begin(ch, proxy, l, route, (exchange, outcome) -> later.add(outcome));
        ByteBuf bytes = null;
        if (pending.length > 0) {
            bytes = alloc.buffer();
            for (byte[] p : pending) {
                bytes.writeBytes(p);
            }
        }
        return login.start(bytes);
    }

    private void reset(ClientAuthMethod method, String credential, ProxyContext proxy) {
        if (login != null) {
            login.release();
            ch.finishAndReleaseAll();
        }
        start(route(method, credential), proxy);
        if (login.readable()) {
            outbound();
        }
    }

    private ProxyLogin.Outcome send(byte[] bytes) {
        ByteBuf buf = alloc.buffer(bytes.length);
        buf.writeBytes(bytes);
        return login.onBytes(buf);
    }

    /** What pgmux wrote to the client since the last call, as one array. */
    private byte[] outbound() {
        ByteBuf all = alloc.buffer();
        try {
            ByteBuf b;
            while ((b = ch.readOutbound()) != null) {
                all.writeBytes(b);
                b.release();
            }
            return ByteBufUtil.getBytes(all);
        } finally {
            all.release();
        }
    }

    static byte[] password(String text) {
        return WireBytes.of().cstring(text).message('p');
    }

    static void assertRefused(ProxyLogin.Outcome outcome, String sqlState, String message) {
        assertThat(outcome).isInstanceOfSatisfying(ProxyLogin.Refused.class, r -> {
            ErrorResponse e = r.error();
            assertThat(e.sqlState()).isEqualTo(sqlState);
            assertThat(e.message()).isEqualTo(message);
            assertThat(r.reason()).doesNotContain("secret");
        });
    }
}
