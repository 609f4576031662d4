package dev.pgmux.protocol.backend;

import dev.pgmux.protocol.MessageReader;
import dev.pgmux.protocol.ProtocolException;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;

/**
 * A message from a server to a client (protocol docs, "Message Formats"), for the messages pgmux looks into or
 * writes itself; the frames it only forwards stay opaque. ErrorResponse and NoticeResponse are read and written
 * by {@link dev.pgmux.protocol.ErrorResponse}.
 *
 * <p>Components are not copied: a record holds the arrays it was given, and records with array components
 * compare them by identity. Their {@code toString} shows no array contents, so no secret reaches a log.
 */
public sealed interface BackendMessage permits Authentication, BackendKeyData, BindComplete, CloseComplete,
        CommandComplete, DataRow, EmptyQueryResponse, NegotiateProtocolVersion, NoData, ParameterStatus,
        ParseComplete, ReadyForQuery, RowDescription {

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
     * @return the message, or {@code null} when the type byte has no type here (ErrorResponse, NoticeResponse,
     *         CopyData...): such frames are passed on as they are, and only their header is checked
     * @throws ProtocolException (08P01) for a length word that does not match the frame or a malformed body
     */
    static BackendMessage decode(ByteBuf frame) throws ProtocolException {
        return switch (MessageReader.checkFrame(frame)) {
            case Authentication.TYPE -> Authentication.decode(frame);
            case BackendKeyData.TYPE -> BackendKeyData.decode(frame);
            case BindComplete.TYPE -> BindComplete.decode(frame);
            case CloseComplete.TYPE -> CloseComplete.decode(frame);
            case CommandComplete.TYPE -> CommandComplete.decode(frame);
            case DataRow.TYPE -> DataRow.decode(frame);
            case EmptyQueryResponse.TYPE -> EmptyQueryResponse.decode(frame);
            case NegotiateProtocolVersion.TYPE -> NegotiateProtocolVersion.decode(frame);
            case NoData.TYPE -> NoData.decode(frame);
            case ParameterStatus.TYPE -> ParameterStatus.decode(frame);
            case ParseComplete.TYPE -> ParseComplete.decode(frame);
            case ReadyForQuery.TYPE -> ReadyForQuery.decode(frame);
            case RowDescription.TYPE -> RowDescription.decode(frame);
            default -> null;
        };
    }
}
