package dev.pgmux.metrics;

import static org.assertj.core.api.Assertions.assertThat;

import dev.pgmux.ProxyStats;
import dev.pgmux.pool.PoolStats;
import dev.pgmux.testing.Scrape;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

class ProxyCollectorTest {
    final List<PoolStats> pools = new ArrayList<>();
    final AtomicInteger cap = new AtomicInteger(2);
    final ProxyMetrics metrics = new ProxyMetrics();
    final ProxyCollector collector = new ProxyCollector(() -> new ProxyStats(3, 10, 2, 1, 7, 4, 1000, 2000),
            () -> List.copyOf(pools), metrics, cap::get, "9.9");

    /** A transaction pool whose counters are all {@code n} (waits in microseconds: n µs). */
    static PoolStats pool(String name, String mode, long n, Map<String, Long> pins) {
        return new PoolStats(name, mode, 5, 2, 1, 1, 3, 0, n, n * 1000, n, n, pins, n, n, n, n * 1_000_000_000L,
                n * 1_000_000_000L);
    }

    static PoolStats pool(String name, long n) {
        return pool(name, "transaction", n, Map.of());
    }

    @Test
    void theNamesOfBeforeStay() {
        pools.add(pool("a@db/h:5432", "transaction", 4, Map.of("set", 2L)));
        Scrape s = Scrape.of(collector);
        for (String name : List.of("pgmux_client_connections", "pgmux_build_info", "pgmux_pool_clients",
                "pgmux_pool_clients_waiting", "pgmux_pool_servers_active", "pgmux_pool_servers_idle",
                "pgmux_pool_servers_opening", "pgmux_pool_size")) {
            assertThat(s.text()).contains("# TYPE " + name + " gauge\n");
        }
        for (String name : List.of("pgmux_client_connections_accepted_total", "pgmux_client_connections_rejected_total",
                "pgmux_sessions_established_total", "pgmux_backend_connect_failures_total",
                "pgmux_cancel_requests_total", "pgmux_client_received_bytes_total", "pgmux_client_sent_bytes_total",
                "pgmux_pool_waits_total", "pgmux_pool_wait_microseconds_total", "pgmux_pool_transactions_total",
                "pgmux_pool_queries_total", "pgmux_pool_pins_total")) {
            assertThat(s.text()).contains("# TYPE " + name + " counter\n");
        }
        assertThat(s.get("pgmux_client_connections")).isEqualTo(3);
        assertThat(s.get("pgmux_client_sent_bytes_total")).isEqualTo(2000);
        assertThat(s.get("pgmux_build_info{version=\"9.9\"}")).isEqualTo(1);
        String labels = "{mode=\"transaction\",pool=\"a@db/h:5432\"}";
        assertThat(s.get("pgmux_pool_size" + labels)).isEqualTo(5);
        assertThat(s.get("pgmux_pool_wait_microseconds_total" + labels)).isEqualTo(4);
        assertThat(s.get("pgmux_pool_transaction_seconds_total" + labels)).isEqualTo(4);
        assertThat(s.get("pgmux_pool_server_assignments_total" + labels)).isEqualTo(4);
        assertThat(s.get("pgmux_pool_client_sent_bytes_total" + labels)).isEqualTo(4);
        assertThat(s.get("pgmux_pool_pins_total{cause=\"set\",pool=\"a@db/h:5432\"}")).isEqualTo(2);
    }

    @Test
    void noPoolsNoPoolSeries() {
        assertThat(Scrape.of(collector).text().replace("pgmux_pool_wait_duration_seconds", ""))
                .doesNotContain("pgmux_pool_").contains("pgmux_query_duration_seconds");
    }

    @Test
    void poolsPastTheCapAreSummedIntoOther() {
        pools.add(pool("c", 100));
        pools.add(pool("a", 1));
        pools.add(pool("b", 10));
        pools.add(pool("d", "session", 1000, Map.of()));
        Scrape s = Scrape.of(collector);
        // new pools get their labels in name order
        assertThat(s.get("pgmux_pool_queries_total{mode=\"transaction\",pool=\"a\"}")).isEqualTo(1);
        assertThat(s.get("pgmux_pool_queries_total{mode=\"transaction\",pool=\"b\"}")).isEqualTo(10);
        assertThat(s.get("pgmux_pool_queries_total{mode=\"transaction\",pool=\"c\"}")).isNull();
        assertThat(s.get("pgmux_pool_queries_total{mode=\"transaction\",pool=\"other\"}")).isEqualTo(100);
        assertThat(s.get("pgmux_pool_queries_total{mode=\"session\",pool=\"other\"}")).isEqualTo(1000);
        assertThat(s.get("pgmux_pool_clients{mode=\"transaction\",pool=\"other\"}")).isEqualTo(2);
        assertThat(s.samples().keySet().stream().filter(k -> k.startsWith("pgmux_pool_queries_total")))
                .hasSize(4);
    }

    @Test
    void otherNeverGoesDownWhenPoolsComeGoOrGetALabel() {
        cap.set(1);
        pools.add(pool("a", 1));
        pools.add(pool("b", 10));
        pools.add(pool("c", 100));
        assertThat(queries(Scrape.of(collector), "other")).isEqualTo(110);
        // c counts on, then goes (retired): what it counted stays in other
        pools.set(2, pool("c", 150));
        assertThat(queries(Scrape.of(collector), "other")).isEqualTo(160);
        pools.remove(2);
        assertThat(queries(Scrape.of(collector), "other")).isEqualTo(160);
        // a goes: b gets its label, and other keeps what b counted while it was there
        pools.remove(0);
        pools.set(0, pool("b", 12));
        Scrape s = Scrape.of(collector);
        assertThat(queries(s, "b")).isEqualTo(12);
        assertThat(queries(s, "other")).isEqualTo(160);
        assertThat(s.get("pgmux_pool_clients{mode=\"transaction\",pool=\"other\"}")).isEqualTo(0);
        // a pool of a name seen before starts again from 0: all it counts is new
        pools.add(pool("c", 5));
        assertThat(queries(Scrape.of(collector), "other")).isEqualTo(165);
    }

    @Test
    void capZeroGivesTotalsPerModeOnly() {
        cap.set(0);
        pools.add(pool("a", "transaction", 1, Map.of("set", 1L)));
        pools.add(pool("b", "transaction", 2, Map.of("set", 2L, "temp_table", 1L)));
        pools.add(pool("c", "session", 4, Map.of()));
        Scrape s = Scrape.of(collector);
        assertThat(s.samples().keySet()).filteredOn(k -> k.startsWith("pgmux_pool_")
                && !k.startsWith("pgmux_pool_wait_duration_seconds")).isNotEmpty().allMatch(k -> k.contains("pool=\"other\""));
        assertThat(queries(s, "other")).isEqualTo(3);
        assertThat(s.get("pgmux_pool_queries_total{mode=\"session\",pool=\"other\"}")).isEqualTo(4);
        assertThat(s.get("pgmux_pool_pins_total{cause=\"set\",pool=\"other\"}")).isEqualTo(3);
        assertThat(s.get("pgmux_pool_pins_total{cause=\"temp_table\",pool=\"other\"}")).isEqualTo(1);
    }

    @Test
    void loweringTheCapTakesTheNewestLabelsFirst() {
        cap.set(3);
        pools.add(pool("a", 1));
        pools.add(pool("b", 10));
        pools.add(pool("c", 100));
        Scrape.of(collector);
        cap.set(1);
        Scrape s = Scrape.of(collector);
        assertThat(queries(s, "c")).isEqualTo(100);
        assertThat(queries(s, "a")).isZero();
        // what a and b counted under their own labels is not added to other at once (no jump in its rate): only
        // what they count from now on
        assertThat(queries(s, "other")).isZero();
        pools.set(0, pool("a", 6));
        assertThat(queries(Scrape.of(collector), "other")).isEqualTo(5);
    }

    @Test
    void poolsOfTheSameNameAndModeAreOneSeries() {
        // after a reload that changed a route's pool settings the old pool lives on until its clients leave
        pools.add(pool("a", 1));
        pools.add(pool("a", 2));
        Scrape s = Scrape.of(collector);
        assertThat(queries(s, "a")).isEqualTo(3);
        assertThat(s.get("pgmux_pool_size{mode=\"transaction\",pool=\"a\"}")).isEqualTo(10);
    }

    @Test
    void histogramsAndErrorsAreThere() {
        metrics.query(2_000_000);
        metrics.error("28P01");
        metrics.error("28000");
        metrics.error("57014");
        metrics.error("x"); // no SQLSTATE: not counted
        metrics.error('2', 'a');
        Scrape s = Scrape.of(collector);
        assertThat(s.get("pgmux_query_duration_seconds_count")).isEqualTo(1);
        assertThat(s.get("pgmux_query_duration_seconds_sum")).isEqualTo(0.002);
        assertThat(s.get("pgmux_query_duration_seconds_bucket{le=\"0.001\"}")).isEqualTo(0);
        assertThat(s.get("pgmux_query_duration_seconds_bucket{le=\"0.0025\"}")).isEqualTo(1);
        assertThat(s.get("pgmux_errors_total{class=\"28\"}")).isEqualTo(2);
        assertThat(s.get("pgmux_errors_total{class=\"57\"}")).isEqualTo(1);
        assertThat(s.samples().keySet()).filteredOn(k -> k.startsWith("pgmux_errors_total")).hasSize(2);
        for (String h : List.of("pgmux_transaction_duration_seconds", "pgmux_pool_wait_duration_seconds",
                "pgmux_login_duration_seconds", "pgmux_router_duration_seconds")) {
            assertThat(s.text()).contains("# TYPE " + h + " histogram\n");
            assertThat(s.get(h + "_count")).isZero();
        }
    }

    private static double queries(Scrape s, String pool) {
        return s.value("pgmux_pool_queries_total{mode=\"transaction\",pool=\"" + pool + "\"}");
    }
}
