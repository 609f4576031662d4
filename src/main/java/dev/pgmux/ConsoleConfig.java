package dev.pgmux;

import java.util.Objects;
import java.util.Set;

/**
 * The admin console: a virtual database that answers PgBouncer's console commands ({@code SHOW POOLS},
 * {@code PAUSE}, ...) instead of being routed. Users of {@code adminUsers} may run every command, users of
 * {@code statsUsers} the {@code SHOW} commands only; pgmux authenticates them itself, against the auth file
 * ({@link ProxyServer#withAuthFile}), as a route with {@code auth: proxy} would. Anyone else gets the failing
 * password exchange of an unknown user (28P01).
 *
 * @param database   the console's database name ({@code pgmux} by default)
 * @param adminUsers user names allowed every command
 * @param statsUsers user names allowed the {@code SHOW} commands
 */
public record ConsoleConfig(String database, Set<String> adminUsers, Set<String> statsUsers) {
    /** The console's database name unless another is given. */
    public static final String DEFAULT_DATABASE = "pgmux";

    public ConsoleConfig {
        Objects.requireNonNull(database, "database");
        if (database.isEmpty()) {
            throw new IllegalArgumentException("the console database name is empty");
        }
        adminUsers = Set.copyOf(adminUsers);
        statsUsers = Set.copyOf(statsUsers);
    }

    /** A console on the default database name. */
    public static ConsoleConfig of(Set<String> adminUsers, Set<String> statsUsers) {
        return new ConsoleConfig(DEFAULT_DATABASE, adminUsers, statsUsers);
    }

    /** Whether {@code user} may log in to the console at all. */
    public boolean allows(String user) {
        return adminUsers.contains(user) || statsUsers.contains(user);
    }

    /** Whether {@code user} may run commands other than {@code SHOW}. */
    public boolean isAdmin(String user) {
        return adminUsers.contains(user);
    }
}
