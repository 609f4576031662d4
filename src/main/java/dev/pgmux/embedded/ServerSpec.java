package dev.pgmux.embedded;

import java.nio.file.Path;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * What a new server is to have, as collected (and checked) by {@link LocalPostgres.Builder}.
 *
 * @param settings postgresql.conf settings over the defaults of {@link ServerSetup}
 * @param tlsCert  PEM certificate (chain), or null for no TLS; {@code tlsKey} is then null too
 */
record ServerSpec(String version, String superuserPassword, List<User> users, List<Database> databases,
                  Map<String, String> settings, Path tlsCert, Path tlsKey) {

    ServerSpec {
        users = List.copyOf(users);
        databases = List.copyOf(databases);
        settings = Collections.unmodifiableMap(new LinkedHashMap<>(settings));
    }

    /** A LOGIN role; {@code password} is null only for {@code trust}. */
    record User(String name, String password, String method) {}

    /** {@code owner} null: the superuser. */
    record Database(String name, String owner) {}
}
