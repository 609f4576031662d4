package dev.pgmux;

import java.time.Duration;
import java.util.Objects;

/**
 * How a route pools its server connections. A pool belongs to one backend, backend user and database; within it,
 * a server connection is logged in with the startup parameters of the client it was opened for, and serves only
 * clients that sent the same ones, so that {@code RESET}, {@code DISCARD ALL} and the reported settings are exactly
 * what a dedicated connection would show.
 *
 * @param mode              {@link PoolMode#NONE} (the default), session or transaction ({@code pool})
 * @param size              the most server connections of the pool ({@code pool_size}; PgBouncer's default 20)
 * @param minIdle           server connections kept open even when unused ({@code min_pool_size}; 0)
 * @param idleTimeout       an unused server connection older than this is closed ({@code server_idle_timeout}; 600 s;
 *                          zero: never)
 * @param serverLifetime    a server connection older than this is closed when it comes back
 *                          ({@code server_lifetime}; 3600 s; zero: never)
 * @param waitTimeout       how long a client may wait for a server connection before it gets SQLSTATE 53300
 *                          ({@code query_wait_timeout}; 120 s)
 * @param maxClients        the most clients of the route at once, 0 for no limit ({@code max_clients})
 * @param onSessionState    what transaction pooling does with session state ({@code on_session_state}; pin)
 * @param resetQuery        what a server connection runs before it goes back to the pool in session mode, or
 *                          after a pinned client ({@code server_reset_query}; {@code DISCARD ALL}); empty: nothing
 * @param checkAfterIdle    an idle connection unused for longer than this is checked with an empty query before a
 *                          client gets it ({@code server_check_delay}; 30 s; zero: always)
 */
public record PoolConfig(PoolMode mode, int size, int minIdle, Duration idleTimeout, Duration serverLifetime,
                         Duration waitTimeout, int maxClients, SessionStatePolicy onSessionState, String resetQuery,
                         Duration checkAfterIdle) {

    public static final int DEFAULT_SIZE = 20;
    public static final String DEFAULT_RESET_QUERY = "DISCARD ALL";

    /** No pooling: each client has its own server connection. */
    public static final PoolConfig NONE = builder().build();

    public PoolConfig {
        mode = mode == null ? PoolMode.NONE : mode;
        onSessionState = onSessionState == null ? SessionStatePolicy.PIN : onSessionState;
        resetQuery = resetQuery == null ? DEFAULT_RESET_QUERY : resetQuery.strip();
        Objects.requireNonNull(idleTimeout, "idleTimeout");
        Objects.requireNonNull(serverLifetime, "serverLifetime");
        Objects.requireNonNull(waitTimeout, "waitTimeout");
        Objects.requireNonNull(checkAfterIdle, "checkAfterIdle");
        if (size < 1) {
            throw new IllegalArgumentException("pool_size must be at least 1, not " + size);
        }
        if (minIdle < 0 || minIdle > size) {
            throw new IllegalArgumentException("min_pool_size must be between 0 and pool_size (" + size + "), not "
                    + minIdle);
        }
        if (maxClients < 0) {
            throw new IllegalArgumentException("max_clients must not be negative");
        }
        for (Duration d : new Duration[] {idleTimeout, serverLifetime, waitTimeout, checkAfterIdle}) {
            if (d.isNegative()) {
                throw new IllegalArgumentException("pool durations must not be negative: " + d);
            }
        }
        if (waitTimeout.isZero()) {
            throw new IllegalArgumentException("query_wait_timeout must be positive: a client must not wait forever");
        }
    }

    public boolean pooled() {
        return mode != PoolMode.NONE;
    }

    public static Builder builder() {
        return new Builder();
    }

    public Builder toBuilder() {
        return new Builder().mode(mode).size(size).minIdle(minIdle).idleTimeout(idleTimeout)
                .serverLifetime(serverLifetime).waitTimeout(waitTimeout).maxClients(maxClients)
                .onSessionState(onSessionState).resetQuery(resetQuery).checkAfterIdle(checkAfterIdle);
    }

    /** Builds a {@link PoolConfig}; unset values are PgBouncer's defaults. */
    public static final class Builder {
        private PoolMode mode = PoolMode.NONE;
        private int size = DEFAULT_SIZE;
        private int minIdle;
        private Duration idleTimeout = Duration.ofSeconds(600);
        private Duration serverLifetime = Duration.ofSeconds(3600);
        private Duration waitTimeout = Duration.ofSeconds(120);
        private int maxClients;
        private SessionStatePolicy onSessionState = SessionStatePolicy.PIN;
        private String resetQuery = DEFAULT_RESET_QUERY;
        private Duration checkAfterIdle = Duration.ofSeconds(30);

        public Builder mode(PoolMode mode) {
            this.mode = mode;
            return this;
        }

        public Builder size(int size) {
            this.size = size;
            return this;
        }

        public Builder minIdle(int minIdle) {
            this.minIdle = minIdle;
            return this;
        }

        public Builder idleTimeout(Duration idleTimeout) {
            this.idleTimeout = idleTimeout;
            return this;
        }

        public Builder serverLifetime(Duration serverLifetime) {
            this.serverLifetime = serverLifetime;
            return this;
        }

        public Builder waitTimeout(Duration waitTimeout) {
            this.waitTimeout = waitTimeout;
            return this;
        }

        public Builder maxClients(int maxClients) {
            this.maxClients = maxClients;
            return this;
        }

        public Builder onSessionState(SessionStatePolicy onSessionState) {
            this.onSessionState = onSessionState;
            return this;
        }

        public Builder resetQuery(String resetQuery) {
            this.resetQuery = resetQuery;
            return this;
        }

        public Builder checkAfterIdle(Duration checkAfterIdle) {
            this.checkAfterIdle = checkAfterIdle;
            return this;
        }

        public PoolConfig build() {
            return new PoolConfig(mode, size, minIdle, idleTimeout, serverLifetime, waitTimeout, maxClients,
                    onSessionState, resetQuery, checkAfterIdle);
        }
    }
}
