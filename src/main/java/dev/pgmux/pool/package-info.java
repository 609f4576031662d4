/**
 * Server connection pooling: what transaction pooling must know about the statements a client sends, read from
 * their text without a parser ({@link dev.pgmux.pool.SessionStateScan}: the statements that leave session state on
 * a server, and those that drop its prepared statements).
 */
package dev.pgmux.pool;
