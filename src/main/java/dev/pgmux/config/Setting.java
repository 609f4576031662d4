package dev.pgmux.config;

import java.util.List;
import java.util.Objects;

/**
 * One setting given outside the config file, which overrides the file's value.
 *
 * @param key    the path of keys in the file's terms, e.g. {@code ["limits", "max_client_connections"]}
 * @param value  text (converted as the file's text would be), a {@code List<String>}, a number or a boolean
 * @param origin what gave it, for error messages: {@code PGMUX_LISTEN}, {@code --route}
 */
public record Setting(List<String> key, Object value, String origin) {

    public Setting {
        key = List.copyOf(key);
        if (key.isEmpty()) {
            throw new IllegalArgumentException("empty setting key");
        }
        Objects.requireNonNull(value, "value");
        Objects.requireNonNull(origin, "origin");
    }

    public static Setting of(String origin, Object value, String... key) {
        return new Setting(List.of(key), value, origin);
    }
}
