/**
 * The admin HTTP endpoints ({@code /healthz}, {@code /readyz}, {@code /metrics}) for load balancers, orchestrators
 * and Prometheus.
 */
package dev.pgmux.admin;
