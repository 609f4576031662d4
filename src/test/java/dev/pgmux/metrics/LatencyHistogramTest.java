package dev.pgmux.metrics;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.pgmux.testing.Scrape;
import io.prometheus.metrics.model.snapshots.MetricSnapshots;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

class LatencyHistogramTest {
    final LatencyHistogram h = new LatencyHistogram("t_seconds", "test", 0.001, 0.01);

    Scrape scrape() {
        return Scrape.of(() -> MetricSnapshots.of(h.collect()));
    }

    @Test
    void aBoundIsInItsBucketAndTheCountsAccumulate() {
        h.observe(1_000_000); // exactly 1 ms: le="0.001"
        h.observe(1_000_001);
        h.observe(10_000_000);
        h.observe(10_000_001); // +Inf only
        h.observe(-5); // a clock that stepped back: 0
        Scrape s = scrape();
        assertThat(s.text()).contains("# TYPE t_seconds histogram\n");
        assertThat(s.get("t_seconds_bucket{le=\"0.001\"}")).isEqualTo(2);
        assertThat(s.get("t_seconds_bucket{le=\"0.01\"}")).isEqualTo(4);
        assertThat(s.get("t_seconds_bucket{le=\"+Inf\"}")).isEqualTo(5);
        assertThat(s.get("t_seconds_count")).isEqualTo(5);
        assertThat(s.get("t_seconds_sum")).isEqualTo(0.022000002);
    }

    @Test
    void manyThreadsLoseNothing() throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(4);
        for (int t = 0; t < 4; t++) {
            pool.execute(() -> {
                for (int i = 0; i < 100_000; i++) {
                    h.observe(i % 3 * 5_000_000L);
                }
            });
        }
        pool.shutdown();
        assertThat(pool.awaitTermination(30, TimeUnit.SECONDS)).isTrue();
        Scrape s = scrape();
        assertThat(s.get("t_seconds_count")).isEqualTo(400_000);
        assertThat(s.get("t_seconds_bucket{le=\"0.001\"}")).isEqualTo(133_336);
    }

    @Test
    void boundsMustAscend() {
        assertThatThrownBy(() -> new LatencyHistogram("x_seconds", "x", 0.1, 0.1))
                .isInstanceOf(IllegalArgumentException.class);
    }
}
