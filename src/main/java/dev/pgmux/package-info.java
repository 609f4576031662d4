/**
 * pgmux's public API: embed a PostgreSQL routing proxy with {@link dev.pgmux.ProxyServer}, decide where each
 * connection goes with a {@link dev.pgmux.Router}, and, for routes where pgmux authenticates clients itself, who
 * gets in with an {@link dev.pgmux.Authenticator}.
 */
package dev.pgmux;
