package dev.pgmux.routing;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.exc.UnrecognizedPropertyException;
import com.fasterxml.jackson.databind.json.JsonMapper;
import dev.pgmux.BackendConfig;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Flow;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.stream.Collectors;

/**
 * One exchange with an {@link HttpRouter}'s routing service: the fields as a query string or a JSON body, the
 * answer within the timeout and at most {@link #MAX_ANSWER_BYTES}, and a 200 answer read as a route. What to do
 * with the answer (cache it, share it, serve it stale) is the router's business.
 */
final class RoutingService implements AutoCloseable {
    /** An answer is a small JSON object; anything longer is a broken service, not a route. */
    static final int MAX_ANSWER_BYTES = 64 * 1024;

    private static final JsonMapper JSON = JsonMapper.builder()
            .enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
            .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
            .propertyNamingStrategy(PropertyNamingStrategies.SNAKE_CASE)
            .build();

    /** The service failed, or answered something that is not a route; the message says which, for logs. */
    static final class LookupFailed extends Exception {
        LookupFailed(String message) {
            super(message, null, false, false);
        }
    }

    private final URI url;
    private final HttpRouter.Method method;
    private final Duration timeout;
    private final String bearerToken;
    private final HttpClient http;
    private final boolean ownsClient;

    /** @param client the caller's client, or null for one of this service's own (closed with it) */
    RoutingService(URI url, HttpRouter.Method method, Duration timeout, String bearerToken, HttpClient client) {
        this.url = url;
        this.method = method;
        this.timeout = timeout;
        this.bearerToken = bearerToken;
        this.ownsClient = client == null;
        this.http = client != null ? client : HttpClient.newBuilder()
                .connectTimeout(timeout)
                .followRedirects(HttpClient.Redirect.NEVER)
                // HTTP/2 over TLS (ALPN); plain http stays HTTP/1.1 rather than trying an h2c upgrade that some
                // servers mishandle.
                .version("https".equalsIgnoreCase(url.getScheme()) ? HttpClient.Version.HTTP_2 : HttpClient.Version.HTTP_1_1)
                .build();
    }

    /**
     * Asks the service once.
     *
     * @return the route, or null for 404 (no route)
     * @throws LookupFailed if the service failed, did not answer within the timeout, or answered nonsense
     */
    BackendConfig ask(Map<String, String> fields) throws LookupFailed {
        HttpRequest.Builder request = HttpRequest.newBuilder().timeout(timeout).header("Accept", "application/json");
        if (bearerToken != null) {
            request.header("Authorization", "Bearer " + bearerToken);
        }
        if (method == HttpRouter.Method.GET) {
            String query = fields.entrySet().stream()
                    .map(e -> encode(e.getKey()) + "=" + encode(e.getValue()))
                    .collect(Collectors.joining("&"));
            String u = url.toString();
            request.uri(URI.create(query.isEmpty() ? u : u + (u.indexOf('?') >= 0 ? "&" : "?") + query)).GET();
        } else {
            try {
                request.uri(url).header("Content-Type", "application/json")
                        .POST(HttpRequest.BodyPublishers.ofByteArray(JSON.writeValueAsBytes(fields)));
            } catch (JsonProcessingException e) {
                throw new IllegalStateException(e); // a map of strings always serializes
            }
        }
        CompletableFuture<HttpResponse<byte[]>> pending;
        try {
            pending = http.sendAsync(request.build(), info -> info.statusCode() == 200
                    ? new LimitedBody(MAX_ANSWER_BYTES) : HttpResponse.BodySubscribers.replacing(new byte[0]));
        } catch (IllegalStateException e) {
            throw new LookupFailed("HTTP client closed");
        }
        HttpResponse<byte[]> response;
        try {
            // The request timeout covers the wait for the headers only; this one covers the body too.
            response = pending.get(timeout.toNanos(), TimeUnit.NANOSECONDS);
        } catch (TimeoutException e) {
            pending.cancel(true);
            throw new LookupFailed("no answer within " + timeout.toMillis() + " ms");
        } catch (InterruptedException e) {
            pending.cancel(true);
            Thread.currentThread().interrupt();
            throw new LookupFailed("interrupted");
        } catch (ExecutionException e) {
            Throwable cause = e.getCause();
            throw new LookupFailed(cause instanceof HttpTimeoutException
                    ? "no answer within " + timeout.toMillis() + " ms"
                    : cause.getClass().getSimpleName() + (cause.getMessage() == null ? "" : ": " + cause.getMessage()));
        }
        return switch (response.statusCode()) {
            case 200 -> answer(response.body());
            case 404 -> null;
            default -> throw new LookupFailed("HTTP status " + response.statusCode());
        };
    }

    /**
     * A 200 answer into a backend, read as a route of the config file is ({@link BackendSpec}, the same keys and
     * the same rule for blank values); a broken one is a failure of the service, not "no route".
     */
    static BackendConfig answer(byte[] body) throws LookupFailed {
        BackendSpec spec;
        try {
            JsonNode tree = JSON.readTree(body);
            if (tree == null || !tree.isObject()) {
                // Not even the one-line notation a config file takes: a service answers with keys.
                throw new LookupFailed("invalid answer: not a JSON object");
            }
            spec = JSON.treeToValue(tree, BackendSpec.class);
        } catch (UnrecognizedPropertyException e) {
            throw new LookupFailed("invalid answer: unknown key \"" + e.getPropertyName() + "\"");
        } catch (IOException e) {
            String m = e instanceof JsonProcessingException j ? j.getOriginalMessage() : e.getMessage();
            int nl = m == null ? -1 : m.indexOf('\n');
            throw new LookupFailed("invalid answer: " + (nl > 0 ? m.substring(0, nl) : m));
        }
        try {
            return spec.toBackendConfig();
        } catch (IllegalArgumentException e) {
            throw new LookupFailed("invalid answer: " + e.getMessage());
        }
    }

    private static String encode(String s) {
        return URLEncoder.encode(s, StandardCharsets.UTF_8);
    }

    /** The URL for logs: a query string may carry a secret. */
    String urlWithoutQuery() {
        String u = url.toString();
        int q = u.indexOf('?');
        return q < 0 ? u : u.substring(0, q);
    }

    /** Stops the HTTP client, unless it was the caller's. */
    @Override
    public void close() {
        if (ownsClient) {
            http.close();
        }
    }

    /** Collects a 200 answer's body, failing past {@code limit} bytes instead of growing without end. */
    private static final class LimitedBody implements HttpResponse.BodySubscriber<byte[]> {
        private final CompletableFuture<byte[]> body = new CompletableFuture<>();
        private final ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        private final int limit;
        private Flow.Subscription subscription;

        LimitedBody(int limit) {
            this.limit = limit;
        }

        @Override
        public CompletionStage<byte[]> getBody() {
            return body;
        }

        @Override
        public void onSubscribe(Flow.Subscription s) {
            subscription = s;
            s.request(Long.MAX_VALUE);
        }

        @Override
        public void onNext(List<ByteBuffer> items) {
            if (body.isDone()) {
                return;
            }
            for (ByteBuffer b : items) {
                if (bytes.size() + b.remaining() > limit) {
                    subscription.cancel();
                    body.completeExceptionally(new IOException("answer longer than " + limit + " bytes"));
                    return;
                }
                byte[] chunk = new byte[b.remaining()];
                b.get(chunk);
                bytes.write(chunk, 0, chunk.length);
            }
        }

        @Override
        public void onError(Throwable t) {
            body.completeExceptionally(t);
        }

        @Override
        public void onComplete() {
            body.complete(bytes.toByteArray());
        }
    }
}
