package dev.pgmux.compat;

import static org.assertj.core.api.Assertions.assertThat;

import dev.pgmux.compat.Matrix.Cell;
import dev.pgmux.compat.Matrix.Outcome;
import java.util.List;
import org.junit.jupiter.api.Test;

/** docs/COMPATIBILITY.md as {@link Matrix} writes and reads it: what a run is compared with. */
class MatrixTest {
    static final List<Matrix.Driver> DRIVERS = List.of(new Matrix.Driver("a", "driver a"),
            new Matrix.Driver("b", "driver b (b.js)"));

    static Matrix sample() {
        Matrix m = new Matrix(DRIVERS, "17.7");
        for (Mode mode : Mode.values()) {
            for (Check check : Check.values()) {
                m.put(mode, check, "a", new Cell(Outcome.PASS, null));
                m.put(mode, check, "b", new Cell(Outcome.PASS, null));
            }
        }
        m.put(Mode.PASSTHROUGH, Check.CHANNEL_BINDING, "a", new Cell(Outcome.FAIL, "By design: a reason."));
        m.put(Mode.PASSTHROUGH, Check.CHANNEL_BINDING, "b", new Cell(Outcome.FAIL, "By design: a reason."));
        m.put(Mode.SESSION, Check.COPY_OUT, "b", new Cell(Outcome.NOT_APPLICABLE, "b has no COPY TO STDOUT."));
        m.put(Mode.TRANSACTION, Check.CANCEL, "a", new Cell(Outcome.PASS, "Canceled in a way of its own."));
        m.versions.put("a", "a 1.0, runtime 2.0");
        m.versions.put("b", "b 3.1");
        return m;
    }

    @Test
    void whatIsWrittenReadsBackTheSame() {
        Matrix written = sample();
        String md = written.markdown();
        Matrix read = Matrix.parse(md, DRIVERS);
        for (Mode mode : Mode.values()) {
            for (Check check : Check.values()) {
                for (Matrix.Driver d : DRIVERS) {
                    assertThat(read.get(mode, check, d.id())).as(mode + " " + check + " " + d.id())
                            .isEqualTo(written.get(mode, check, d.id()));
                }
            }
        }
        assertThat(read.versions).isEqualTo(written.versions);
        assertThat(read.markdown()).isEqualTo(md.replace("PostgreSQL 17.7", "PostgreSQL "));
    }

    @Test
    void aNoteIsOneFootnoteHoweverManyCellsShowIt() {
        String md = sample().markdown();
        assertThat(md).contains("| ✘[^1] | ✘[^1] |").containsOnlyOnce("[^1]: By design: a reason.")
                .contains("[^2]: b has no COPY TO STDOUT.").contains("| driver a | a 1.0, runtime 2.0 | 14/15 | 15/15 | 15/15 |")
                .contains("| driver b (b.js) | b 3.1 | 14/15 | 14/14 | 15/15 |");
    }

    @Test
    void aPassThatIsLostIsReportedAndOnlyThat() {
        Matrix committed = sample();
        Matrix now = Matrix.parse(committed.markdown(), DRIVERS);
        assertThat(committed.lostPasses(now, DRIVERS)).isEmpty();
        now.put(Mode.TRANSACTION, Check.PREPARED, "b", new Cell(Outcome.FAIL, "Failed: 26000."));
        now.put(Mode.PASSTHROUGH, Check.CHANNEL_BINDING, "a", new Cell(Outcome.PASS, null)); // an improvement
        assertThat(committed.lostPasses(now, DRIVERS)).containsExactly(
                "driver b (b.js), Transaction pooling, prepared statement reused across transactions: ✘"
                        + " Failed: 26000.");
        assertThat(committed.lostPasses(now, DRIVERS.subList(0, 1))).isEmpty();
    }

    @Test
    void aDriverNotRunHereKeepsItsCommittedCells() {
        Matrix committed = sample();
        Matrix now = new Matrix(DRIVERS, "17.7");
        assertThat(now.score(Mode.SESSION, "b")).isEqualTo("not run");
        now.keep(committed, "b");
        assertThat(now.get(Mode.SESSION, Check.COPY_OUT, "b")).isEqualTo(committed.get(Mode.SESSION, Check.COPY_OUT, "b"));
        assertThat(now.versions).containsEntry("b", "b 3.1").doesNotContainKey("a");
    }
}
