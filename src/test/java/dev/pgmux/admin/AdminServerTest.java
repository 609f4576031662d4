package dev.pgmux.admin;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

class AdminServerTest {
    final AtomicBoolean ready = new AtomicBoolean(true);
    final HttpClient http = HttpClient.newHttpClient();
    AdminServer admin;

    @BeforeEach
    void start() throws Exception {
        admin = AdminServer.start(new InetSocketAddress("127.0.0.1", 0), ready::get);
    }

    @AfterEach
    void stop() {
        admin.close();
        http.close();
    }

    @Test
    void healthzAnswersWhateverTheReadiness() throws Exception {
        assertThat(get("/healthz")).isEqualTo("200 ok\n");
        ready.set(false);
        assertThat(get("/healthz")).isEqualTo("200 ok\n");
    }

    @Test
    void readyzFollowsTheReadiness() throws Exception {
        assertThat(get("/readyz")).isEqualTo("200 ready\n");
        ready.set(false);
        assertThat(get("/readyz")).isEqualTo("503 not ready\n");
        ready.set(true);
        assertThat(get("/readyz")).isEqualTo("200 ready\n");
    }

    @Test
    void otherPathsAndMethods() throws Exception {
        assertThat(get("/metrics")).isEqualTo("404 not found\n");
        assertThat(get("/healthz/extra")).isEqualTo("404 not found\n");
        HttpResponse<String> post = http.send(HttpRequest.newBuilder(uri("/healthz"))
                .POST(HttpRequest.BodyPublishers.noBody()).build(), HttpResponse.BodyHandlers.ofString());
        assertThat(post.statusCode()).isEqualTo(405);
        assertThat(post.headers().firstValue("Allow")).contains("GET, HEAD");
        HttpResponse<String> head = http.send(HttpRequest.newBuilder(uri("/readyz"))
                .method("HEAD", HttpRequest.BodyPublishers.noBody()).build(), HttpResponse.BodyHandlers.ofString());
        assertThat(head.statusCode()).isEqualTo(200);
        assertThat(head.body()).isEmpty();
    }

    @Test
    void handlersRunOnVirtualThreads() throws Exception {
        // Not on a Netty event loop, and a slow probe does not hold up the next one.
        AdminServer slow = AdminServer.start(new InetSocketAddress("127.0.0.1", 0), () -> {
            assertThat(Thread.currentThread().isVirtual()).isTrue();
            return true;
        });
        try {
            HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:"
                    + slow.address().getPort() + "/readyz")).build(), HttpResponse.BodyHandlers.ofString());
            assertThat(r.statusCode()).isEqualTo(200);
        } finally {
            slow.close();
        }
    }

    private String get(String path) throws Exception {
        HttpResponse<String> r = http.send(HttpRequest.newBuilder(uri(path)).build(), HttpResponse.BodyHandlers.ofString());
        assertThat(r.headers().firstValue("Content-Type")).contains("text/plain; charset=utf-8");
        return r.statusCode() + " " + r.body();
    }

    private URI uri(String path) {
        return URI.create("http://127.0.0.1:" + admin.address().getPort() + path);
    }
}
