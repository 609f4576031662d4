package dev.pgmux;

import static dev.pgmux.testing.RawClient.params;
import static org.assertj.core.api.Assertions.assertThat;

import dev.pgmux.embedded.LocalPostgres;
import dev.pgmux.testing.PgStatActivity;
import dev.pgmux.testing.RawClient;
import dev.pgmux.testing.RawClient.Message;
import dev.pgmux.testing.TestCerts;
import dev.pgmux.testing.TestServers;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Protocol corners through the proxy with a raw socket client: version negotiation, protocol 3.2 cancel keys,
 * direct TLS, TLS policy, and the startup checks PostgreSQL itself makes.
 */
class ProtocolIT {
    static LocalPostgres pg17;
    static LocalPostgres pg18;
    static ProxyServer proxy;
    static ProxyServer tlsRequired;

    @BeforeAll
    static void start() throws Exception {
        pg17 = TestServers.pg17();
        pg18 = TestServers.pg18();
        StaticRouter router = StaticRouter.empty()
                .put("trust18", BackendConfig.builder().host(pg18.host()).port(pg18.port()).user(TestServers.TRUST_USER).build())
                .put("trust17", BackendConfig.builder().host(pg17.host()).port(pg17.port()).user(TestServers.TRUST_USER).build());
        TlsConfig tls = TlsConfig.fromPemFiles(TestCerts.serverCert(), TestCerts.serverKey());
        proxy = new ProxyServer("127.0.0.1:0", router).withTls(tls)
                .withLimits(Limits.DEFAULT.withLoginTimeout(Duration.ofSeconds(2))).start();
        tlsRequired = new ProxyServer("127.0.0.1:0", router).withTls(tls.withRequired(true)).start();
    }

    @AfterAll
    static void stop() {
        for (ProxyServer p : new ProxyServer[] {proxy, tlsRequired}) {
            if (p != null) {
                p.close(Duration.ofSeconds(1));
            }
        }
    }

    static RawClient client() throws Exception {
        return new RawClient("127.0.0.1", proxy.port());
    }

    /** Reads the login exchange up to ReadyForQuery; returns the BackendKeyData. */
    static Message login(RawClient c) throws Exception {
        Message key = null;
        while (true) {
            Message m = c.read();
            switch (m.type()) {
                case 'R' -> assertThat(m.int32(0)).as("AuthenticationOk").isZero();
                case 'K' -> key = m;
                case 'E' -> throw new AssertionError("error: " + m.field('M'));
                case 'Z' -> {
                    return key;
                }
                default -> {
                }
            }
        }
    }

    @Test
    void protocol32ToPostgres18GivesLongCancelKeysThatWork() throws Exception {
        try (RawClient c = client()) {
            c.startup(2, params("user", "trust18", "database", "postgres"));
            Message first = c.read();
            assertThat(first.type()).as("no NegotiateProtocolVersion for a supported version").isEqualTo('R');
            Message key = login(c);
            assertThat(key.body()).hasSize(4 + 32);
            int pid = key.int32(0);
            byte[] secret = Arrays.copyOfRange(key.body(), 4, key.body().length);

            c.query("select pg_sleep(20)");
            PgStatActivity.awaitRunning(pg18, pid, "select pg_sleep(20)");
            c.sendCancel("127.0.0.1", proxy.port(), pid, secret);
            Message err = c.readUntil('E');
            assertThat(err.field('C')).isEqualTo("57014");
            c.readUntil('Z');

            // A wrong secret is dropped silently: the next query runs to its end.
            secret[0] ^= 1;
            c.query("select pg_sleep(1)");
            c.sendCancel("127.0.0.1", proxy.port(), pid, secret);
            Message done = c.readUntil('C');
            assertThat(new String(done.body(), StandardCharsets.UTF_8)).startsWith("SELECT 1");
        }
    }

    @Test
    void protocol32ToPostgres17IsNegotiatedDown() throws Exception {
        try (RawClient c = client()) {
            c.startup(2, params("user", "trust17", "database", "postgres"));
            Message v = c.read();
            assertThat(v.type()).isEqualTo('v');
            assertThat(v.int32(0)).as("newest version, 3.0").isEqualTo(0x30000);
            assertThat(v.int32(4)).as("unrecognized options").isZero();
            Message key = login(c);
            assertThat(key.body()).as("3.0 cancel key").hasSize(8);
        }
    }

    @Test
    void unknownMinorVersionAndProtocolOptionsAreNegotiated() throws Exception {
        try (RawClient c = client()) {
            c.startup(99, params("user", "trust18", "database", "postgres", "_pq_.pgmux_test", "on"));
            Message v = c.read();
            assertThat(v.type()).isEqualTo('v');
            assertThat(v.int32(0)).as("newest version, 3.2").isEqualTo(0x30002);
            assertThat(v.int32(4)).isEqualTo(1);
            assertThat(new String(v.body(), 8, v.body().length - 9, StandardCharsets.UTF_8)).isEqualTo("_pq_.pgmux_test");
            assertThat(login(c).body()).hasSize(4 + 32);
            c.query("select 1");
            assertThat(c.readUntil('D')).isNotNull();
        }
    }

    /** What a raw client sees up to ReadyForQuery (or an error): message types, and NegotiateProtocolVersion's body. */
    static String startupTranscript(int port, int minor) throws Exception {
        StringBuilder sb = new StringBuilder();
        try (RawClient c = new RawClient("127.0.0.1", port)) {
            c.startup(minor, params("user", TestServers.TRUST_USER, "database", "postgres"));
            for (Message m = c.read(); ; m = c.read()) {
                sb.append(m.type());
                if (m.type() == 'v') {
                    sb.append(Arrays.toString(m.body()));
                } else if (m.type() == 'K') {
                    sb.append(m.body().length);
                }
                if (m.type() == 'Z' || m.type() == 'E') {
                    return sb.toString().replaceAll("S+", "S"); // ParameterStatus: how many is the server's business
                }
            }
        }
    }

    @Test
    void everyMinorVersionIsAnsweredAsPostgresAnswersIt() throws Exception {
        for (LocalPostgres pg : List.of(pg17, pg18)) {
            StaticRouter router = StaticRouter.empty()
                    .put(TestServers.TRUST_USER, BackendConfig.builder().host(pg.host()).port(pg.port()).build());
            try (ProxyServer p = new ProxyServer("127.0.0.1:0", router).start()) {
                for (int minor : new int[] {0, 1, 2, 3, 99}) {
                    String direct = startupTranscript(pg.port(), minor);
                    assertThat(direct).as("a login").endsWith("Z");
                    assertThat(startupTranscript(p.port(), minor)).as("protocol 3." + minor + " to " + pg.version())
                            .isEqualTo(direct);
                }
            }
        }
    }

    @Test
    void gssEncRequestIsDeclinedAndStartupContinues() throws Exception {
        try (RawClient c = client()) {
            c.send(new byte[] {0, 0, 0, 8, 0x04, (byte) 0xd2, 0x16, 0x30});
            assertThat(c.readByte()).isEqualTo('N');
            c.startup(0, params("user", "trust18", "database", "postgres"));
            login(c);
        }
    }

    @Test
    void directTlsNeedsAlpnPostgresql() throws Exception {
        try (RawClient c = RawClient.directTls("localhost", proxy.port(), TestCerts.caCert(), "postgresql")) {
            c.startup(0, params("user", "trust18", "database", "postgres"));
            login(c);
            c.query("select 1");
            c.readUntil('Z');
        }
        try (RawClient c = RawClient.directTls("localhost", proxy.port(), TestCerts.caCert())) {
            Message e = c.read();
            assertThat(e.type()).isEqualTo('E');
            assertThat(e.field('C')).isEqualTo("08P01");
            assertThat(e.field('M')).contains("ALPN");
        }
    }

    @Test
    void unencryptedBytesAfterSslRequestAreRefused() throws Exception {
        try (RawClient c = client()) {
            byte[] ssl = {0, 0, 0, 8, 0x04, (byte) 0xd2, 0x16, 0x2f};
            byte[] startup = RawClient.startupPacket(3, 0, params("user", "trust18"));
            byte[] both = new byte[ssl.length + startup.length];
            System.arraycopy(ssl, 0, both, 0, ssl.length);
            System.arraycopy(startup, 0, both, ssl.length, startup.length);
            c.send(both);
            Message e = c.read();
            assertThat(e.field('C')).isEqualTo("08P01");
            assertThat(e.field('M')).isEqualTo("received unencrypted data after SSL request");
            assertThat(c.closedByServer()).isTrue();
        }
    }

    @Test
    void secondSslRequestInsideTlsIsRefused() throws Exception {
        try (RawClient c = client()) {
            assertThat(c.sslRequest(TestCerts.caCert(), "localhost")).isEqualTo('S');
            c.send(new byte[] {0, 0, 0, 8, 0x04, (byte) 0xd2, 0x16, 0x2f});
            Message e = c.read();
            assertThat(e.field('C')).isEqualTo("0A000");
        }
    }

    @Test
    void tlsRequiredRefusesPlaintextButAcceptsPlaintextCancel() throws Exception {
        try (RawClient c = new RawClient("127.0.0.1", tlsRequired.port())) {
            c.startup(0, params("user", "trust18", "database", "postgres"));
            Message e = c.read();
            assertThat(e.field('C')).isEqualTo("28000");
            assertThat(e.field('M')).isEqualTo("SSL connection is required");
        }
        try (RawClient c = new RawClient("127.0.0.1", tlsRequired.port())) {
            c.send(new byte[] {0, 0, 0, 8, 0x04, (byte) 0xd2, 0x16, 0x30});
            assertThat(c.readByte()).isEqualTo('N');
            c.startup(0, params("user", "trust18", "database", "postgres"));
            assertThat(c.read().field('C')).isEqualTo("28000");
        }
        try (RawClient c = new RawClient("127.0.0.1", tlsRequired.port())) {
            assertThat(c.sslRequest(TestCerts.caCert(), "localhost")).isEqualTo('S');
            c.startup(0, params("user", "trust18", "database", "postgres"));
            Message key = login(c);
            c.query("select pg_sleep(20)");
            PgStatActivity.awaitRunning(pg18, key.int32(0), "select pg_sleep(20)");
            // libpq sends cancel requests in plaintext even for TLS sessions (psql's Ctrl-C).
            c.sendCancel("127.0.0.1", tlsRequired.port(), key.int32(0), Arrays.copyOfRange(key.body(), 4, key.body().length));
            assertThat(c.readUntil('E').field('C')).isEqualTo("57014");
        }
    }

    @Test
    void sniHostNameReachesTheRouter() throws Exception {
        java.util.concurrent.atomic.AtomicReference<RouteRequest> seen = new java.util.concurrent.atomic.AtomicReference<>();
        Router router = request -> {
            seen.set(request);
            return BackendConfig.builder().host(pg18.host()).port(pg18.port()).user(TestServers.TRUST_USER).build();
        };
        try (ProxyServer p = new ProxyServer("127.0.0.1:0", router)
                .withTls(TlsConfig.fromPemFiles(TestCerts.serverCert(), TestCerts.serverKey())).start()) {
            try (RawClient c = new RawClient("127.0.0.1", p.port())) {
                assertThat(c.sslRequest(TestCerts.caCert(), "tenant1.localhost")).isEqualTo('S');
                c.startup(0, params("user", "tenant_user", "database", "postgres", "application_name", "sni-test"));
                login(c);
            }
            assertThat(seen.get().sniHost()).isEqualTo("tenant1.localhost");
            assertThat(seen.get().user()).isEqualTo("tenant_user");
            assertThat(seen.get().applicationName()).isEqualTo("sni-test");
            assertThat(seen.get().tls()).isTrue();
            p.close(Duration.ofSeconds(1));
        }
    }

    @Test
    void certificateFilesAreReloadedWithoutDroppingSessions(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir)
            throws Exception {
        java.nio.file.Path cert = dir.resolve("server.crt");
        java.nio.file.Path key = dir.resolve("server.key");
        java.nio.file.Files.copy(TestCerts.serverCert(), cert);
        java.nio.file.Files.copy(TestCerts.serverKey(), key);
        Router router = request -> BackendConfig.builder().host(pg18.host()).port(pg18.port()).user(TestServers.TRUST_USER).build();
        try (ProxyServer p = new ProxyServer("127.0.0.1:0", router).withTls(TlsConfig.fromPemFiles(cert, key)).start();
             RawClient before = new RawClient("127.0.0.1", p.port())) {
            assertThat(before.sslRequest(RawClient.trustAll(), "localhost")).isEqualTo('S');
            before.startup(0, params("user", "x", "database", "postgres"));
            login(before);
            var first = before.peerCertificate();

            java.nio.file.Files.copy(TestCerts.otherCert(), cert, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
            java.nio.file.Files.copy(TestCerts.otherKey(), key, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
            long end = System.nanoTime() + Duration.ofSeconds(10).toNanos();
            java.security.cert.X509Certificate now;
            do {
                Thread.sleep(200);
                try (RawClient after = new RawClient("127.0.0.1", p.port())) {
                    assertThat(after.sslRequest(RawClient.trustAll(), "localhost")).isEqualTo('S');
                    now = after.peerCertificate();
                }
            } while (now.equals(first) && System.nanoTime() < end);
            assertThat(now).as("new connections get the new certificate").isNotEqualTo(first);
            // The session established before the reload is untouched.
            before.query("select 1");
            assertThat(before.readUntil('Z')).isNotNull();
            p.close(Duration.ofSeconds(1));
        }
    }

    @Test
    void aCallersSslContextServesTls() throws Exception {
        // The server key and certificate as a JDK KeyStore, the way an embedding program would have them.
        String pem = java.nio.file.Files.readString(TestCerts.serverKey());
        byte[] der = java.util.Base64.getMimeDecoder().decode(pem.replaceAll("-----[A-Z ]+-----", ""));
        var spec = new java.security.spec.PKCS8EncodedKeySpec(der);
        java.security.PrivateKey key;
        try {
            key = java.security.KeyFactory.getInstance("RSA").generatePrivate(spec);
        } catch (java.security.spec.InvalidKeySpecException notRsa) {
            key = java.security.KeyFactory.getInstance("EC").generatePrivate(spec);
        }
        java.security.cert.Certificate cert;
        try (var in = java.nio.file.Files.newInputStream(TestCerts.serverCert())) {
            cert = java.security.cert.CertificateFactory.getInstance("X.509").generateCertificate(in);
        }
        var keyStore = java.security.KeyStore.getInstance("PKCS12");
        keyStore.load(null, null);
        keyStore.setKeyEntry("server", key, new char[0], new java.security.cert.Certificate[] {cert});
        var kmf = javax.net.ssl.KeyManagerFactory.getInstance(javax.net.ssl.KeyManagerFactory.getDefaultAlgorithm());
        kmf.init(keyStore, new char[0]);
        javax.net.ssl.SSLContext context = javax.net.ssl.SSLContext.getInstance("TLS");
        context.init(kmf.getKeyManagers(), null, null);

        Router router = request -> BackendConfig.builder().host(pg18.host()).port(pg18.port()).user(TestServers.TRUST_USER).build();
        try (ProxyServer p = new ProxyServer("127.0.0.1:0", router).withTls(TlsConfig.fromSslContext(context)).start();
             RawClient c = new RawClient("127.0.0.1", p.port())) {
            assertThat(c.sslRequest(TestCerts.caCert(), "localhost")).isEqualTo('S');
            assertThat(c.peerCertificate()).isEqualTo(cert);
            c.startup(0, params("user", "x", "database", "postgres"));
            login(c);
            p.close(Duration.ofSeconds(1));
        }
    }

    @Test
    void aClientThatTricklesItsStartupIsClosedAtTheLoginTimeout() throws Exception {
        try (RawClient c = client()) {
            c.send(new byte[] {0, 0});
            long t0 = System.nanoTime();
            assertThat(c.closedByServer()).isTrue();
            assertThat(Duration.ofNanos(System.nanoTime() - t0)).isBetween(Duration.ofMillis(1500), Duration.ofSeconds(6));
        }
    }
}
