/**
 * The messages a PostgreSQL server sends, one type per message named as in the protocol docs' "Message Formats",
 * each with its byte-exact encoder and a decoder that rejects malformed bodies with a {@code ProtocolException}.
 */
package dev.pgmux.protocol.backend;
