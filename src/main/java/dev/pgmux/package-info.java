/**
 * pgmux's public API: embed a PostgreSQL routing proxy with {@link dev.pgmux.ProxyServer} and decide where
 * each connection goes with a {@link dev.pgmux.Router}.
 */
package dev.pgmux;
