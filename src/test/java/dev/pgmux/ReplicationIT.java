package dev.pgmux;

import static org.assertj.core.api.Assertions.assertThat;

import dev.pgmux.embedded.LocalPostgres;
import dev.pgmux.testing.TestServers;
import java.nio.ByteBuffer;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.util.Properties;
import org.junit.jupiter.api.Test;
import org.postgresql.PGConnection;
import org.postgresql.replication.LogSequenceNumber;
import org.postgresql.replication.PGReplicationStream;

/**
 * A physical replication connection through the proxy: the {@code replication} startup parameter reaches the
 * backend, and CopyBothResponse streams WAL one way while standby status updates go the other.
 */
class ReplicationIT {

    @Test
    void physicalReplicationStreamsWalThroughTheProxy() throws Exception {
        LocalPostgres pg = TestServers.pg17();
        Router router = request -> BackendConfig.builder().host(pg.host()).port(pg.port()).user(TestServers.SUPERUSER).build();
        try (ProxyServer proxy = new ProxyServer("127.0.0.1:0", router).start()) {
            Properties p = new Properties();
            p.setProperty("user", "replicator");
            p.setProperty("password", TestServers.SUPERUSER_PASSWORD);
            p.setProperty("sslmode", "disable");
            p.setProperty("replication", "true");
            p.setProperty("assumeMinServerVersion", "9.4");
            p.setProperty("preferQueryMode", "simple");
            try (Connection c = DriverManager.getConnection("jdbc:postgresql://127.0.0.1:" + proxy.port() + "/postgres", p)) {
                String start;
                try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery("IDENTIFY_SYSTEM")) {
                    assertThat(rs.next()).isTrue();
                    start = rs.getString("xlogpos");
                }
                PGReplicationStream stream = c.unwrap(PGConnection.class).getReplicationAPI().replicationStream()
                        .physical().withStartPosition(LogSequenceNumber.valueOf(start)).start();
                pg.execute("postgres", "create table if not exists repl_probe(x int)",
                        "insert into repl_probe select generate_series(1, 1000)");
                long bytes = 0;
                long end = System.nanoTime() + Duration.ofSeconds(20).toNanos();
                while (bytes < 1000 && System.nanoTime() < end) {
                    ByteBuffer wal = stream.readPending();
                    if (wal == null) {
                        Thread.sleep(20);
                        continue;
                    }
                    bytes += wal.remaining();
                    stream.setAppliedLSN(stream.getLastReceiveLSN());
                    stream.setFlushedLSN(stream.getLastReceiveLSN());
                    stream.forceUpdateStatus();
                }
                assertThat(bytes).as("WAL bytes streamed through pgmux").isGreaterThanOrEqualTo(1000);
                stream.close();
            }
            proxy.close(Duration.ofSeconds(1));
        }
    }
}
