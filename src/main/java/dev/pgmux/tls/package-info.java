/**
 * TLS contexts: the server side toward clients (reloaded when its PEM files change, ALPN {@code postgresql}
 * for PostgreSQL 17 direct SSL) and the client side toward backends (libpq's sslmode semantics).
 */
package dev.pgmux.tls;
