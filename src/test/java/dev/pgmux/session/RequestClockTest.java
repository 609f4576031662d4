package dev.pgmux.session;

import static org.assertj.core.api.Assertions.assertThat;

import dev.pgmux.ProxyStats;
import dev.pgmux.metrics.ProxyCollector;
import dev.pgmux.metrics.ProxyMetrics;
import dev.pgmux.testing.Scrape;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * What the two scanners of a passthrough session measure: requests from their first message to their
 * ReadyForQuery, transactions up to the ReadyForQuery with status idle, and the SQLSTATE class of ErrorResponses,
 * however the bytes are cut.
 */
class RequestClockTest {
    final ProxyMetrics metrics = new ProxyMetrics();
    final RequestClock clock = new RequestClock(metrics, null);
    final MessageScanner fromClient = new MessageScanner(true, clock, null);
    final MessageScanner fromServer = new MessageScanner(false, clock, metrics);

    static final class Bytes {
        final ByteArrayOutputStream out = new ByteArrayOutputStream();

        Bytes add(char type, byte[] body) {
            out.write(type);
            int length = body.length + 4;
            out.write(length >>> 24);
            out.write(length >>> 16);
            out.write(length >>> 8);
            out.write(length);
            out.writeBytes(body);
            return this;
        }

        Bytes add(char type, String body) {
            return add(type, (body + "\0").getBytes(StandardCharsets.UTF_8));
        }

        Bytes add(char type) {
            return add(type, new byte[0]);
        }

        Bytes ready(char status) {
            return add('Z', new byte[] {(byte) status});
        }

        /** An ErrorResponse as PostgreSQL writes it: S, V, C, M, then the end. */
        Bytes error(String sqlState) {
            return add('E', ("SERROR\0VERROR\0C" + sqlState + "\0Mno\0\0").getBytes(StandardCharsets.UTF_8));
        }

        byte[] bytes() {
            return out.toByteArray();
        }
    }

    private static void scan(MessageScanner scanner, Bytes bytes) {
        ByteBuf buf = Unpooled.wrappedBuffer(bytes.bytes());
        scanner.scan(buf);
    }

    /** One byte per read: every header, status byte and error field cut apart. */
    private static void scanByteByByte(MessageScanner scanner, Bytes bytes) {
        for (byte b : bytes.bytes()) {
            scanner.scan(Unpooled.wrappedBuffer(new byte[] {b}));
        }
    }

    private Scrape scrape() {
        return Scrape.of(new ProxyCollector(() -> new ProxyStats(0, 0, 0, 0), List::of, metrics, () -> 0, "test"));
    }

    @Test
    void aSimpleQueryIsARequestAndATransaction() {
        scan(fromClient, new Bytes().add('Q', "select 1"));
        scan(fromServer, new Bytes().add('T', new byte[6]).add('D', new byte[6]).add('C', "SELECT 1"));
        assertThat(scrape().get("pgmux_query_duration_seconds_count")).as("no ReadyForQuery yet").isZero();
        scanByteByByte(fromServer, new Bytes().ready('I'));
        Scrape s = scrape();
        assertThat(s.get("pgmux_query_duration_seconds_count")).isEqualTo(1);
        assertThat(s.get("pgmux_transaction_duration_seconds_count")).isEqualTo(1);
    }

    @Test
    void aTransactionSpansItsRequests() throws Exception {
        for (String sql : List.of("begin", "select 1", "commit")) {
            scan(fromClient, new Bytes().add('Q', sql));
            Thread.sleep(2);
            scan(fromServer, new Bytes().add('C', "X").ready(sql.equals("commit") ? 'I' : 'T'));
        }
        Scrape s = scrape();
        assertThat(s.get("pgmux_query_duration_seconds_count")).isEqualTo(3);
        assertThat(s.get("pgmux_transaction_duration_seconds_count")).isEqualTo(1);
        assertThat(s.get("pgmux_transaction_duration_seconds_sum")).isGreaterThanOrEqualTo(0.006)
                .isGreaterThanOrEqualTo(s.get("pgmux_query_duration_seconds_sum"));
    }

    @Test
    void pipelinedBatchesEachGetTheirReadyForQuery() {
        Bytes batch = new Bytes();
        for (int i = 0; i < 3; i++) {
            batch.add('P', new byte[4]).add('B', new byte[8]).add('E', new byte[5]).add('S');
        }
        scanByteByByte(fromClient, batch);
        scan(fromServer, new Bytes().add('1').add('2').add('C', "X").ready('I').add('1').add('2').add('C', "X")
                .ready('I'));
        assertThat(scrape().get("pgmux_query_duration_seconds_count")).isEqualTo(2);
        scan(fromServer, new Bytes().add('1').add('2').add('C', "X").ready('I'));
        Scrape s = scrape();
        assertThat(s.get("pgmux_query_duration_seconds_count")).isEqualTo(3);
        assertThat(s.get("pgmux_transaction_duration_seconds_count")).isEqualTo(3);
    }

    @Test
    void theSyncsACopyIgnoresAreNotWaitedFor() throws Exception {
        // libpq's COPY FROM STDIN in extended mode: one ReadyForQuery for two Syncs
        scan(fromClient, new Bytes().add('P', new byte[4]).add('B', new byte[8]).add('E', new byte[5]).add('S')
                .add('d', new byte[3]).add('c').add('S'));
        scan(fromServer, new Bytes().add('1').add('2').add('G', new byte[3]).add('C', "COPY 1").ready('I'));
        Thread.sleep(50);
        scan(fromClient, new Bytes().add('Q', "select 1"));
        scan(fromServer, new Bytes().add('C', "SELECT 1").ready('I'));
        Scrape s = scrape();
        assertThat(s.get("pgmux_query_duration_seconds_count")).isEqualTo(2);
        // the query is timed from its own start, not from a Sync left behind before the pause
        assertThat(s.get("pgmux_query_duration_seconds_sum")).isLessThan(0.05);
    }

    @Test
    void aDeepPipelineIsCountedInOrderButTimedOnlyUpToTheCap() {
        Bytes syncs = new Bytes();
        Bytes readies = new Bytes();
        for (int i = 0; i < RequestClock.MAX_TIMED + 10; i++) {
            syncs.add('S');
            readies.ready('I');
        }
        scan(fromClient, syncs);
        scan(fromServer, readies);
        assertThat(scrape().get("pgmux_query_duration_seconds_count")).isEqualTo(RequestClock.MAX_TIMED);
        scan(fromClient, new Bytes().add('Q', "select 1"));
        scan(fromServer, new Bytes().ready('I'));
        assertThat(scrape().get("pgmux_query_duration_seconds_count")).isEqualTo(RequestClock.MAX_TIMED + 1);
    }

    @Test
    void errorsAreCountedByClassHoweverTheyAreCut() {
        scanByteByByte(fromServer, new Bytes().error("42P01").ready('I'));
        scan(fromServer, new Bytes().add('N', "SNOTICE\0C01000").error("22012").error("22P02"));
        // no code at all, and a code cut short: not counted, and the next message is read as usual
        scan(fromServer, new Bytes().add('E', "SERROR\0Mno code\0").add('E', new byte[] {'C', '4'}).error("57014"));
        Scrape s = scrape();
        assertThat(s.get("pgmux_errors_total{class=\"42\"}")).isEqualTo(1);
        assertThat(s.get("pgmux_errors_total{class=\"22\"}")).isEqualTo(2);
        assertThat(s.get("pgmux_errors_total{class=\"57\"}")).isEqualTo(1);
        assertThat(s.get("pgmux_errors_total{class=\"01\"}")).as("a notice is no error").isNull();
        assertThat(s.samples().keySet()).filteredOn(k -> k.startsWith("pgmux_errors_total")).hasSize(3);
    }
}
