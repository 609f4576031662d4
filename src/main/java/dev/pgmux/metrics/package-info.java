/**
 * What pgmux measures of the traffic it carries (latency histograms, errors by SQLSTATE class) and how its counters,
 * pools and measurements become Prometheus metrics ({@link dev.pgmux.metrics.ProxyCollector}), pool labels capped.
 */
package dev.pgmux.metrics;
