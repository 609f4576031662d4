package dev.pgmux.config;

import java.time.Duration;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Durations as written in the config file: a number and a unit ({@code 500ms}, {@code 15s}, {@code 2m},
 * {@code 1h}), several of them in a row ({@code 1m30s}), or a bare {@code 0}. A bare number other than zero is
 * refused: {@code 30} could mean seconds or milliseconds, and guessing wrong shows up only under load.
 */
public final class Durations {
    private static final Pattern PART = Pattern.compile("(\\d+)(ms|s|m|h)");

    private Durations() {
    }

    /** @throws IllegalArgumentException with a message fit for a config error */
    public static Duration parse(String text) {
        String s = text == null ? "" : text.trim();
        if (s.equals("0")) {
            return Duration.ZERO;
        }
        if (s.isEmpty()) {
            throw new IllegalArgumentException("empty duration (e.g. 15s, 500ms, 2m)");
        }
        if (s.chars().allMatch(Character::isDigit)) {
            throw new IllegalArgumentException("duration \"" + s + "\" needs a unit: " + s + "s, " + s + "ms, " + s + "m");
        }
        Matcher m = PART.matcher(s);
        Duration total = Duration.ZERO;
        int end = 0;
        while (m.find() && m.start() == end) {
            try {
                long amount = Long.parseLong(m.group(1));
                total = total.plus(switch (m.group(2)) {
                    case "ms" -> Duration.ofMillis(amount);
                    case "s" -> Duration.ofSeconds(amount);
                    case "m" -> Duration.ofMinutes(amount);
                    default -> Duration.ofHours(amount);
                });
            } catch (ArithmeticException | NumberFormatException e) {
                throw new IllegalArgumentException("duration \"" + s + "\" is too long");
            }
            end = m.end();
        }
        if (end != s.length()) {
            throw new IllegalArgumentException("bad duration \"" + s + "\" (e.g. 15s, 500ms, 2m, 1m30s)");
        }
        return total;
    }

    /** The shortest spelling that {@link #parse} reads back: {@code 15s}, {@code 1m30s}, {@code 250ms}. */
    public static String format(Duration d) {
        if (d.isZero()) {
            return "0";
        }
        StringBuilder b = new StringBuilder();
        long hours = d.toHours();
        int minutes = d.toMinutesPart();
        int seconds = d.toSecondsPart();
        int millis = d.toMillisPart();
        if (hours > 0) {
            b.append(hours).append('h');
        }
        if (minutes > 0) {
            b.append(minutes).append('m');
        }
        if (seconds > 0) {
            b.append(seconds).append('s');
        }
        if (millis > 0) {
            b.append(millis).append("ms");
        }
        return b.toString();
    }
}
