package dev.pgmux;

import static dev.pgmux.testing.RawClient.params;
import static org.assertj.core.api.Assertions.assertThat;

import dev.pgmux.cancel.CancelRegistry;
import dev.pgmux.embedded.LocalPostgres;
import dev.pgmux.protocol.StartupPacket;
import dev.pgmux.testing.PgStatActivity;
import dev.pgmux.testing.RawClient;
import dev.pgmux.testing.RawClient.Message;
import dev.pgmux.testing.TestServers;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Arrays;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Two pgmux instances behind one (imagined) load balancer: a session on instance 1, its cancel request on
 * instance 2. Each instance's keys carry its id, instance 2 passes the request on to instance 1, and the query
 * ends with 57014. A request passed on between instances is never passed on again, and keys of an instance
 * nobody knows are dropped.
 */
class ClusterCancelIT {
    static ProxyServer one;
    static ProxyServer two;
    static LocalPostgres pg;

    @BeforeAll
    static void start() throws Exception {
        pg = TestServers.pg18();
        StaticRouter router = StaticRouter.empty().put("trust18",
                BackendConfig.builder().host(pg.host()).port(pg.port()).user(TestServers.TRUST_USER).build());
        // Ports first, then the peer lists that name them.
        one = new ProxyServer("127.0.0.1:0", router).withCluster(new Cluster(1, Map.of())).start();
        two = new ProxyServer("127.0.0.1:0", router).withCluster(new Cluster(2, Map.of())).start();
        Map<Integer, String> peers = Map.of(1, "127.0.0.1:" + one.port(), 2, "127.0.0.1:" + two.port());
        one.cluster(new Cluster(1, peers));
        two.cluster(new Cluster(2, peers));
    }

    @AfterAll
    static void stop() {
        for (ProxyServer p : new ProxyServer[] {one, two}) {
            if (p != null) {
                p.close(Duration.ofSeconds(1));
            }
        }
    }

    record Key(int pid, byte[] secret) {
    }

    static Key login(RawClient c, int minor) throws Exception {
        c.startup(minor, params("user", "trust18", "database", "postgres"));
        Message key = null;
        for (Message m = c.read(); m.type() != 'Z'; m = c.read()) {
            if (m.type() == 'K') {
                key = m;
            }
            assertThat(m.type()).isNotEqualTo('E');
        }
        return new Key(key.int32(0), Arrays.copyOfRange(key.body(), 4, key.body().length));
    }

    @Test
    void keysCarryTheInstanceAndACancelOnTheOtherInstanceReachesTheSession() throws Exception {
        for (int minor : new int[] {0, 2}) {
            try (RawClient c = new RawClient("127.0.0.1", one.port())) {
                Key key = login(c, minor);
                assertThat(CancelRegistry.instanceOf(key.pid())).isEqualTo(1);
                c.query("select pg_sleep(20)");
                // The key's process id carries the instance, so the backend is found by its query.
                PgStatActivity.awaitRunning(pg, "select pg_sleep(20)");
                c.sendCancel("127.0.0.1", two.port(), key.pid(), key.secret());
                assertThat(c.readUntil('E').field('C')).as("protocol 3." + minor).isEqualTo("57014");
                c.readUntil('Z');
            }
        }
        try (RawClient c = new RawClient("127.0.0.1", two.port())) {
            assertThat(CancelRegistry.instanceOf(login(c, 0).pid())).isEqualTo(2);
        }
    }

    @Test
    void passedOnRequestsAreNotPassedOnAgainAndUnknownInstancesAreDropped() throws Exception {
        try (RawClient c = new RawClient("127.0.0.1", one.port())) {
            Key key = login(c, 0);
            c.query("select pg_sleep(1)");
            // As if instance 2's peer list were wrong: a peer request for instance 1's key, sent to instance 2,
            // is looked up there only (and not found), not bounced back.
            c.sendCancel("127.0.0.1", two.port(), StartupPacket.PEER_CANCEL_REQUEST_CODE, key.pid(), key.secret());
            // A key that claims an instance no one knows.
            int stranger = (9 << 23) | (key.pid() & 0x7FFFFF);
            c.sendCancel("127.0.0.1", two.port(), stranger, key.secret());
            Message done = c.readUntil('C');
            assertThat(new String(done.body(), StandardCharsets.UTF_8)).startsWith("SELECT 1");
            c.readUntil('Z');
            // The right peer request, straight to the owner, does cancel.
            c.query("select pg_sleep(20)");
            PgStatActivity.awaitRunning(pg, "select pg_sleep(20)");
            c.sendCancel("127.0.0.1", one.port(), StartupPacket.PEER_CANCEL_REQUEST_CODE, key.pid(), key.secret());
            assertThat(c.readUntil('E').field('C')).isEqualTo("57014");
        }
        assertThat(one.stats().cancels()).isGreaterThanOrEqualTo(2);
    }
}
