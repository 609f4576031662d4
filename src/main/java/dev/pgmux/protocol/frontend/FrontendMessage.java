package dev.pgmux.protocol.frontend;

import dev.pgmux.protocol.MessageReader;
import dev.pgmux.protocol.ProtocolException;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;

/**
 * A message from a client to a server (protocol docs, "Message Formats"), for the messages pgmux looks into or
 * writes itself; the frames it only forwards stay opaque.
 *
 * <p>Components are not copied: a record holds the arrays it was given, and records with array components
 * compare them by identity. Their {@code toString} shows no array contents, so no password reaches a log.
 */
public sealed interface FrontendMessage permits Close, Describe, Flush, Parse, PasswordMessage, Query,
        SASLInitialResponse, SASLResponse, Sync, Terminate {

    /** The kind byte of Describe and Close: a prepared statement or a portal. */
    byte STATEMENT = 'S';
    byte PORTAL = 'P';

    /** Writes the whole message (type byte, Int32 length, body) at the writer index of {@code out}. */
    void encode(ByteBuf out);

    /** The whole message in a new buffer, which the caller releases. */
    default ByteBuf encode(ByteBufAllocator alloc) {
        ByteBuf out = alloc.buffer();
        try {
            encode(out);
            return out;
        } catch (RuntimeException e) {
            out.release();
            throw e;
        }
    }

    /**
     * Decodes one whole frame: type byte, Int32 length and body, from the reader index to the writer index. The
     * frame's indices and reference count are left alone.
     *
     * @return the message, or {@code null} when the type byte has no type here (Bind, Execute, CopyData...) and
     *         for 'p': PasswordMessage, SASLInitialResponse and SASLResponse share that byte, and only the
     *         authentication exchange knows which one is due, so it calls {@link PasswordMessage#decode},
     *         {@link SASLInitialResponse#decode} or {@link SASLResponse#decode}. Only the header of such frames
     *         is checked.
     * @throws ProtocolException (08P01) for a length word that does not match the frame or a malformed body
     */
    static FrontendMessage decode(ByteBuf frame) throws ProtocolException {
        return switch (MessageReader.checkFrame(frame)) {
            case Close.TYPE -> Close.decode(frame);
            case Describe.TYPE -> Describe.decode(frame);
            case Flush.TYPE -> Flush.decode(frame);
            case Parse.TYPE -> Parse.decode(frame);
            case Query.TYPE -> Query.decode(frame);
            case Sync.TYPE -> Sync.decode(frame);
            case Terminate.TYPE -> Terminate.decode(frame);
            default -> null;
        };
    }
}
