/**
 * One client connection's life: the {@link dev.pgmux.session.ClientSession} state machine (startup, routing, the
 * relayed login, forwarding), the pieces it is made of (client startup, route lookup, authentication relay, hidden
 * unknown users, authentication at pgmux with credentials looked up in the backend, and its own login to the server) and the thin Netty handler that turns
 * client channel events into calls on it. Everything of one session runs on the client channel's event loop; its
 * server connection's channel is registered on the same loop, so no locks. What may block (a router, an
 * application's {@link dev.pgmux.Authenticator}, an auth query) runs on virtual threads and answers on that loop.
 */
package dev.pgmux.session;
