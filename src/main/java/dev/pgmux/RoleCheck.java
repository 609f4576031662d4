package dev.pgmux;

import java.util.Objects;

/**
 * Credentials pgmux logs in with to learn a backend host's role before it sends a client there, for backends
 * with several hosts and a {@link TargetSessionAttrs} other than {@code any}.
 *
 * <p>A client's own login cannot be moved to another host once the client has answered the server's password
 * request, so without a role check pgmux learns roles from the sessions themselves: a session that reaches a host
 * of the wrong role first ends with FATAL 08001, and later ones go elsewhere. With a role check, a host whose role
 * is not known (or was seen more than 30 seconds ago) is asked first: pgmux logs in as this user, reads
 * {@code in_hot_standby} and {@code default_transaction_read_only}, and logs out. The user needs no privileges
 * beyond {@code LOGIN} and {@code CONNECT} on the database; sslmode and sslrootcert are the backend's.
 *
 * @param user     the user pgmux logs in as
 * @param password its password (SCRAM, MD5 or cleartext, as the server asks), or null for trust
 * @param database the database to connect to; default {@code postgres}
 */
public record RoleCheck(String user, String password, String database) {
    public RoleCheck {
        Objects.requireNonNull(user, "user");
        if (user.isBlank()) {
            throw new IllegalArgumentException("role check user is empty");
        }
        database = database == null || database.isBlank() ? "postgres" : database;
    }

    @Override
    public String toString() {
        return "RoleCheck[user=" + user + ", database=" + database + (password == null ? "" : ", password=***") + "]";
    }
}
