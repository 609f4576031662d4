/**
 * One client connection's life: the {@link dev.pgmux.session.Session} state machine and the two thin Netty
 * handlers (client side, backend side) that turn channel events into calls on it. Everything of one session
 * runs on the client channel's event loop; the backend channel is registered on the same loop, so no locks.
 */
package dev.pgmux.session;
