package dev.pgmux.testing;

import io.prometheus.metrics.expositionformats.PrometheusTextFormatWriter;
import io.prometheus.metrics.model.registry.MultiCollector;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;

/** A collector's metrics in the Prometheus text format, and its samples by {@code name{labels}}. */
public record Scrape(String text, Map<String, Double> samples) {

    public static Scrape of(MultiCollector collector) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try {
            PrometheusTextFormatWriter.create().write(out, collector.collect());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return parse(out.toString(StandardCharsets.UTF_8));
    }

    /** Reads the samples of a text in the Prometheus text format (label values without spaces). */
    public static Scrape parse(String text) {
        Map<String, Double> samples = new LinkedHashMap<>();
        for (String line : text.split("\n")) {
            if (line.isEmpty() || line.startsWith("#")) {
                continue;
            }
            int space = line.lastIndexOf(' ');
            samples.put(line.substring(0, space), Double.parseDouble(line.substring(space + 1)));
        }
        return new Scrape(text, samples);
    }

    /** The value of sample {@code name{labels}} (labels in the order written: sorted by name), or null. */
    public Double get(String sample) {
        return samples.get(sample);
    }

    /** The value of a sample, or 0 when there is none. */
    public double value(String sample) {
        Double v = samples.get(sample);
        return v == null ? 0 : v;
    }
}
