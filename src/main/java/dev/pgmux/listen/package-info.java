/**
 * Where client connections come in: the TCP listeners (with {@code SO_REUSEPORT}, so that a second pgmux can bind
 * the same addresses during a rolling restart), the Unix-domain sockets named as PostgreSQL names them
 * ({@code DIR/.s.PGSQL.PORT}), and the PROXY protocol header a trusted load balancer sends first, which yields the
 * client's real address ({@link dev.pgmux.listen.ClientAddress}) before the session starts.
 */
package dev.pgmux.listen;
