package dev.pgmux.admin;

import io.prometheus.metrics.expositionformats.ExpositionFormatWriter;
import io.prometheus.metrics.expositionformats.OpenMetricsTextFormatWriter;
import io.prometheus.metrics.expositionformats.PrometheusTextFormatWriter;
import io.prometheus.metrics.model.registry.MultiCollector;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;

/**
 * The {@code /metrics} answer: a registry's metrics in the format the scraper asks for. OpenMetrics text when its
 * {@code Accept} header names {@code application/openmetrics-text} (Prometheus does by default), else the
 * Prometheus text format 0.0.4. There is no protobuf format (it would bring a protobuf runtime into the jar);
 * a scraper that asks for it also accepts one of the text formats.
 */
public final class Metrics {
    public static final String CONTENT_TYPE = PrometheusTextFormatWriter.CONTENT_TYPE;
    public static final String OPENMETRICS_CONTENT_TYPE = OpenMetricsTextFormatWriter.CONTENT_TYPE;

    /** A scrape's answer. */
    public record Body(String contentType, byte[] bytes) {
        public String text() {
            return new String(bytes, StandardCharsets.UTF_8);
        }
    }

    private final PrometheusRegistry registry;
    private final ExpositionFormatWriter text = PrometheusTextFormatWriter.create();
    private final ExpositionFormatWriter openMetrics = OpenMetricsTextFormatWriter.create();

    public Metrics(PrometheusRegistry registry) {
        this.registry = registry;
    }

    /** pgmux's metrics ({@code collector}) with the JVM's and the process's ({@code jvm_*}, {@code process_*}). */
    public static Metrics withJvm(MultiCollector collector) {
        PrometheusRegistry registry = new PrometheusRegistry();
        registry.register(collector);
        // The JVM's metrics but its thread metrics, which look for deadlocks and read every thread's state at each
        // scrape (safepoints that stall the event loops); jvm_threads_current alone is a cheap read.
        io.prometheus.metrics.instrumentation.jvm.JvmBufferPoolMetrics.builder().register(registry);
        io.prometheus.metrics.instrumentation.jvm.JvmClassLoadingMetrics.builder().register(registry);
        io.prometheus.metrics.instrumentation.jvm.JvmCompilationMetrics.builder().register(registry);
        io.prometheus.metrics.instrumentation.jvm.JvmGarbageCollectorMetrics.builder().register(registry);
        io.prometheus.metrics.instrumentation.jvm.JvmMemoryPoolAllocationMetrics.builder().register(registry);
        io.prometheus.metrics.instrumentation.jvm.JvmMemoryMetrics.builder().register(registry);
        io.prometheus.metrics.instrumentation.jvm.JvmRuntimeInfoMetric.builder().register(registry);
        io.prometheus.metrics.instrumentation.jvm.ProcessMetrics.builder().register(registry);
        java.lang.management.ThreadMXBean threads = java.lang.management.ManagementFactory.getThreadMXBean();
        io.prometheus.metrics.core.metrics.GaugeWithCallback.builder().name("jvm_threads_current")
                .help("Current thread count of a JVM").callback(cb -> cb.call(threads.getThreadCount()))
                .register(registry);
        return new Metrics(registry);
    }

    /** The metrics now, in the format {@code accept} (an HTTP Accept header, or null) asks for. */
    public Body scrape(String accept) {
        ExpositionFormatWriter writer = openMetrics.accepts(accept) ? openMetrics : text;
        ByteArrayOutputStream out = new ByteArrayOutputStream(16 * 1024);
        try {
            writer.write(out, registry.scrape());
        } catch (IOException e) {
            throw new UncheckedIOException(e); // a ByteArrayOutputStream does not throw
        }
        return new Body(writer.getContentType(), out.toByteArray());
    }

    /** The metrics now in the Prometheus text format. */
    public String text() {
        return scrape(null).text();
    }
}
