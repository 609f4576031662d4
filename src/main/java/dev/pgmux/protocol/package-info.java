/**
 * The PostgreSQL v3 wire protocol as pure encode/decode functions over {@code ByteBuf}s: startup packets,
 * ErrorResponses, and the framing shared by the message types of {@link dev.pgmux.protocol.backend} and
 * {@link dev.pgmux.protocol.frontend}. No Netty handlers and no state here.
 *
 * <p>Names follow the "Message Formats" section of the PostgreSQL protocol documentation.
 */
package dev.pgmux.protocol;
