package dev.pgmux.config;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Where a configuration comes from, in increasing precedence: the YAML file (optional), environment variables,
 * then command-line settings. A reload reads the file again and applies the same environment and flags on top.
 *
 * <pre>{@code
 * ServerConfig config = new ConfigSource(Path.of("pgmux.yaml"), System.getenv(), List.of()).load();
 * }</pre>
 *
 * @param file        the YAML file, or null for none
 * @param environment the process environment; only the {@link #ENVIRONMENT} variables are read
 * @param settings    settings from flags, which win over everything else
 */
public record ConfigSource(Path file, Map<String, String> environment, List<Setting> settings) {

    /**
     * The environment variables that override single settings, and the key each one sets. An empty variable
     * counts as unset. {@code PGMUX_LISTEN} and {@code PGMUX_PROXY_PROTOCOL_TRUSTED} take comma-separated lists;
     * {@code PGMUX_DEFAULT_ROUTE} the one-line backend notation {@code [USER@]HOST:PORT[/DATABASE]}.
     */
    public static final Map<String, List<String>> ENVIRONMENT = environmentTable();

    public ConfigSource {
        environment = Map.copyOf(environment);
        settings = List.copyOf(settings);
    }

    private static Map<String, List<String>> environmentTable() {
        Map<String, List<String>> t = new LinkedHashMap<>();
        t.put("PGMUX_LISTEN", List.of("listen"));
        t.put("PGMUX_ADMIN_LISTEN", List.of("admin_listen"));
        t.put("PGMUX_THREADS", List.of("threads"));
        t.put("PGMUX_TLS_CERT", List.of("tls", "cert"));
        t.put("PGMUX_TLS_KEY", List.of("tls", "key"));
        t.put("PGMUX_TLS_REQUIRED", List.of("tls", "required"));
        t.put("PGMUX_TLS_MIN_VERSION", List.of("tls", "min_version"));
        t.put("PGMUX_TLS_CLIENT_CA", List.of("tls", "client_ca"));
        t.put("PGMUX_MAX_CLIENT_CONNECTIONS", List.of("limits", "max_client_connections"));
        t.put("PGMUX_MAX_CONNECTIONS_PER_IP", List.of("limits", "max_connections_per_ip"));
        t.put("PGMUX_MAX_HOST_CONNECTIONS", List.of("limits", "max_host_connections"));
        t.put("PGMUX_CLIENT_LOGIN_TIMEOUT", List.of("timeouts", "client_login"));
        t.put("PGMUX_BACKEND_CONNECT_TIMEOUT", List.of("timeouts", "backend_connect"));
        t.put("PGMUX_ROUTER_TIMEOUT", List.of("timeouts", "router"));
        t.put("PGMUX_SHUTDOWN_TIMEOUT", List.of("timeouts", "shutdown"));
        t.put("PGMUX_LOG_LEVEL", List.of("log", "level"));
        t.put("PGMUX_LOG_FORMAT", List.of("log", "format"));
        t.put("PGMUX_DEFAULT_ROUTE", List.of("default_route"));
        t.put("PGMUX_UNIX_SOCKET_DIR", List.of("unix_socket_dir"));
        t.put("PGMUX_UNIX_SOCKET_MODE", List.of("unix_socket_mode"));
        t.put("PGMUX_PROXY_PROTOCOL_TRUSTED", List.of("proxy_protocol", "trusted"));
        t.put("PGMUX_METRICS_POOL_LABELS", List.of("metrics_pool_labels"));
        return Collections.unmodifiableMap(t);
    }

    /** Reads the file (if any) and validates everything. */
    public ServerConfig load() throws ConfigException {
        return load(readFile());
    }

    /** The file's content, or null when there is no file. */
    public String readFile() throws ConfigException {
        if (file == null) {
            return null;
        }
        try {
            return Files.readString(file, StandardCharsets.UTF_8);
        } catch (NoSuchFileException e) {
            throw new ConfigException(new ConfigError(file.toString(), "", "no such file"));
        } catch (IOException e) {
            throw new ConfigException(new ConfigError(file.toString(), "", "cannot read: " + e.getMessage()));
        }
    }

    /** Validates {@code fileText} (the file's content as read before, or null for no file) with the overrides. */
    public ServerConfig load(String fileText) throws ConfigException {
        List<Setting> all = new ArrayList<>(environmentSettings());
        all.addAll(settings);
        ConfigReader.Result r = ConfigReader.read(file == null ? null : file.toString(), fileText, all);
        Path baseDir = file == null ? null : file.toAbsolutePath().getParent();
        return Validator.validate(r.raw(), r.origins(), baseDir, environment);
    }

    /** The {@link #ENVIRONMENT} variables that are set, as settings. */
    public List<Setting> environmentSettings() {
        List<Setting> out = new ArrayList<>();
        ENVIRONMENT.forEach((name, key) -> {
            String value = environment.get(name);
            if (value == null || value.isBlank()) {
                return;
            }
            Object v = name.equals("PGMUX_LISTEN") || name.equals("PGMUX_PROXY_PROTOCOL_TRUSTED")
                    ? Arrays.stream(value.split(",")).map(String::trim).filter(s -> !s.isEmpty()).toList()
                    : value.trim();
            out.add(new Setting(key, v, name));
        });
        return out;
    }
}
