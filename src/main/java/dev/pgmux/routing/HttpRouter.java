package dev.pgmux.routing;

import dev.pgmux.BackendConfig;
import dev.pgmux.RouteRequest;
import dev.pgmux.Router;
import dev.pgmux.RoutingException;
import dev.pgmux.protocol.SqlState;
import dev.pgmux.routing.RoutingService.LookupFailed;
import java.net.URI;
import java.net.http.HttpClient;
import java.time.Duration;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.LongSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Asks an HTTP routing service where each connection goes:
 * {@code GET url?user=alice&database=app&application_name=psql&sni=...&client_addr=10.0.0.7} (or the same fields
 * as a JSON object in a POST). The service answers
 * <ul>
 *   <li>200 with a route as JSON, the keys of a route in the config file:
 *       {@code {"host": "10.0.1.50", "port": 5432, "user": "app", "database": "app", "sslmode": "require",
 *       "sslrootcert": "/etc/pgmux/ca.pem", "parameters": {"search_path": "t1"}}} (only {@code host} or
 *       {@code hosts} is required; unknown keys are an error and blank values are not set, as in the config
 *       file: {@link BackendSpec} reads both);</li>
 *   <li>404: no route (FATAL 28000, or the next router of a {@link ChainRouter});</li>
 *   <li>anything else, or nothing within the timeout: the service is unavailable (FATAL 08006
 *       {@code routing service unavailable}), unless a stale answer can be served.</li>
 * </ul>
 *
 * <p>Answers are cached by the fields sent: routes for {@code cacheTtl}, "no route" for {@code negativeTtl}.
 * Connections that need the same lookup at once share one request. When the service fails, an expired answer
 * is still served for {@code staleGrace} after it expired, so that an outage of the routing service does not
 * take down every tenant whose route was known. The cache holds at most {@code maxEntries} answers; beyond
 * that, the oldest goes.
 *
 * <pre>{@code
 * HttpRouter router = HttpRouter.builder()
 *         .url("https://routing.internal/route")
 *         .cacheTtl(Duration.ofSeconds(30))
 *         .bearerToken(System.getenv("ROUTING_TOKEN"))
 *         .build();
 * }</pre>
 *
 * Close it to stop its HTTP client.
 */
public final class HttpRouter implements Router, AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(HttpRouter.class);

    public static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(2);
    public static final Duration DEFAULT_CACHE_TTL = Duration.ofSeconds(30);
    public static final Duration DEFAULT_NEGATIVE_TTL = Duration.ofSeconds(5);
    public static final Duration DEFAULT_STALE_GRACE = Duration.ofMinutes(5);
    public static final int DEFAULT_MAX_ENTRIES = 10_000;
    private static final long WARN_INTERVAL_NANOS = TimeUnit.SECONDS.toNanos(10);

    /** How the fields go to the service: a query string, or a JSON object as the request body. */
    public enum Method { GET, POST }

    /** Counters since start, for monitoring. */
    public record Stats(long lookups, long cacheHits, long staleServed, long failures, int cachedEntries) {
    }

    /** A service answer as cached; {@code backend} null is "no route" (404). Times are {@link #clock} nanos. */
    private record Answer(BackendConfig backend, long expiresAt, long staleUntil) {
        boolean fresh(long now) {
            return now - expiresAt < 0;
        }

        boolean servableStale(long now) {
            return now - staleUntil < 0;
        }
    }

    private final RoutingService service;
    private final long cacheTtlNanos;
    private final long negativeTtlNanos;
    private final long staleGraceNanos;
    private final int maxEntries;
    private final List<RequestField> send;
    private final LongSupplier clock;

    /** Answers by the fields sent, oldest written first; guarded by itself. */
    private final LinkedHashMap<Map<String, String>, Answer> cache;
    /** Lookups under way: a connection that needs one of these waits for it instead of asking again. */
    private final ConcurrentHashMap<Map<String, String>, CompletableFuture<Answer>> inFlight = new ConcurrentHashMap<>();

    private final LongAdder lookups = new LongAdder();
    private final LongAdder hits = new LongAdder();
    private final LongAdder staleServed = new LongAdder();
    private final LongAdder failures = new LongAdder();
    private final AtomicLong lastWarn = new AtomicLong(System.nanoTime() - WARN_INTERVAL_NANOS);
    private final AtomicLong quietFailures = new AtomicLong();
    private volatile boolean closed;

    private HttpRouter(Builder b) {
        URI url = Objects.requireNonNull(b.url, "url");
        if (!"http".equalsIgnoreCase(url.getScheme()) && !"https".equalsIgnoreCase(url.getScheme())
                || url.getHost() == null) {
            throw new IllegalArgumentException("the routing service URL must be http://HOST... or https://HOST...");
        }
        Duration timeout = positive(b.timeout, "timeout");
        this.cacheTtlNanos = notNegative(b.cacheTtl, "cache TTL").toNanos();
        this.negativeTtlNanos = notNegative(b.negativeTtl, "negative TTL").toNanos();
        this.staleGraceNanos = notNegative(b.staleGrace, "stale grace").toNanos();
        if (b.maxEntries < 1) {
            throw new IllegalArgumentException("the cache needs room for at least one entry");
        }
        this.maxEntries = b.maxEntries;
        String bearerToken = b.bearerToken == null || b.bearerToken.isBlank() ? null : b.bearerToken.strip();
        if (b.send.isEmpty()) {
            throw new IllegalArgumentException("send at least one field");
        }
        this.send = List.copyOf(b.send);
        this.service = new RoutingService(url, b.method, timeout, bearerToken, b.client);
        this.clock = b.clock;
        this.cache = new LinkedHashMap<>(16, 0.75f, false) {
            @Override
            protected boolean removeEldestEntry(Map.Entry<Map<String, String>, Answer> eldest) {
                return size() > HttpRouter.this.maxEntries;
            }
        };
    }

    public static Builder builder() {
        return new Builder();
    }

    @Override
    public BackendConfig route(RouteRequest request) throws RoutingException {
        if (closed) {
            throw unavailable(null);
        }
        Map<String, String> fields = fields(request);
        Answer cached = cached(fields);
        if (cached != null && cached.fresh(clock.getAsLong())) {
            hits.increment();
            return result(cached, request);
        }
        try {
            return result(lookup(fields), request);
        } catch (LookupFailed e) {
            if (cached != null && cached.servableStale(clock.getAsLong())) {
                staleServed.increment();
                log.debug("routing service unavailable, serving a stale answer user={}", request.user());
                return result(cached, request);
            }
            throw unavailable(e);
        }
    }

    public Stats stats() {
        int size;
        synchronized (cache) {
            size = cache.size();
        }
        return new Stats(lookups.sum(), hits.sum(), staleServed.sum(), failures.sum(), size);
    }

    /**
     * The answers cached now that name a backend (not the "no route" ones), by the fields they were asked with
     * ({@code user=alice, database=lab}), expired ones included until they are dropped.
     */
    public Map<String, BackendConfig> cachedRoutes() {
        Map<String, BackendConfig> out = new java.util.TreeMap<>();
        synchronized (cache) {
            cache.forEach((fields, answer) -> {
                if (answer.backend() != null) {
                    StringBuilder key = new StringBuilder();
                    fields.forEach((k, v) -> key.append(key.isEmpty() ? "" : ", ").append(k).append('=').append(v));
                    out.put(key.toString(), answer.backend());
                }
            });
        }
        return out;
    }

    /** Forgets every cached answer (the next connection of each key asks the service again). */
    public void clearCache() {
        synchronized (cache) {
            cache.clear();
        }
    }

    /** Stops the HTTP client (unless it was given to the builder); lookups under way finish first. */
    @Override
    public void close() {
        closed = true;
        service.close();
    }

    private static RoutingException unavailable(Throwable cause) {
        return new RoutingException(SqlState.CONNECTION_FAILURE, "routing service unavailable", cause);
    }

    private static BackendConfig result(Answer answer, RouteRequest request) throws RoutingException {
        if (answer.backend() == null) {
            throw RoutingException.noRoute(request.user());
        }
        return answer.backend();
    }

    /** The fields this router sends, in order; absent ones (no SNI) are left out. Also the cache key. */
    private Map<String, String> fields(RouteRequest request) {
        Map<String, String> fields = new LinkedHashMap<>();
        for (RequestField f : send) {
            String v = f.valueOf(request);
            if (v != null) {
                fields.put(f.key(), v);
            }
        }
        return Collections.unmodifiableMap(fields);
    }

    private Answer cached(Map<String, String> fields) {
        synchronized (cache) {
            Answer a = cache.get(fields);
            if (a != null && !a.fresh(clock.getAsLong()) && !a.servableStale(clock.getAsLong())) {
                cache.remove(fields);
                return null;
            }
            return a;
        }
    }

    /** One request per key at a time: the first caller asks the service, callers meanwhile wait for its answer. */
    private Answer lookup(Map<String, String> fields) throws LookupFailed {
        CompletableFuture<Answer> mine = new CompletableFuture<>();
        CompletableFuture<Answer> running = inFlight.putIfAbsent(fields, mine);
        if (running != null) {
            return await(running);
        }
        try {
            // A lookup that finished between our cache check and putIfAbsent has stored its answer: use it.
            Answer again = cached(fields);
            Answer answer = again != null && again.fresh(clock.getAsLong()) ? again : fetchAndStore(fields);
            mine.complete(answer);
            return answer;
        } catch (LookupFailed | RuntimeException e) {
            mine.completeExceptionally(e);
            throw e;
        } finally {
            inFlight.remove(fields, mine);
        }
    }

    private static Answer await(CompletableFuture<Answer> running) throws LookupFailed {
        try {
            return running.get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new LookupFailed("interrupted");
        } catch (ExecutionException e) {
            if (e.getCause() instanceof LookupFailed f) {
                throw f;
            }
            throw new LookupFailed(String.valueOf(e.getCause()));
        }
    }

    private Answer fetchAndStore(Map<String, String> fields) throws LookupFailed {
        lookups.increment();
        Answer answer;
        try {
            answer = answer(service.ask(fields));
        } catch (LookupFailed e) {
            failures.increment();
            warn(fields, e.getMessage());
            throw e;
        }
        if (answer.servableStale(clock.getAsLong())) {
            synchronized (cache) {
                cache.remove(fields); // re-inserted as the youngest
                cache.put(fields, answer);
            }
        }
        return answer;
    }

    /** A backend (or null, 404) with the times it may be served until. */
    private Answer answer(BackendConfig backend) {
        long ttl = backend != null ? cacheTtlNanos : negativeTtlNanos;
        long now = clock.getAsLong();
        return new Answer(backend, now + ttl, now + ttl + staleGraceNanos);
    }

    /** At most one warning per interval, so that an outage under load does not flood the log. */
    private void warn(Map<String, String> fields, String error) {
        long now = System.nanoTime();
        long last = lastWarn.get();
        if (now - last >= WARN_INTERVAL_NANOS && lastWarn.compareAndSet(last, now)) {
            long quiet = quietFailures.getAndSet(0);
            log.warn("routing service failed url={} user={} error={}{}", service.urlWithoutQuery(), fields.get("user"), error,
                    quiet > 0 ? " (" + quiet + " more failures not logged)" : "");
        } else {
            quietFailures.incrementAndGet();
            log.debug("routing service failed user={} error={}", fields.get("user"), error);
        }
    }

    private static Duration positive(Duration d, String what) {
        if (d == null || d.isNegative() || d.isZero()) {
            throw new IllegalArgumentException("the " + what + " must be longer than 0");
        }
        return d;
    }

    private static Duration notNegative(Duration d, String what) {
        if (d == null || d.isNegative()) {
            throw new IllegalArgumentException("the " + what + " must not be negative");
        }
        return d;
    }

    /** Builds an {@link HttpRouter}; only the URL is required. */
    public static final class Builder {
        private URI url;
        private Method method = Method.GET;
        private Duration timeout = DEFAULT_TIMEOUT;
        private Duration cacheTtl = DEFAULT_CACHE_TTL;
        private Duration negativeTtl = DEFAULT_NEGATIVE_TTL;
        private Duration staleGrace = DEFAULT_STALE_GRACE;
        private int maxEntries = DEFAULT_MAX_ENTRIES;
        private String bearerToken;
        private List<RequestField> send = List.of(RequestField.values());
        private HttpClient client;
        private LongSupplier clock = System::nanoTime;

        public Builder url(String url) {
            return url(URI.create(url));
        }

        public Builder url(URI url) {
            this.url = url;
            return this;
        }

        /** GET with a query string (default), or POST with a JSON object. */
        public Builder method(Method method) {
            this.method = Objects.requireNonNull(method, "method");
            return this;
        }

        /** For the whole exchange, connect to last byte. Default 2 s. */
        public Builder timeout(Duration timeout) {
            this.timeout = timeout;
            return this;
        }

        /** How long a route is used without asking again; 0: ask for every connection. Default 30 s. */
        public Builder cacheTtl(Duration cacheTtl) {
            this.cacheTtl = cacheTtl;
            return this;
        }

        /** How long a 404 is remembered; 0: not at all. Default 5 s. */
        public Builder negativeTtl(Duration negativeTtl) {
            this.negativeTtl = negativeTtl;
            return this;
        }

        /** How long after it expired an answer is still served while the service fails; 0: never. Default 5 min. */
        public Builder staleGrace(Duration staleGrace) {
            this.staleGrace = staleGrace;
            return this;
        }

        /** The most answers kept; beyond it, the oldest goes. Default 10,000. */
        public Builder maxEntries(int maxEntries) {
            this.maxEntries = maxEntries;
            return this;
        }

        /** Sent as {@code Authorization: Bearer TOKEN}; null for none. */
        public Builder bearerToken(String bearerToken) {
            this.bearerToken = bearerToken;
            return this;
        }

        /**
         * The fields sent, which are also the cache key (default: all of {@link RequestField}). Send only what
         * the service needs: with {@code client_addr}, each client address is its own cache entry.
         */
        public Builder send(List<RequestField> fields) {
            this.send = List.copyOf(fields);
            return this;
        }

        public Builder send(RequestField... fields) {
            return send(List.of(fields));
        }

        /** A client of the caller's own (TLS settings, proxy, executor); {@link #close()} then leaves it open. */
        public Builder httpClient(HttpClient client) {
            this.client = client;
            return this;
        }

        /** The time source for expiry, in nanoseconds (tests). */
        Builder clock(LongSupplier clock) {
            this.clock = clock;
            return this;
        }

        public HttpRouter build() {
            return new HttpRouter(this);
        }
    }
}
