/**
 * The messages a client sends after its startup packet, one type per message named as in the protocol docs'
 * "Message Formats", each with its byte-exact encoder and a decoder that rejects malformed bodies with a
 * {@code ProtocolException}; the packets without a type byte are {@link dev.pgmux.protocol.StartupPacket}s.
 */
package dev.pgmux.protocol.frontend;
