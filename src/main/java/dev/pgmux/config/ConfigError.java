package dev.pgmux.config;

/**
 * One problem in a configuration, printed like a compiler error: {@code pgmux.yaml:12: routes.app.port: ...}.
 *
 * @param origin  where the value came from: {@code FILE:LINE}, an environment variable or a flag
 * @param key     the setting as a dotted path ({@code routes.app_user.port}); empty for the file as a whole
 * @param message what is wrong, and where it helps, what would be right
 */
public record ConfigError(String origin, String key, String message) {

    @Override
    public String toString() {
        return origin + ": " + (key.isEmpty() ? "" : key + ": ") + message;
    }
}
