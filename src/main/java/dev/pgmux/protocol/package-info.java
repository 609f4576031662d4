/**
 * The PostgreSQL v3 wire protocol as pure encode/decode functions over {@code ByteBuf}s: startup packets,
 * the few backend messages the proxy looks into, and ErrorResponses. No Netty handlers and no state here.
 *
 * <p>Names follow the "Message Formats" section of the PostgreSQL protocol documentation.
 */
package dev.pgmux.protocol;
