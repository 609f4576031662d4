package dev.pgmux;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;
import java.util.Objects;

/**
 * A password held in memory, read once when it is made: from an environment variable, from a file, or given.
 * Nothing about it prints its value: {@link #toString()} names where it came from ({@code Secret[env:NAME]},
 * {@code Secret[file:/path]}, {@code Secret[***]}), and errors name the variable or file, never what is in it.
 *
 * <p>Two secrets are equal when they came from the same place and hold the same password, so that a reload whose
 * password file changed counts as a changed route. The comparison takes the same time wherever the passwords
 * differ; the hash code is the source's alone.
 */
public final class Secret {
    private final char[] value;
    /** {@code env:NAME}, {@code file:PATH} or {@code ***}. */
    private final String source;

    private Secret(char[] value, String source) {
        this.value = value;
        this.source = source;
    }

    /**
     * A password given as it is (from code: the config file takes no plain passwords).
     *
     * @throws IllegalArgumentException if it is empty
     */
    public static Secret of(String password) {
        Objects.requireNonNull(password, "password");
        if (password.isEmpty()) {
            throw new IllegalArgumentException("the password is empty");
        }
        return new Secret(password.toCharArray(), "***");
    }

    /**
     * The value of a variable of this process's environment.
     *
     * @throws IllegalArgumentException if it is not set or empty (the message names the variable)
     */
    public static Secret fromEnv(String variable) {
        return fromEnv(variable, System.getenv());
    }

    /**
     * The value of {@code variable} in {@code environment} (a process environment as a map, as
     * {@link dev.pgmux.config.ConfigSource} takes it).
     *
     * @throws IllegalArgumentException if it is not set or empty (the message names the variable)
     */
    public static Secret fromEnv(String variable, Map<String, String> environment) {
        Objects.requireNonNull(variable, "variable");
        String name = variable.strip();
        if (name.isEmpty()) {
            throw new IllegalArgumentException("no environment variable named");
        }
        String value = environment.get(name);
        if (value == null) {
            throw new IllegalArgumentException("the environment variable " + name + " is not set");
        }
        if (value.isEmpty()) {
            throw new IllegalArgumentException("the environment variable " + name + " is empty");
        }
        return new Secret(value.toCharArray(), "env:" + name);
    }

    /**
     * The content of a file, in UTF-8, without the line break(s) at its end ({@code echo pw > file} writes one).
     *
     * @throws IllegalArgumentException if the file cannot be read or holds nothing but line breaks (the message
     *                                  names the file)
     */
    public static Secret fromFile(Path file) {
        Objects.requireNonNull(file, "file");
        byte[] bytes;
        try {
            bytes = Files.readAllBytes(file);
        } catch (NoSuchFileException e) {
            throw new IllegalArgumentException("password file " + file + ": no such file");
        } catch (AccessDeniedException e) {
            throw new IllegalArgumentException("password file " + file + ": permission denied");
        } catch (IOException e) {
            // The message of an IOException from reading names the file and the reason, never the content.
            throw new IllegalArgumentException("password file " + file + " cannot be read: "
                    + e.getClass().getSimpleName());
        }
        CharBuffer decoded = StandardCharsets.UTF_8.decode(ByteBuffer.wrap(bytes));
        Arrays.fill(bytes, (byte) 0);
        int end = decoded.limit();
        while (end > 0 && (decoded.get(end - 1) == '\n' || decoded.get(end - 1) == '\r')) {
            end--;
        }
        if (end == 0) {
            throw new IllegalArgumentException("password file " + file + " is empty");
        }
        char[] value = new char[end];
        decoded.get(0, value);
        if (decoded.hasArray()) {
            Arrays.fill(decoded.array(), '\0');
        }
        return new Secret(value, "file:" + file);
    }

    /** The password; a copy, which the caller may clear after use. */
    public char[] chars() {
        return value.clone();
    }

    @Override
    public boolean equals(Object o) {
        if (!(o instanceof Secret other) || !source.equals(other.source)) {
            return false;
        }
        // No early exit on the first differing character.
        int diff = value.length ^ other.value.length;
        for (int i = 0; i < Math.max(value.length, other.value.length); i++) {
            diff |= (i < value.length ? value[i] : 0) ^ (i < other.value.length ? other.value[i] : 0);
        }
        return diff == 0;
    }

    @Override
    public int hashCode() {
        return source.hashCode();
    }

    @Override
    public String toString() {
        return "Secret[" + source + "]";
    }
}
