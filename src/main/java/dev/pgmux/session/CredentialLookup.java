package dev.pgmux.session;

import dev.pgmux.BackendConfig;
import dev.pgmux.auth.AuthFile;
import dev.pgmux.auth.Credential;
import dev.pgmux.auth.PlainPassword;
import dev.pgmux.protocol.ErrorResponse;
import dev.pgmux.protocol.SqlState;
import dev.pgmux.server.BackendJdbc;
import dev.pgmux.server.ServerConnection.Host;
import io.netty.channel.EventLoop;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.RejectedExecutionException;
import java.util.function.BiConsumer;
import java.util.function.Consumer;

/**
 * PgBouncer's {@code auth_query}: a client's credential looked up in the backend, by running the route's auth query
 * as its {@code auth_user} (whose password is in the auth file) on the first of the route's hosts that answers, in
 * the database the client connects to. The lookup runs on the proxy's virtual threads (pgjdbc blocks), its answer
 * comes back on the event loop, before the client is asked anything.
 *
 * <p><b>The cache.</b> Answers (a verifier, an MD5 hash, or none: an unknown user) are kept per backend host,
 * database and user for {@code auth_query_cache_ttl}. Within it a login asks nothing of the backend; once it has
 * passed, the next login runs the query again. When the query fails (host down, wrong auth_user password, function
 * dropped) an answer still within its TTL is used; without one the login fails with 08006, never waits longer than
 * the backend connect timeout. A failed login does not evict an answer (a client cannot empty the cache by
 * failing), but a password that changed in the backend must not wait out the TTL: a refused proof marks the answer
 * to be asked again at the next login, once per answer fetched (so failing on purpose costs the backend at most one
 * query per TTL), keeping it for an outage. The client's own exchange cannot be redone: its SCRAM proof was made
 * with the old salt.
 */
final class CredentialLookup {
    /** At most this many answers are kept: user names come from clients. */
    private static final int MAX_ENTRIES = 10_000;
    /** At most this many look-ups run at once: each opens a backend connection as auth_user. */
    private static final int MAX_RUNNING = 16;

    private CredentialLookup() {
    }

    /**
     * Where an answer came from and belongs: the host and database asked, the user asked for, and the auth user and
     * query that asked (two routes with other queries must not share answers).
     */
    record Key(String host, int port, String database, String user, String authUser, String authQuery) {
    }

    /**
     * One answer of the auth query.
     *
     * @param credential   the credential, or null for an unknown user
     * @param fetchedNanos when the query answered
     * @param recheck      whether the next login asks again (a proof against it failed)
     * @param rechecked    whether it was fetched by such a recheck (then a failure marks it no more)
     */
    record Entry(Credential credential, long fetchedNanos, boolean recheck, boolean rechecked) {
        boolean fresh(Duration ttl, long now) {
            return now - fetchedNanos < ttl.toNanos();
        }
    }

    /** The answers, shared by the sessions of one proxy. */
    static final class Cache {
        private final Map<Key, Entry> entries = new ConcurrentHashMap<>();

        Entry get(Key key) {
            return entries.get(key);
        }

        /** Look-ups running now, across the proxy's sessions. */
        private final java.util.concurrent.Semaphore running = new java.util.concurrent.Semaphore(MAX_RUNNING);

        void put(Key key, Entry entry, Duration ttl) {
            if (entries.size() >= MAX_ENTRIES && !entries.containsKey(key)) {
                long now = System.nanoTime();
                entries.values().removeIf(e -> !e.fresh(ttl, now));
                if (entries.size() >= MAX_ENTRIES) {
                    return; // full of fresh answers: keep them (they carry logins through an outage)
                }
            }
            entries.put(key, entry);
        }

        /** A login refused against the answer of {@code key}: the next one asks the backend again, once. */
        void refuted(Key key) {
            entries.computeIfPresent(key, (k, e) -> e.rechecked() || e.recheck() ? e
                    : new Entry(e.credential(), e.fetchedNanos(), true, false));
        }
    }

    /** What the lookup found: the credential (null for an unknown user), and the answer to blame for a failure. */
    record Found(Credential credential, Key key) {
    }

    /** The lookup failed on every host and no answer within its TTL was kept; {@code reason} is for the log. */
    static final class Failed extends Exception {
        Failed(String reason) {
            super(reason, null, false, false);
        }
    }

    /**
     * Whether the client's credential is to be looked up in the backend: the route has an auth user and no
     * {@code client_password}, and the auth file has no line for the client's user (PgBouncer queries "for users not
     * found in auth_file").
     */
    static boolean needed(ProxyContext proxy, BackendConfig backend, Login login) {
        AuthFile authFile = proxy.authFile();
        return backend.looksUpCredentials() && checksPassword(backend.clientAuthMethod())
                && (authFile == null || authFile.lookup(login.user()).isEmpty());
    }

    /** Whether the method checks a password (trust and cert need no credential: nothing to look up). */
    private static boolean checksPassword(dev.pgmux.ClientAuthMethod method) {
        return method == dev.pgmux.ClientAuthMethod.SCRAM_SHA_256 || method == dev.pgmux.ClientAuthMethod.MD5
                || method == dev.pgmux.ClientAuthMethod.PASSWORD;
    }

    /**
     * Starts the lookup of the client's credential, in the database it connects to on the route's backend (PgBouncer
     * runs the query in the database being connected to); {@code then} runs on {@code loop} with what it found, or a
     * {@link Failed}, or a {@link RejectedExecutionException} (shutting down: then at once, on the caller's thread).
     */
    static void lookup(ProxyContext proxy, RouteLookup.Routed routed, Login login, EventLoop loop,
                       BiConsumer<Found, Throwable> then) {
        BackendConfig backend = routed.backend();
        List<Host> hosts = routed.hosts();
        String user = login.user();
        String database = backend.database() != null ? backend.database() : login.startup().database();
        try {
            proxy.routerExecutor().execute(() -> {
                Found found = null;
                Throwable error = null;
                try {
                    found = find(proxy, backend, hosts, user, database);
                } catch (Throwable t) {
                    error = t;
                }
                Found f = found;
                Throwable e = error;
                loop.execute(() -> then.accept(f, e));
            });
        } catch (RejectedExecutionException e) {
            then.accept(null, e);
        }
    }

    /** The error a client gets when the lookup failed, logged (rate-limited) with the reason. */
    static ErrorResponse failure(Throwable error, Login login, Consumer<String> logLoginFailure) {
        if (error instanceof RejectedExecutionException) {
            return ErrorResponse.fatal(SqlState.CANNOT_CONNECT_NOW, "the proxy is shutting down");
        }
        logLoginFailure.accept((error instanceof Failed ? error.getMessage() : "credential lookup failed: " + error)
                + " sqlstate=" + SqlState.CONNECTION_FAILURE);
        return ErrorResponse.fatal(SqlState.CONNECTION_FAILURE, "pgmux could not look up the credentials of user \""
                + login.user() + "\"");
    }

    private static Found find(ProxyContext proxy, BackendConfig backend, List<Host> hosts, String user,
                              String database) throws Failed {
        Cache cache = proxy.credentialCache();
        Duration ttl = proxy.limits().authQueryCacheTtl();
        String reason = "no host of the backend resolved";
        for (Host host : hosts) {
            if (host.address() == null) {
                continue;
            }
            Key key = new Key(host.endpoint().host(), host.endpoint().port(), database, user, backend.authUser(),
                    backend.authQueryOrDefault());
            Entry cached = cache.get(key);
            if (cached != null && !cached.recheck() && cached.fresh(ttl, System.nanoTime())) {
                return new Found(cached.credential(), key);
            }
            if (!cache.running.tryAcquire()) {
                reason = "too many credential look-ups at once (" + MAX_RUNNING + ")";
                if (cached != null && cached.fresh(ttl, System.nanoTime())) {
                    return new Found(cached.credential(), key);
                }
                break;
            }
            try {
                Credential credential = query(proxy, backend, host, user, database);
                cache.put(key, new Entry(credential, System.nanoTime(), false, cached != null && cached.recheck()), ttl);
                return new Found(credential, key);
            } catch (SQLException | IllegalArgumentException e) {
                reason = "auth_query on " + host.endpoint() + " as auth_user " + Login.escape(backend.authUser())
                        + " failed: " + e.getMessage();
                if (cached != null && cached.fresh(ttl, System.nanoTime())) {
                    // an outage (or a recheck that could not run): the answer within its TTL stands
                    return new Found(cached.credential(), key);
                }
            } finally {
                cache.running.release();
            }
        }
        throw new Failed(reason);
    }

    /**
     * Runs the auth query on one host; the credential of its first row's second column, or null (no row, or a null
     * password: a user who cannot log in with a password).
     *
     * @throws IllegalArgumentException when auth_user has no usable password in the auth file, or the answer is no
     *                                  credential
     */
    private static Credential query(ProxyContext proxy, BackendConfig backend, Host host, String user,
                                    String database) throws SQLException {
        AuthFile authFile = proxy.authFile();
        String authUser = backend.authUser();
        Credential own = authFile == null ? null : authFile.lookup(authUser).map(Credential::parse).orElse(null);
        if (!(own instanceof PlainPassword password)) {
            throw new IllegalArgumentException(own == null ? "auth_user has no line in the auth file"
                    : "auth_user's auth-file entry is a verifier or hash, not the password pgmux logs in with");
        }
        Duration timeout = proxy.limits().backendConnectTimeout();
        // PgBouncer's query names the user $1; pgjdbc's parameters are ?.
        String sql = backend.authQueryOrDefault();
        int parameters = sql.split("\\$1(?![0-9])", -1).length - 1;
        try (Connection c = BackendJdbc.connect(host.endpoint(), backend, authUser, new String(password.password()),
                database, timeout, "pgmux auth_query");
             PreparedStatement s = c.prepareStatement(sql.replaceAll("\\$1(?![0-9])", "?"))) {
            s.setQueryTimeout(BackendJdbc.timeoutSeconds(timeout));
            for (int i = 1; i <= parameters; i++) {
                s.setString(i, user);
            }
            try (ResultSet rs = s.executeQuery()) {
                // the row must be the user's: a query that ignored $1 would otherwise give everyone one credential
                if (!rs.next() || !user.equals(rs.getString(1))) {
                    return null;
                }
                String stored = rs.getString(2);
                return stored == null || stored.isEmpty() ? null : Credential.parse(stored);
            }
        }
    }
}
