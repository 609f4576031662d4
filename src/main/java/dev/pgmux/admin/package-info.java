/** The admin HTTP endpoints ({@code /healthz}, {@code /readyz}) for load balancers and orchestrators. */
package dev.pgmux.admin;
