/**
 * The built-in routers: pattern rules over user, database, SNI and startup parameters, an HTTP routing service
 * with a cache, a routing table in a PostgreSQL database, and a chain that asks several routers in turn; and
 * {@link dev.pgmux.routing.BackendSpec}, the one reader of a backend written as text, which they and the config
 * file share.
 */
package dev.pgmux.routing;
