package dev.pgmux;

import static dev.pgmux.testing.RawClient.params;
import static org.assertj.core.api.Assertions.assertThat;

import dev.pgmux.embedded.LocalPostgres;
import dev.pgmux.testing.RawClient;
import dev.pgmux.testing.RawClient.Message;
import dev.pgmux.testing.TestServers;
import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.nio.charset.StandardCharsets;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.time.Duration;
import java.util.Base64;
import java.util.List;
import java.util.Properties;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * With unknown users hidden, a user without a route gets what PostgreSQL gives a user that does not exist: a
 * SCRAM-SHA-256 exchange (the same salt on every attempt for a name) that ends with 28P01 "password authentication
 * failed", so that user names with routes cannot be told from those without. Compared with a real server's answer
 * to a role it does not have.
 */
class HiddenUsersIT {
    static LocalPostgres pg;
    static ProxyServer proxy;

    @BeforeAll
    static void start() throws Exception {
        pg = TestServers.pg17();
        proxy = new ProxyServer("127.0.0.1:0", StaticRouter.empty()
                .put(TestServers.ALICE, BackendConfig.builder().host(pg.host()).port(pg.port()).build()))
                .withHiddenUnknownUsers(true).start();
    }

    @AfterAll
    static void stop() {
        if (proxy != null) {
            proxy.close(Duration.ofSeconds(1));
        }
    }

    static SQLException login(int port, String user, String password) {
        Properties p = new Properties();
        p.setProperty("user", user);
        p.setProperty("password", password);
        p.setProperty("sslmode", "disable");
        try (var c = DriverManager.getConnection("jdbc:postgresql://127.0.0.1:" + port + "/postgres", p)) {
            return null;
        } catch (SQLException e) {
            return e;
        }
    }

    @Test
    void anUnknownUserLooksLikeAWrongPasswordAsOnPostgres() {
        // a user with a route and a wrong password: the server's answer (whose source location pgmux notes)
        SQLException wrong = login(proxy.port(), TestServers.ALICE, "not alice's password");
        assertThat(wrong.getSQLState()).isEqualTo("28P01");
        assertThat((Object) login(proxy.port(), TestServers.ALICE, TestServers.ALICE_PASSWORD)).isNull();

        SQLException viaProxy = login(proxy.port(), "nobody_here", "whatever");
        SQLException direct = login(pg.port(), "nobody_here", "whatever");
        assertThat(direct.getSQLState()).isEqualTo("28P01");
        assertThat(viaProxy.getSQLState()).isEqualTo(direct.getSQLState());
        assertThat(serverMessage(viaProxy)).isEqualTo(serverMessage(direct))
                .isEqualTo("password authentication failed for user \"nobody_here\"");
        var proxied = ((org.postgresql.util.PSQLException) viaProxy).getServerErrorMessage();
        var real = ((org.postgresql.util.PSQLException) direct).getServerErrorMessage();
        assertThat(proxied.getFile()).isEqualTo(real.getFile()).isNotNull();
        assertThat(proxied.getLine()).isEqualTo(real.getLine()).isPositive();
        assertThat(proxied.getRoutine()).isEqualTo(real.getRoutine()).isNotNull();
    }

    static String serverMessage(SQLException e) {
        return ((org.postgresql.util.PSQLException) e).getServerErrorMessage().getMessage();
    }

    /** The server's first SCRAM message for a user, after a client-first message with this nonce. */
    static String serverFirst(int port, String user) throws Exception {
        try (RawClient c = new RawClient("127.0.0.1", port)) {
            c.startup(0, params("user", user, "database", "postgres"));
            Message sasl = c.read();
            assertThat(sasl.type()).isEqualTo('R');
            assertThat(sasl.int32(0)).as("AuthenticationSASL").isEqualTo(10);
            assertThat(new String(sasl.body(), 4, sasl.body().length - 4, StandardCharsets.UTF_8))
                    .isEqualTo("SCRAM-SHA-256\0\0");
            c.send(saslInitial("SCRAM-SHA-256", "n,,n=,r=clientnonce123"));
            Message cont = c.read();
            assertThat(cont.type()).isEqualTo('R');
            assertThat(cont.int32(0)).as("AuthenticationSASLContinue").isEqualTo(11);
            String first = new String(cont.body(), 4, cont.body().length - 4, StandardCharsets.UTF_8);
            c.send(saslResponse(finalMessage(first)));
            Message error = c.read();
            assertThat(error.type()).isEqualTo('E');
            assertThat(error.field('C')).isEqualTo("28P01");
            return first;
        }
    }

    /** A well-formed client-final-message with a wrong proof. */
    static String finalMessage(String serverFirst) {
        return "c=biws,r=" + serverFirst.substring(2, serverFirst.indexOf(',')) + ",p="
                + Base64.getEncoder().encodeToString(new byte[32]);
    }

    @Test
    void theExchangeIsScramWithASaltThatDoesNotChangeBetweenAttempts() throws Exception {
        String shape = "r=clientnonce123[A-Za-z0-9+/=]{24},s=[A-Za-z0-9+/=]{24},i=4096";
        String first = serverFirst(proxy.port(), "ghost");
        assertThat(first).matches(shape);
        String salt = first.substring(first.indexOf(",s="));
        assertThat(serverFirst(proxy.port(), "ghost")).endsWith(salt);
        assertThat(serverFirst(proxy.port(), "another_ghost")).doesNotEndWith(salt);
        assertThat(serverFirst(pg.port(), "ghost")).as("a real server's").matches(shape);
    }

    /**
     * What a client sees after sending {@code first} and, when the server continues the exchange, the final message
     * {@code fin} makes of the server's first message: the message types, then the error's SQLSTATE, message and
     * detail.
     */
    static String afterBroken(int port, byte[] first, UnaryOperator<String> fin) throws Exception {
        try (RawClient c = new RawClient("127.0.0.1", port)) {
            c.setTimeout(10_000);
            // longer than PostgreSQL keeps a name (63 bytes): the message must name it as PostgreSQL cuts it
            c.startup(0, params("user", "ghost_" + "x".repeat(70), "database", "postgres"));
            c.read();
            c.send(first);
            StringBuilder seen = new StringBuilder();
            for (Message m = c.read(); ; m = c.read()) {
                if (m.type() == 'E') {
                    return seen + "E " + m.field('C') + " " + m.field('M') + " / " + m.field('D');
                }
                seen.append(m.type()).append(' ');
                if (m.type() == 'R' && m.int32(0) == 11) {
                    c.send(saslResponse(fin.apply(new String(m.body(), 4, m.body().length - 4, StandardCharsets.UTF_8))));
                }
            }
        }
    }

    @Test
    void brokenMessagesGetWhatPostgresGives() throws Exception {
        List<byte[]> firsts = List.of(
                new byte[] {'p', 0, 0, 0, 2},                                 // length below 4
                new byte[] {'p', 0x7f, 0, 0, 0},                              // far beyond any SASL message
                new byte[] {'Q', 0, 0, 0, 8, 's', 'e', 'l', 0},               // a query before authentication
                new byte[] {'X', 0, 0, 0, 4},                                 // Terminate
                saslInitial("SCRAM-SHA-256-PLUS", "p=tls-server-end-point,,n=,r=x"),
                saslInitial("SCRAM-SHA-256", "no gs2 header"),
                saslInitial("SCRAM-SHA-256", "p=tls-server-end-point,,n=,r=x"),
                saslInitial("SCRAM-SHA-256", "n,a=bob,n=,r=x"),
                saslInitial("SCRAM-SHA-256", "n,,m=ext,n=,r=x"),
                saslInitial("SCRAM-SHA-256", "n,,x=1,r=x"),
                saslInitial("SCRAM-SHA-256", "n,,n=,q=x"),
                saslInitial("SCRAM-SHA-256", "\u00e9,,n=,r=x"),                // a flag that is not ASCII
                saslInitial("SCRAM-SHA-256", "n,,n=,r=a b"),                   // a space in the nonce
                saslInitial("SCRAM-SHA-256", ""),                              // an empty message
                saslInitial("SCRAM-SHA-256", "n,,n=\0,r=x"),                   // a NUL inside
                saslInitial("SCRAM-SHA-256", -1, ""),                          // no initial response, then ""
                saslInitial("SCRAM-SHA-256", 5, "n,,n=,r=x"),                  // bytes after the response
                saslInitial("SCRAM-SHA-256", 99, "n,,n=,r=x"),                 // fewer bytes than announced
                frame('p', "SCRAM-SHA-256".getBytes(StandardCharsets.UTF_8))); // no end to the mechanism
        for (byte[] bytes : firsts) {
            assertThat(afterBroken(proxy.port(), bytes, s -> s)).as(new String(bytes, StandardCharsets.ISO_8859_1))
                    .isEqualTo(afterBroken(pg.port(), bytes, s -> s));
        }
        byte[] ok = saslInitial("SCRAM-SHA-256", "n,,n=,r=abcdefghijklmnop");
        List<UnaryOperator<String>> finals = List.of(
                HiddenUsersIT::finalMessage,                                            // a wrong proof: 28P01
                sf -> finalMessage(sf).replace(",p=", "x,p="),                          // nonce does not match
                sf -> finalMessage(sf).replace("c=biws", "c=eSws"),                     // another binding flag
                sf -> finalMessage(sf).substring(0, finalMessage(sf).indexOf(",p=")) + ",p=AAAA", // a short proof
                sf -> "r=" + sf.substring(2, sf.indexOf(',')),                          // no c=
                sf -> finalMessage(sf) + ",",                                           // a comma at the end: 28P01
                sf -> finalMessage(sf) + ",x=1",                                        // garbage at the end
                sf -> finalMessage(sf).replace("A=", "A\n"));                           // whitespace in the proof
        for (UnaryOperator<String> fin : finals) {
            assertThat(afterBroken(proxy.port(), ok, fin)).isEqualTo(afterBroken(pg.port(), ok, fin));
        }
    }

    static byte[] saslInitial(String mechanism, String data) throws Exception {
        return saslInitial(mechanism, data.getBytes(StandardCharsets.UTF_8).length, data);
    }

    /** A SASLInitialResponse whose length field says {@code length}, whatever the data. */
    static byte[] saslInitial(String mechanism, int length, String data) throws Exception {
        ByteArrayOutputStream body = new ByteArrayOutputStream();
        DataOutputStream d = new DataOutputStream(body);
        d.write(mechanism.getBytes(StandardCharsets.UTF_8));
        d.writeByte(0);
        d.writeInt(length);
        d.write(data.getBytes(StandardCharsets.UTF_8));
        return frame('p', body.toByteArray());
    }

    static byte[] saslResponse(String data) throws Exception {
        return frame('p', data.getBytes(StandardCharsets.UTF_8));
    }

    static byte[] frame(char type, byte[] body) throws Exception {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        DataOutputStream d = new DataOutputStream(out);
        d.writeByte(type);
        d.writeInt(4 + body.length);
        d.write(body);
        return out.toByteArray();
    }
}
