/**
 * Authentication at the proxy: the credentials pgmux keeps for a user (a SCRAM verifier, an MD5 hash or a plain
 * password, in PostgreSQL's formats), the server side of a SCRAM-SHA-256(-PLUS) exchange with a client, and the TLS
 * channel binding it checks. Pure computation on bytes: no Netty handlers, no I/O, no state beyond one exchange.
 */
package dev.pgmux.auth;
