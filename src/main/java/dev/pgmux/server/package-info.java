/**
 * Connections to backend servers: a {@link dev.pgmux.server.ServerConnection} connects host by host (with TLS when
 * the route asks), logs in, and then carries bytes for the client session it is attached to, reporting to it
 * through a small interface; what is known of hosts' roles ({@link dev.pgmux.server.HostSelector}).
 */
package dev.pgmux.server;
