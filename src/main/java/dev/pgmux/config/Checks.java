package dev.pgmux.config;

import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

/**
 * What the validators of one configuration share: where each key came from, the errors found so far, and the
 * helpers that turn a text into a value or into an error that names the key and its line. Validation goes on
 * after an error, so that one run of {@code pgmux check} lists every problem.
 */
final class Checks {
    private final Origins origins;
    private final Path baseDir;
    private final Map<String, String> environment;
    private final List<Located> errors = new ArrayList<>();

    /** An error and the line it sorts by (settings from outside the file go last). */
    private record Located(ConfigError error, int line) {
    }

    /**
     * @param baseDir     the config file's directory: relative file names in the file are relative to it
     * @param environment the process environment, for settings that name a variable ({@code bearer_token_env})
     */
    Checks(Origins origins, Path baseDir, Map<String, String> environment) {
        this.origins = origins;
        this.baseDir = baseDir;
        this.environment = environment;
    }

    /** @throws ConfigException with every error found, in file order */
    void throwIfAny() throws ConfigException {
        if (!errors.isEmpty()) {
            // In file order: fields are checked by topic, people read top to bottom.
            List<Located> sorted = new ArrayList<>(errors);
            sorted.sort(Comparator.comparingInt(Located::line));
            throw new ConfigException(sorted.stream().map(Located::error).toList());
        }
    }

    /** How many errors were found so far; compare before and after a part to tell whether it had any. */
    int count() {
        return errors.size();
    }

    /** A variable of the process environment, or null. */
    String environment(String name) {
        return environment.get(name);
    }

    /** The process environment, for readers that name variables themselves ({@code password_env}). */
    Map<String, String> environment() {
        return environment;
    }

    void error(Key key, String message) {
        Origins.Origin origin = origins.of(key.pointer());
        errors.add(new Located(new ConfigError(origin.toString(), key.dotted(), message),
                origin.isFile() ? origin.line() : Integer.MAX_VALUE));
    }

    /** {@code parse(text)}, or null after reporting its IllegalArgumentException as an error of {@code key}. */
    <T> T check(Key key, String text, Function<String, T> parse) {
        try {
            return parse.apply(text);
        } catch (IllegalArgumentException e) {
            error(key, e.getMessage());
            return null;
        }
    }

    /** A readable file, or null after an error. */
    Path readableFile(Key key, String name) {
        return check(key, name, n -> readable(key, n));
    }

    /**
     * A file name from the config file is relative to the file's directory; from a flag, to the working directory.
     *
     * @throws IllegalArgumentException if the file cannot be read
     */
    Path readable(Key key, String name) {
        Path p = path(key, name);
        if (!Files.isRegularFile(p) || !Files.isReadable(p)) {
            throw new IllegalArgumentException("file not found or not readable: " + p);
        }
        return p;
    }

    /**
     * A file or directory name, relative to the config file's directory when the config file gave it.
     *
     * @throws IllegalArgumentException if it is not a name this system takes
     */
    Path path(Key key, String name) {
        Path p;
        try {
            p = Path.of(name.trim());
        } catch (InvalidPathException e) {
            throw new IllegalArgumentException("bad file name \"" + name + "\"");
        }
        if (!p.isAbsolute() && baseDir != null && origins.of(key.pointer()).isFile()) {
            p = baseDir.resolve(p);
        }
        return p.normalize();
    }

    /** A duration with a unit ({@code 15s}); {@code fallback} when not given, or after an error. */
    Duration duration(Key key, String text, Duration fallback, boolean zeroAllowed) {
        if (text == null) {
            return fallback;
        }
        Duration d = check(key, text, Durations::parse);
        if (d == null) {
            return fallback;
        }
        if (d.isZero() && !zeroAllowed) {
            error(key, "must be longer than 0");
            return fallback;
        }
        return d;
    }
}
