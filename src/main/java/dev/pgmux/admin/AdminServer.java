package dev.pgmux.admin;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.function.BooleanSupplier;

/**
 * The admin HTTP endpoints, on the JDK's own HTTP server (no dependency, and nothing here runs on the proxy's
 * event loops: each request gets a virtual thread).
 *
 * <ul>
 *   <li>{@code GET /healthz}: 200 {@code ok} as long as the process runs (liveness).</li>
 *   <li>{@code GET /readyz}: 200 {@code ready} while the proxy accepts connections and has routes; 503 before
 *       that and while it shuts down, so that a load balancer stops sending clients before the listener closes.</li>
 *   <li>{@code GET /metrics}: metrics in the Prometheus text format or OpenMetrics, as the {@code Accept} header
 *       asks (see {@link Metrics}).</li>
 *   <li>Anything else: 404.</li>
 * </ul>
 */
public final class AdminServer implements AutoCloseable {
    private final HttpServer server;
    private final ExecutorService executor;

    private AdminServer(HttpServer server, ExecutorService executor) {
        this.server = server;
        this.executor = executor;
    }

    /** An admin server without {@code /metrics}. */
    public static AdminServer start(InetSocketAddress address, BooleanSupplier ready) throws IOException {
        return start(address, ready, null);
    }

    /**
     * Binds {@code address} and serves until {@link #close()}.
     *
     * @param ready   whether {@code /readyz} answers 200; called on each request, so it must be cheap
     * @param metrics what {@code /metrics} answers, or null for none (404)
     */
    public static AdminServer start(InetSocketAddress address, BooleanSupplier ready, Metrics metrics)
            throws IOException {
        HttpServer server;
        try {
            server = HttpServer.create(address, 64);
        } catch (IOException e) {
            throw new IOException("could not listen on " + address + " (admin_listen): " + e.getMessage(), e);
        }
        ExecutorService executor = Executors.newVirtualThreadPerTaskExecutor();
        server.setExecutor(executor);
        server.createContext("/", exchange -> {
            try (exchange) {
                switch (exchange.getRequestURI().getPath()) {
                    case "/healthz" -> respond(exchange, 200, "ok");
                    case "/readyz" -> {
                        if (ready.getAsBoolean()) {
                            respond(exchange, 200, "ready");
                        } else {
                            respond(exchange, 503, "not ready");
                        }
                    }
                    case "/metrics" -> {
                        if (metrics == null) {
                            respond(exchange, 404, "not found");
                        } else if (!exchange.getRequestMethod().equals("GET")
                                && !exchange.getRequestMethod().equals("HEAD")) {
                            respond(exchange, 405, "method not allowed"); // before the scrape, not after it
                        } else {
                            Metrics.Body body = metrics.scrape(exchange.getRequestHeaders().getFirst("Accept"));
                            respond(exchange, 200, body.bytes(), body.contentType());
                        }
                    }
                    default -> respond(exchange, 404, "not found");
                }
            }
        });
        server.start();
        return new AdminServer(server, executor);
    }

    /** The bound address (with the real port when started on port 0). */
    public InetSocketAddress address() {
        return server.getAddress();
    }

    private static void respond(HttpExchange exchange, int status, String text) throws IOException {
        respond(exchange, status, (text + "\n").getBytes(StandardCharsets.UTF_8), "text/plain; charset=utf-8");
    }

    private static void respond(HttpExchange exchange, int status, byte[] body, String contentType) throws IOException {
        String method = exchange.getRequestMethod();
        if (!method.equals("GET") && !method.equals("HEAD")) {
            exchange.getResponseHeaders().set("Allow", "GET, HEAD");
            status = 405;
            body = "method not allowed\n".getBytes(StandardCharsets.UTF_8);
            contentType = "text/plain; charset=utf-8";
        }
        exchange.getResponseHeaders().set("Content-Type", contentType);
        exchange.getResponseHeaders().set("Cache-Control", "no-store");
        if (method.equals("HEAD")) {
            exchange.sendResponseHeaders(status, -1);
            return;
        }
        exchange.sendResponseHeaders(status, body.length);
        try (OutputStream out = exchange.getResponseBody()) {
            out.write(body);
        }
    }

    /** Stops at once: probes are short, there is nothing to drain. */
    @Override
    public void close() {
        server.stop(0);
        executor.shutdownNow();
    }
}
