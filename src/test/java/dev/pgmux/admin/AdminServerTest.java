package dev.pgmux.admin;

import static org.assertj.core.api.Assertions.assertThat;

import dev.pgmux.ProxyStats;
import dev.pgmux.metrics.ProxyCollector;
import dev.pgmux.metrics.ProxyMetrics;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.List;
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
        admin = AdminServer.start(new InetSocketAddress("127.0.0.1", 0), ready::get,
                Metrics.withJvm(new ProxyCollector(() -> new ProxyStats(3, 10, 2, 1, 7, 4, 1000, 2000), List::of,
                        new ProxyMetrics(), () -> 100, "1.2\"3")));
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
    void metricsInThePrometheusTextFormat() throws Exception {
        HttpResponse<String> r = http.send(HttpRequest.newBuilder(uri("/metrics")).build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(r.statusCode()).isEqualTo(200);
        assertThat(r.headers().firstValue("Content-Type")).contains(Metrics.CONTENT_TYPE);
        assertThat(r.body()).contains("# TYPE pgmux_client_connections gauge\npgmux_client_connections 3.0\n",
                "# TYPE pgmux_client_connections_accepted_total counter\n",
                "\npgmux_client_connections_accepted_total 10.0\n", "\npgmux_client_connections_rejected_total 2.0\n",
                "\npgmux_cancel_requests_total 1.0\n", "\npgmux_sessions_established_total 7.0\n",
                "\npgmux_backend_connect_failures_total 4.0\n", "\npgmux_client_received_bytes_total 1000.0\n",
                "\npgmux_client_sent_bytes_total 2000.0\n", "# TYPE pgmux_build_info gauge\n",
                "pgmux_build_info{version=\"1.2\\\"3\"} 1\n",
                "# TYPE pgmux_query_duration_seconds histogram\n", "\npgmux_query_duration_seconds_count 0\n",
                "# TYPE jvm_memory_used_bytes gauge\n", "# TYPE process_cpu_seconds_total counter\n");
        // every sample line is NAME VALUE or NAME{LABELS} VALUE; every other line a HELP or TYPE comment
        assertThat(r.body().lines()).allMatch(l -> l.matches("# (HELP|TYPE) [a-z_]+ .+")
                || l.matches("[a-z_]+(\\{[a-z_]+=\"(?:[^\"\\\\]|\\\\.)*\"(,[a-z_]+=\"(?:[^\"\\\\]|\\\\.)*\")*})? \\S+"));
        assertThat(r.body()).doesNotContain("# EOF");
    }

    @Test
    void metricsInOpenMetricsWhenAskedFor() throws Exception {
        // what Prometheus sends by default
        HttpResponse<String> r = http.send(HttpRequest.newBuilder(uri("/metrics")).header("Accept",
                "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,"
                        + "text/plain;version=0.0.4;q=0.5,*/*;q=0.1").build(), HttpResponse.BodyHandlers.ofString());
        assertThat(r.statusCode()).isEqualTo(200);
        assertThat(r.headers().firstValue("Content-Type")).contains(Metrics.OPENMETRICS_CONTENT_TYPE);
        assertThat(r.body()).contains("# TYPE pgmux_client_connections_accepted counter\n",
                "\npgmux_client_connections_accepted_total 10.0\n", "# TYPE pgmux_build info\n",
                "\npgmux_build_info{version=\"1.2\\\"3\"} 1\n", "# UNIT pgmux_query_duration_seconds seconds\n")
                .endsWith("# EOF\n");
        // a scraper that prefers protobuf (native histograms) gets a text format it also accepts
        HttpResponse<String> proto = http.send(HttpRequest.newBuilder(uri("/metrics")).header("Accept",
                "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0.6,"
                        + "application/openmetrics-text;version=1.0.0;q=0.5").build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(proto.statusCode()).isEqualTo(200);
        assertThat(proto.headers().firstValue("Content-Type")).contains(Metrics.OPENMETRICS_CONTENT_TYPE);
        HttpResponse<String> head = http.send(HttpRequest.newBuilder(uri("/metrics"))
                .method("HEAD", HttpRequest.BodyPublishers.noBody()).build(), HttpResponse.BodyHandlers.ofString());
        assertThat(head.statusCode()).isEqualTo(200);
        assertThat(head.body()).isEmpty();
    }

    @Test
    void otherPathsAndMethods() throws Exception {
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
