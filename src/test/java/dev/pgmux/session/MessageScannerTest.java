package dev.pgmux.session;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeSet;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.Tuple;
import net.jqwik.api.Tuple.Tuple2;
import org.junit.jupiter.api.Test;

/**
 * Message boundaries, sync points and transaction status over streams cut at every possible place: inside a
 * header, inside a length word, between a ReadyForQuery's header and its status byte. The property at the end
 * (jqwik) does the same for generated streams and random cuts.
 */
class MessageScannerTest {

    /** One message of a recorded stream, and where it sits in the stream. */
    record Msg(char type, byte[] body, int start) {
        int end() {
            return start + 5 + body.length;
        }
    }

    /** A stream of messages as bytes, with the expected scanner state after any prefix. */
    static final class Stream {
        final List<Msg> messages = new ArrayList<>();
        private final ByteArrayOutputStream out = new ByteArrayOutputStream();
        private final boolean frontend;

        Stream(boolean frontend) {
            this.frontend = frontend;
        }

        boolean frontend() {
            return frontend;
        }

        Stream add(char type, byte[] body) {
            messages.add(new Msg(type, body, out.size()));
            out.write(type);
            int length = body.length + 4;
            out.write(length >>> 24);
            out.write(length >>> 16);
            out.write(length >>> 8);
            out.write(length);
            out.writeBytes(body);
            return this;
        }

        Stream add(char type, String body) {
            return add(type, (body + "\0").getBytes(StandardCharsets.UTF_8));
        }

        Stream add(char type) {
            return add(type, new byte[0]);
        }

        Stream readyForQuery(char status) {
            return add('Z', new byte[] {(byte) status});
        }

        byte[] bytes() {
            return out.toByteArray();
        }

        private boolean counts(char type) {
            return frontend ? type == 'Q' || type == 'S' || type == 'F' : type == 'Z';
        }

        /** Messages whose header lies within the first {@code k} bytes and that count as a sync point. */
        long syncPointsAfter(int k) {
            return messages.stream().filter(m -> m.start() + 5 <= k && counts(m.type())).count();
        }

        /** The status byte of the last ReadyForQuery whose status lies within the first {@code k} bytes. */
        byte statusAfter(int k) {
            byte status = 'I';
            if (frontend) {
                return status;
            }
            for (Msg m : messages) {
                if (m.type() == 'Z' && m.body().length > 0 && m.start() + 5 < k) {
                    status = m.body()[0];
                }
            }
            return status;
        }

        boolean boundaryAt(int k) {
            return k == 0 || messages.stream().anyMatch(m -> m.end() == k);
        }

        @Override
        public String toString() {
            StringBuilder sb = new StringBuilder(frontend ? "frontend" : "backend");
            messages.forEach(m -> sb.append(' ').append(m.type()).append(m.body().length));
            return sb.toString();
        }
    }

    /** What a backend sends for an extended-protocol query, an error in a transaction, a notification, a rollback. */
    static Stream recordedBackend() {
        return new Stream(false)
                .add('1')                                             // ParseComplete
                .add('2')                                             // BindComplete
                .add('T', new byte[] {0, 1, 'x', 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 23, 0, 4, -1, -1, -1, -1, 0, 0})
                .add('D', new byte[] {0, 1, 0, 0, 0, 1, '1'})       // DataRow
                .add('C', "SELECT 1")                                 // CommandComplete
                .readyForQuery('T')
                .add('N', "SNOTICE")                                  // NoticeResponse
                .add('E', "SERROR")                                   // ErrorResponse
                .readyForQuery('E')
                .add('S', "TimeZone\0UTC")                            // ParameterStatus: not a sync point here
                .add('A', new byte[] {0, 0, 0, 42, 'c', 0, 'p', 0})   // NotificationResponse
                .add('C', "ROLLBACK")
                .readyForQuery('I');
    }

    /** Extended protocol with a Flush and a Sync, simple Queries (one a COPY FROM STDIN), a FunctionCall. */
    static Stream recordedFrontend() {
        return new Stream(true)
                .add('P', "\0SELECT $1\0\0\0")                       // Parse
                .add('B', new byte[] {0, 0, 0, 0, 0, 1, 0, 0, 0, 1, '1', 0, 0})
                .add('D', "P")                                        // Describe
                .add('E', new byte[] {0, 0, 0, 0, 0})                 // Execute
                .add('H')                                             // Flush: no ReadyForQuery
                .add('S')                                             // Sync
                .add('Q', "BEGIN")
                .add('F', new byte[] {0, 0, 0x0B, (byte) 0xB8, 0, 0, 0, 0, 0, 0})
                .add('Q', "COPY t FROM STDIN")
                .add('d', new byte[] {'Z', 'Q', 'S'})                 // CopyData that looks like headers inside
                .add('c')                                             // CopyDone
                .add('C', "Sname")                                    // Close
                .add('S');
    }

    private static void scan(MessageScanner scanner, byte[] stream, int from, int to) {
        // A slice of a larger buffer, so that the scanner must honour reader and writer index.
        ByteBuf buf = Unpooled.wrappedBuffer(stream).slice(from, to - from);
        scanner.scan(buf);
        assertThat(buf.readerIndex()).as("scan must not consume what is forwarded").isZero();
        assertThat(buf.readableBytes()).isEqualTo(to - from);
    }

    private static void assertState(MessageScanner scanner, Stream s, int k) {
        assertThat(scanner.atBoundary()).as("boundary after %d bytes", k).isEqualTo(s.boundaryAt(k));
        assertThat(scanner.syncPoints()).as("sync points after %d bytes", k).isEqualTo(s.syncPointsAfter(k));
        assertThat((char) scanner.transactionStatus()).as("status after %d bytes", k).isEqualTo((char) s.statusAfter(k));
    }

    @Test
    void recordedStreamsHaveTheExpectedCounts() {
        Stream backend = recordedBackend();
        Stream frontend = recordedFrontend();
        assertThat(backend.syncPointsAfter(backend.bytes().length)).isEqualTo(3);
        assertThat(frontend.syncPointsAfter(frontend.bytes().length)).isEqualTo(5);

        MessageScanner b = new MessageScanner(false);
        scan(b, backend.bytes(), 0, backend.bytes().length);
        MessageScanner f = new MessageScanner(true);
        scan(f, frontend.bytes(), 0, frontend.bytes().length);

        assertThat(b.syncPoints()).isEqualTo(3);
        assertThat(b.transactionStatus()).isEqualTo((byte) 'I');
        assertThat(b.atBoundary()).isTrue();
        assertThat(f.syncPoints()).isEqualTo(5);
        assertThat(f.atBoundary()).isTrue();
    }

    @Test
    void everySplitOfTheBackendStream() {
        assertEverySplit(recordedBackend());
    }

    @Test
    void everySplitOfTheFrontendStream() {
        assertEverySplit(recordedFrontend());
    }

    private static void assertEverySplit(Stream s) {
        byte[] bytes = s.bytes();
        int n = bytes.length;
        for (int k = 0; k <= n; k++) {
            MessageScanner scanner = new MessageScanner(s.frontend());
            scan(scanner, bytes, 0, k);
            assertState(scanner, s, k);
            scan(scanner, bytes, k, n);
            assertState(scanner, s, n);
        }
    }

    @Test
    void everyThreeWaySplitOfTheBackendStream() {
        Stream s = recordedBackend();
        byte[] bytes = s.bytes();
        int n = bytes.length;
        for (int i = 0; i <= n; i++) {
            for (int j = i; j <= n; j++) {
                MessageScanner scanner = new MessageScanner(false);
                scan(scanner, bytes, 0, i);
                scan(scanner, bytes, i, j);
                assertState(scanner, s, j);
                scan(scanner, bytes, j, n);
                assertState(scanner, s, n);
            }
        }
    }

    @Test
    void oneByteAtATime() {
        for (Stream s : List.of(recordedBackend(), recordedFrontend())) {
            byte[] bytes = s.bytes();
            MessageScanner scanner = new MessageScanner(s.frontend());
            for (int k = 0; k < bytes.length; k++) {
                scan(scanner, bytes, k, k + 1);
                assertState(scanner, s, k + 1);
            }
        }
    }

    @Test
    void statusByteInTheNextBuffer() {
        byte[] bytes = new Stream(false).readyForQuery('T').bytes();
        MessageScanner scanner = new MessageScanner(false);

        scan(scanner, bytes, 0, 5);
        assertThat(scanner.syncPoints()).isEqualTo(1);
        assertThat(scanner.atBoundary()).isFalse();
        assertThat(scanner.transactionStatus()).isEqualTo((byte) 'I');

        scan(scanner, bytes, 5, 6);
        assertThat(scanner.atBoundary()).isTrue();
        assertThat(scanner.transactionStatus()).isEqualTo((byte) 'T');
    }

    @Test
    void emptyBufferChangesNothing() {
        MessageScanner scanner = new MessageScanner(false);
        scanner.scan(Unpooled.EMPTY_BUFFER);

        assertThat(scanner.atBoundary()).isTrue();
        assertThat(scanner.syncPoints()).isZero();
        assertThat(scanner.transactionStatus()).isEqualTo((byte) 'I');
    }

    @Test
    void readyForQueryWithoutStatusCountsButKeepsTheStatus() {
        byte[] bytes = new Stream(false).readyForQuery('T').add('Z').bytes();
        MessageScanner scanner = new MessageScanner(false);

        scan(scanner, bytes, 0, bytes.length);

        assertThat(scanner.syncPoints()).isEqualTo(2);
        assertThat(scanner.transactionStatus()).isEqualTo((byte) 'T');
        assertThat(scanner.atBoundary()).isTrue();
    }

    @Test
    void lengthBelowFourMarksTheStreamBroken() {
        for (int badLength : new int[] {0, 3, -1, Integer.MIN_VALUE}) {
            byte[] bad = {'Q', (byte) (badLength >>> 24), (byte) (badLength >>> 16), (byte) (badLength >>> 8), (byte) badLength};
            byte[] good = new Stream(true).add('Q', "SELECT 1").add('S').bytes();
            byte[] stream = new byte[bad.length + good.length];
            System.arraycopy(bad, 0, stream, 0, bad.length);
            System.arraycopy(good, 0, stream, bad.length, good.length);

            for (int split = 0; split <= stream.length; split++) {
                MessageScanner scanner = new MessageScanner(true);
                scan(scanner, stream, 0, split);
                scan(scanner, stream, split, stream.length);

                assertThat(scanner.atBoundary()).as("length %d, split at %d", badLength, split).isFalse();
                assertThat(scanner.syncPoints()).as("nothing is counted after a broken header").isZero();
            }
        }
    }

    @Test
    void brokenAfterValidMessagesKeepsWhatWasCounted() {
        Stream s = new Stream(false).readyForQuery('T');
        byte[] good = s.bytes();
        byte[] stream = new byte[good.length + 5 + 6];
        System.arraycopy(good, 0, stream, 0, good.length);
        stream[good.length] = 'Z';
        stream[good.length + 4] = 2; // length 2
        System.arraycopy(new Stream(false).readyForQuery('E').bytes(), 0, stream, good.length + 5, 6);
        MessageScanner scanner = new MessageScanner(false);

        scan(scanner, stream, 0, stream.length);

        assertThat(scanner.syncPoints()).isEqualTo(1);
        assertThat(scanner.transactionStatus()).isEqualTo((byte) 'T');
        assertThat(scanner.atBoundary()).isFalse();
    }

    @Test
    void hugeMessageIsSkippedAcrossManyBuffers() {
        // A DataRow of 2 GiB - 1 declared length: only its header is seen, the body is skipped in pieces.
        MessageScanner scanner = new MessageScanner(false);
        scanner.scan(Unpooled.wrappedBuffer(new byte[] {'D', 0x7F, (byte) 0xFF, (byte) 0xFF, (byte) 0xFF}));
        byte[] chunk = new byte[1 << 16];
        java.util.Arrays.fill(chunk, (byte) 'Z');
        for (int i = 0; i < 100; i++) {
            scanner.scan(Unpooled.wrappedBuffer(chunk));
        }

        assertThat(scanner.atBoundary()).isFalse();
        assertThat(scanner.syncPoints()).isZero();
        assertThat(scanner.transactionStatus()).isEqualTo((byte) 'I');
    }

    @Test
    void libpqExtendedCopyInEndsWithEqualSyncPoints() {
        // PQexecParams("COPY t FROM STDIN") sends Parse, Bind, Describe, Execute, Sync; PQputCopyEnd then sends
        // CopyDone and, because the COPY came in extended-query mode, another Sync (fe-exec.c). The server ignores
        // Sync and Flush while in copy-in mode (copyfromparse.c), so both Syncs produce one ReadyForQuery. A
        // session that did this must count as idle again afterwards, or a graceful drain never ends it.
        byte[] frontend = new Stream(true)
                .add('P', "\0COPY t FROM STDIN\0\0\0")
                .add('B', new byte[] {0, 0, 0, 0, 0, 0, 0, 0})
                .add('D', "P")
                .add('E', new byte[] {0, 0, 0, 0, 0})
                .add('S')
                .add('d', "1\n".getBytes(StandardCharsets.UTF_8))
                .add('c')
                .add('S')
                .bytes();
        byte[] backend = new Stream(false)
                .add('1')
                .add('2')
                .add('n')                                              // NoData
                .add('G', new byte[] {0, 0, 1, 0, 0})                  // CopyInResponse
                .add('C', "COPY 1")
                .readyForQuery('I')
                .bytes();
        MessageScanner fromClient = new MessageScanner(true);
        MessageScanner fromBackend = new MessageScanner(false);

        scan(fromClient, frontend, 0, frontend.length);
        scan(fromBackend, backend, 0, backend.length);

        assertThat(fromBackend.syncPoints()).isEqualTo(1);
        assertThat(fromClient.syncPoints()).as("requests still awaiting a ReadyForQuery")
                .isEqualTo(fromBackend.syncPoints());
    }

    // ---------------------------------------------------------------- property: any split, same result

    private record Scanned(boolean boundary, long syncPoints, byte status) {
        static Scanned of(MessageScanner s) {
            return new Scanned(s.atBoundary(), s.syncPoints(), s.transactionStatus());
        }
    }

    private static Scanned scanInPieces(boolean frontend, byte[] bytes, List<Integer> cuts) {
        MessageScanner scanner = new MessageScanner(frontend);
        int from = 0;
        for (int cut : new TreeSet<>(cuts)) {
            int to = Math.min(cut, bytes.length);
            scanner.scan(Unpooled.wrappedBuffer(bytes, from, to - from));
            from = to;
        }
        scanner.scan(Unpooled.wrappedBuffer(bytes, from, bytes.length - from));
        return Scanned.of(scanner);
    }

    @Property(tries = 1000)
    void anySplitGivesTheSameStateAsNoSplit(@ForAll("streams") Stream stream, @ForAll("cuts") List<Integer> cuts) {
        byte[] bytes = stream.bytes();

        Scanned whole = scanInPieces(stream.frontend(), bytes, List.of());
        Scanned split = scanInPieces(stream.frontend(), bytes, cuts);

        assertThat(split).isEqualTo(whole);
        assertThat(whole).isEqualTo(new Scanned(true, stream.syncPointsAfter(bytes.length), stream.statusAfter(bytes.length)));
    }

    @Provide
    Arbitrary<List<Integer>> cuts() {
        return Arbitraries.integers().between(0, 400).list().ofMaxSize(12);
    }

    @Provide
    Arbitrary<Stream> streams() {
        // Frontend streams without CopyData/CopyDone/CopyFail: how a COPY changes the count is tested above.
        Arbitrary<Tuple2<Character, byte[]>> frontendMessage = Combinators.combine(
                Arbitraries.of('Q', 'S', 'F', 'P', 'B', 'E', 'D', 'H', 'C', 'p', 'X'),
                Arbitraries.bytes().array(byte[].class).ofMaxSize(30)).as(Tuple::of);
        Arbitrary<Tuple2<Character, byte[]>> backendMessage = Arbitraries.oneOf(
                Combinators.combine(Arbitraries.of('1', '2', '3', 'C', 'D', 'E', 'N', 'S', 'T', 'A', 'K', 'R', 'n', 's',
                        'G', 'H', 'W', 'd', 'c', 'v', 't', 'I', 'V'),
                        Arbitraries.bytes().array(byte[].class).ofMaxSize(30)).as(Tuple::of),
                Arbitraries.of('I', 'T', 'E').map(status -> Tuple.of('Z', new byte[] {(byte) (char) status})));
        return Arbitraries.of(true, false).flatMap(frontend ->
                (frontend ? frontendMessage : backendMessage).list().ofMaxSize(15).map(messages -> {
                    Stream s = new Stream(frontend);
                    messages.forEach(m -> s.add(m.get1(), m.get2()));
                    return s;
                }));
    }
}
