package dev.pgmux.embedded;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Turns a {@link ServerSpec} into a server: before the start, a data directory copied from the {@link Template}
 * with its pg_hba.conf and postgresql.conf written; after the start, the roles and databases over SQL.
 */
final class ServerSetup {

    private ServerSetup() {}

    /** Copies the template to {@code dataDir} (inside {@code baseDir}) and writes the configuration files. */
    static void writeDataDir(ServerSpec spec, Template template, ServerUser serverUser, Path baseDir, Path dataDir)
            throws IOException {
        // cp -a as the server user: the copy keeps the modes PostgreSQL insists on and belongs to that user.
        serverUser.run(List.of("cp", "-a", template.data().toString(), dataDir.toString()), baseDir);
        Files.writeString(dataDir.resolve("pg_hba.conf"), hba(spec.users()), StandardCharsets.UTF_8,
                StandardOpenOption.TRUNCATE_EXISTING, StandardOpenOption.WRITE);

        Map<String, String> settings = new LinkedHashMap<>();
        settings.put("listen_addresses", LocalPostgres.HOST);
        settings.put("unix_socket_directories", "");
        settings.put("fsync", "off");
        settings.put("synchronous_commit", "off");
        settings.put("full_page_writes", "off");
        settings.put("shared_buffers", "32MB");
        settings.put("max_connections", "300");
        settings.put("password_encryption", "scram-sha-256");
        if (spec.tlsCert() != null) {
            copyPrivate(spec.tlsCert(), dataDir.resolve("server.crt"), serverUser);
            copyPrivate(spec.tlsKey(), dataDir.resolve("server.key"), serverUser);
            settings.put("ssl", "on");
            settings.put("ssl_cert_file", "server.crt");
            settings.put("ssl_key_file", "server.key");
        }
        settings.putAll(spec.settings());
        // Appended to postgresql.conf rather than postgresql.auto.conf: a test's ALTER SYSTEM RESET ALL
        // must not switch off TLS or the listen address.
        StringBuilder conf = new StringBuilder("\n# LocalPostgres\n");
        settings.forEach((name, value) -> conf.append(name).append(" = ").append(quote(value)).append('\n'));
        Files.writeString(dataDir.resolve("postgresql.conf"), conf, StandardCharsets.UTF_8, StandardOpenOption.APPEND);
    }

    /**
     * Over a superuser session on the new server (still with the template's password): sets the configured
     * superuser password, creates the roles and databases, and returns {@code SHOW server_version}. Roles and
     * databases go through SQL rather than initdb so that each gets exactly its own options.
     */
    static String createRolesAndDatabases(Connection c, ServerSpec spec) throws SQLException {
        try (Statement st = c.createStatement()) {
            st.execute("ALTER ROLE " + LocalPostgres.SUPERUSER + " PASSWORD " + quote(spec.superuserPassword()));
            String version;
            try (ResultSet rs = st.executeQuery("SHOW server_version")) {
                rs.next();
                version = rs.getString(1);
            }
            for (ServerSpec.User u : spec.users()) {
                String create = "CREATE ROLE " + ident(u.name()) + " LOGIN";
                if (u.password() == null) {
                    st.execute(create);
                    continue;
                }
                // md5 logins need the password stored as md5 (a SCRAM secret cannot answer an MD5
                // challenge); PostgreSQL 18 deprecates this and warns, which is fine for a test server.
                st.execute("SET password_encryption = " + quote(u.method().equals("md5") ? "md5" : "scram-sha-256"));
                st.execute(create + " PASSWORD " + quote(u.password()));
            }
            st.execute("RESET password_encryption");
            for (ServerSpec.Database d : spec.databases()) {
                String owner = d.owner() == null ? "" : " OWNER " + ident(d.owner());
                st.execute("CREATE DATABASE " + ident(d.name()) + owner);
            }
            return version;
        }
    }

    /** Per-user lines first (first match wins), then a password for everyone else. */
    private static String hba(List<ServerSpec.User> users) {
        StringBuilder hba = new StringBuilder("# Written by LocalPostgres. TYPE DATABASE USER ADDRESS METHOD\n");
        for (ServerSpec.User u : users) {
            for (String address : List.of("127.0.0.1/32", "::1/128")) {
                hba.append("host all \"").append(u.name()).append("\" ").append(address).append(' ')
                        .append(u.method()).append('\n');
            }
        }
        for (String address : List.of("127.0.0.1/32", "::1/128")) {
            hba.append("host all all ").append(address).append(" scram-sha-256\n");
            hba.append("host replication all ").append(address).append(" scram-sha-256\n");
        }
        return hba.toString();
    }

    /** The key must be private to the server user, or PostgreSQL refuses to load it. */
    private static void copyPrivate(Path from, Path to, ServerUser serverUser) throws IOException {
        Files.copy(from, to, StandardCopyOption.REPLACE_EXISTING);
        Files.setPosixFilePermissions(to, PosixFilePermissions.fromString("rw-------"));
        serverUser.own(to);
    }

    /** A value for postgresql.conf or SQL: every setting type accepts the quoted form. */
    private static String quote(String value) {
        return "'" + value.replace("'", "''") + "'";
    }

    private static String ident(String name) {
        return "\"" + name.replace("\"", "\"\"") + "\"";
    }
}
