package dev.pgmux.server;

import dev.pgmux.protocol.ProtocolException;
import dev.pgmux.protocol.SqlState;
import dev.pgmux.protocol.backend.ParameterStatus;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import java.util.HashMap;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Cuts what a server sends while logging in into whole messages (type, length, body), and keeps the
 * ParameterStatus values among them: the server's reported settings, which tell its role
 * ({@code in_hot_standby}, {@code default_transaction_read_only}).
 */
final class LoginReader {
    private static final Logger log = LoggerFactory.getLogger(LoginReader.class);
    /** Cap for one message during login (PostgreSQL caps authentication tokens far lower). */
    private static final int MAX_LOGIN_MESSAGE = 1 << 20;

    private final Inbox in = new Inbox();
    private final Map<String, String> parameters = new HashMap<>();

    void add(ByteBufAllocator alloc, ByteBuf bytes) {
        in.add(alloc, bytes);
    }

    /**
     * The next whole message (a retained slice the caller releases), or null until more bytes come.
     *
     * @throws ProtocolException for a length no login message may have
     */
    ByteBuf next() throws ProtocolException {
        ByteBuf buf = in.peek();
        if (buf == null || buf.readableBytes() < 5) {
            return null;
        }
        int length = buf.getInt(buf.readerIndex() + 1);
        if (length < 4 || length > MAX_LOGIN_MESSAGE) {
            throw new ProtocolException(SqlState.PROTOCOL_VIOLATION, "invalid message length from backend");
        }
        if (buf.readableBytes() < length + 1) {
            return null;
        }
        if (buf.getByte(buf.readerIndex()) == ParameterStatus.TYPE) {
            note(buf.slice(buf.readerIndex(), length + 1));
        }
        return buf.readRetainedSlice(length + 1);
    }

    /** Keeps a ParameterStatus value; a malformed one is passed on unread, for the client to judge. */
    private void note(ByteBuf frame) {
        try {
            ParameterStatus p = ParameterStatus.decode(frame);
            parameters.put(p.name(), p.value());
        } catch (ProtocolException e) {
            log.debug("malformed ParameterStatus from backend error={}", e.getMessage());
        }
    }

    Map<String, String> parameters() {
        return parameters;
    }

    /** Hands over the bytes after the last whole message (null if none). */
    ByteBuf rest() {
        return in.take();
    }

    void compact() {
        in.compact();
    }

    void release() {
        in.release();
    }
}
