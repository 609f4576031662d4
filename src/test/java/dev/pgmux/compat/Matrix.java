package dev.pgmux.compat;

import java.util.ArrayList;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The compatibility matrix: a cell per mode, check and driver, the drivers' versions, and its Markdown form
 * ({@code docs/COMPATIBILITY.md}), which {@link #parse} reads back so that a run can be compared with the committed
 * file. The Markdown holds nothing that changes from run to run (no dates, no timings, no process ids).
 */
final class Matrix {
    enum Outcome {
        PASS("✔"), FAIL("✘"), NOT_APPLICABLE("—"), NOT_RUN("not run");

        final String symbol;

        Outcome(String symbol) {
            this.symbol = symbol;
        }
    }

    /** One cell; the note becomes a footnote. */
    record Cell(Outcome outcome, String note) {
        static final Cell NOT_RUN = new Cell(Outcome.NOT_RUN, null);
    }

    /** A column: a driver, its name in the tables and its version line. */
    record Driver(String id, String title) {
    }

    final List<Driver> drivers;
    final String postgres;
    final Map<String, String> versions = new HashMap<>();
    private final Map<Mode, Map<Check, Map<String, Cell>>> cells = new EnumMap<>(Mode.class);

    Matrix(List<Driver> drivers, String postgres) {
        this.drivers = drivers;
        this.postgres = postgres;
        for (Mode m : Mode.values()) {
            Map<Check, Map<String, Cell>> byCheck = new EnumMap<>(Check.class);
            for (Check c : Check.values()) {
                byCheck.put(c, new HashMap<>());
            }
            cells.put(m, byCheck);
        }
    }

    void put(Mode mode, Check check, String driver, Cell cell) {
        cells.get(mode).get(check).put(driver, cell);
    }

    Cell get(Mode mode, Check check, String driver) {
        return cells.get(mode).get(check).getOrDefault(driver, Cell.NOT_RUN);
    }

    /** The cells of {@code drivers} marked ✔ here and not in {@code now}, one line each. */
    List<String> lostPasses(Matrix now, List<Driver> drivers) {
        List<String> lost = new ArrayList<>();
        for (Mode mode : Mode.values()) {
            for (Check check : Check.values()) {
                for (Driver d : drivers) {
                    Cell cell = now.get(mode, check, d.id);
                    if (get(mode, check, d.id).outcome == Outcome.PASS && cell.outcome != Outcome.PASS) {
                        lost.add(d.title + ", " + mode.title + ", " + check.title + ": " + cell.outcome.symbol
                                + (cell.note == null ? "" : " " + cell.note));
                    }
                }
            }
        }
        return lost;
    }

    /** Takes the cells and version of a driver from another matrix. */
    void keep(Matrix from, String driver) {
        for (Mode mode : Mode.values()) {
            for (Check check : Check.values()) {
                put(mode, check, driver, from.get(mode, check, driver));
            }
        }
        if (from.versions.containsKey(driver)) {
            versions.put(driver, from.versions.get(driver));
        }
    }

    // ------------------------------------------------------------------------------------------------ writing

    String markdown() {
        Map<String, Integer> footnotes = new LinkedHashMap<>();
        StringBuilder tables = new StringBuilder();
        for (Mode mode : Mode.values()) {
            tables.append("## ").append(mode.title).append("\n\n").append(mode.what).append("\n\n");
            tables.append("| check |");
            for (Driver d : drivers) {
                tables.append(' ').append(d.title).append(" |");
            }
            tables.append("\n|---|");
            tables.append(":---:|".repeat(drivers.size()));
            tables.append('\n');
            for (Check check : Check.values()) {
                tables.append("| ").append(check.title).append(" |");
                for (Driver d : drivers) {
                    Cell cell = get(mode, check, d.id);
                    tables.append(' ').append(cell.outcome.symbol);
                    if (cell.note != null) {
                        int n = footnotes.computeIfAbsent(cell.note, k -> footnotes.size() + 1);
                        tables.append("[^").append(n).append(']');
                    }
                    tables.append(" |");
                }
                tables.append('\n');
            }
            tables.append('\n');
        }

        StringBuilder md = new StringBuilder();
        md.append("# Driver compatibility\n\n");
        md.append("<!-- Written by DriverMatrixIT (src/test/java/dev/pgmux/compat): edits by hand are overwritten. -->\n\n");
        md.append("""
                Which PostgreSQL client drivers work through pgmux, in each of its modes. Every cell is a check that \
                `./mvnw verify` runs on every change (`DriverMatrixIT`, also in CI): a real client of the driver, \
                installed by the build or by `.ci/run`, against pgmux in front of PostgreSQL %s. The build fails \
                when a cell marked ✔ here fails; a run whose result differs from this file writes its own, so an \
                improvement shows up as a diff to commit. How to run a driver's checks by hand: \
                [compat/README.md](../compat/README.md).

                ✔ passed · ✘ failed (see the note) · — the driver has no such feature

                """.formatted(postgres));
        md.append("| driver | version | ");
        md.append(String.join(" | ", java.util.Arrays.stream(Mode.values()).map(m -> m.id).toList()));
        md.append(" |\n|---|---|");
        md.append(":---:|".repeat(Mode.values().length));
        md.append('\n');
        for (Driver d : drivers) {
            md.append("| ").append(d.title).append(" | ").append(versions.getOrDefault(d.id, "not run")).append(" |");
            for (Mode mode : Mode.values()) {
                md.append(' ').append(score(mode, d.id)).append(" |");
            }
            md.append('\n');
        }
        md.append("\nEach figure counts the checks passed of those the driver has the means for.\n\n");
        md.append("## The checks\n\n| check | what it does |\n|---|---|\n");
        for (Check check : Check.values()) {
            md.append("| ").append(check.title).append(" | ").append(check.what).append(" |\n");
        }
        md.append('\n');
        md.append(tables);
        if (!footnotes.isEmpty()) {
            md.append("## Notes\n\n");
            footnotes.forEach((text, n) -> md.append("[^").append(n).append("]: ").append(text).append('\n'));
        }
        return md.toString();
    }

    String score(Mode mode, String driver) {
        int passed = 0;
        int applicable = 0;
        for (Check check : Check.values()) {
            Outcome o = get(mode, check, driver).outcome;
            if (o == Outcome.NOT_RUN) {
                return "not run";
            }
            if (o != Outcome.NOT_APPLICABLE) {
                applicable++;
            }
            if (o == Outcome.PASS) {
                passed++;
            }
        }
        return passed + "/" + applicable;
    }

    // ------------------------------------------------------------------------------------------------ reading

    private static final Pattern FOOTNOTE_DEF = Pattern.compile("^\\[\\^(\\d+)]: (.*)$");
    private static final Pattern FOOTNOTE_REF = Pattern.compile("\\[\\^(\\d+)]");

    /** Reads a file {@link #markdown} wrote (rows, columns and modes it does not know are skipped). */
    static Matrix parse(String markdown, List<Driver> drivers) {
        Matrix m = new Matrix(drivers, "");
        List<String> lines = markdown.lines().toList();
        Map<String, String> notes = new HashMap<>();
        for (String line : lines) {
            Matcher def = FOOTNOTE_DEF.matcher(line);
            if (def.matches()) {
                notes.put(def.group(1), def.group(2));
            }
        }
        Mode mode = null;
        List<String> header = null;
        for (String line : lines) {
            if (line.startsWith("## ")) {
                mode = null;
                header = null;
                for (Mode candidate : Mode.values()) {
                    if (line.substring(3).trim().equals(candidate.title)) {
                        mode = candidate;
                    }
                }
                continue;
            }
            if (!line.startsWith("|")) {
                header = line.isBlank() ? header : null;
                continue;
            }
            List<String> row = cellsOf(line);
            if (header == null) {
                header = row;
                continue;
            }
            if (row.get(0).startsWith("---") || row.get(0).startsWith(":--")) {
                continue;
            }
            if (header.size() >= 2 && header.get(0).equals("driver") && header.get(1).equals("version")) {
                for (Driver d : drivers) {
                    if (d.title.equals(row.get(0))) {
                        m.versions.put(d.id, row.get(1));
                    }
                }
                continue;
            }
            if (mode == null) {
                continue;
            }
            Check check = null;
            for (Check c : Check.values()) {
                if (c.title.equals(row.get(0))) {
                    check = c;
                }
            }
            if (check == null) {
                continue;
            }
            for (int i = 1; i < header.size() && i < row.size(); i++) {
                for (Driver d : drivers) {
                    if (d.title.equals(header.get(i))) {
                        m.put(mode, check, d.id, cellOf(row.get(i), notes));
                    }
                }
            }
        }
        return m;
    }

    private static List<String> cellsOf(String line) {
        String inner = line.trim();
        inner = inner.substring(1, inner.endsWith("|") ? inner.length() - 1 : inner.length());
        List<String> out = new ArrayList<>();
        for (String c : inner.split("\\|", -1)) {
            out.add(c.trim());
        }
        return out;
    }

    private static Cell cellOf(String text, Map<String, String> notes) {
        Outcome outcome = Outcome.NOT_RUN;
        for (Outcome o : Outcome.values()) {
            if (text.startsWith(o.symbol)) {
                outcome = o;
            }
        }
        Matcher ref = FOOTNOTE_REF.matcher(text);
        return new Cell(outcome, ref.find() ? notes.get(ref.group(1)) : null);
    }
}
