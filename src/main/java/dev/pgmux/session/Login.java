package dev.pgmux.session;

import dev.pgmux.BackendConfig;
import dev.pgmux.protocol.ErrorResponse;
import dev.pgmux.protocol.SqlState;
import dev.pgmux.protocol.StartupPacket;
import dev.pgmux.protocol.StartupPacket.StartupMessage;
import io.netty.buffer.ByteBufUtil;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A client's login as far as pgmux knows it: its startup message, when routing began (real logins and hidden
 * unknown users are timed from there) and the TLS SNI host name it sent, if any.
 */
record Login(StartupMessage startup, String sniHost, long startNanos) {
    /** The error for a startup message that {@link #tooLongFor} a backend. */
    static final ErrorResponse TOO_LONG = ErrorResponse.fatal(SqlState.PROTOCOL_VIOLATION,
            "invalid length of startup packet", "The startup packet is longer than " + StartupPacket.MAX_LENGTH
                    + " bytes once rewritten for the server.");

    String user() {
        return startup.user();
    }

    /**
     * The startup message for the backend: the route's user and database in place of the client's (the client's
     * database defaults to its user name, as PostgreSQL defaults it, so a renamed user keeps the database it asked
     * for), every other client parameter kept in its order, then the route's parameters over them.
     *
     * @param protocolMinor the version agreed with the client so far
     */
    StartupMessage forBackend(BackendConfig backend, int protocolMinor) {
        Map<String, String> params = new LinkedHashMap<>();
        params.put("user", backend.user() != null ? backend.user() : startup.user());
        params.put("database", backend.database() != null ? backend.database() : startup.database());
        startup.parameters().forEach(params::putIfAbsent);
        params.putAll(backend.parameters());
        // _pq_. options are not passed on: pgmux does not know what they would change in the stream it relays.
        return new StartupMessage(3, protocolMinor, params, List.of());
    }

    /** Whether the backend sees another user name than the client sent. */
    boolean renamedBy(BackendConfig backend) {
        return backend.user() != null && !backend.user().equals(startup.user());
    }

    /**
     * Whether the startup message for this backend is longer than a server takes (PostgreSQL's
     * MAX_STARTUP_PACKET_LENGTH): a client packet just under the cap can grow past it when rewritten.
     */
    boolean tooLongFor(BackendConfig backend) {
        StartupMessage m = forBackend(backend, 0);
        int length = 4 + 4 + 1;
        for (Map.Entry<String, String> p : m.parameters().entrySet()) {
            length += ByteBufUtil.utf8Bytes(p.getKey()) + 1 + ByteBufUtil.utf8Bytes(p.getValue()) + 1;
        }
        return length > StartupPacket.MAX_LENGTH;
    }

    /** The client's user name for logs: control characters escaped, so a client cannot forge log lines. */
    String logUser() {
        return escape(startup.user());
    }

    static String escape(String user) {
        StringBuilder sb = null;
        for (int i = 0; i < user.length(); i++) {
            char c = user.charAt(i);
            if (c < 0x20 || c == 0x7f) {
                if (sb == null) {
                    sb = new StringBuilder(user.length() + 8).append(user, 0, i);
                }
                sb.append(String.format("\\x%02x", (int) c));
            } else if (sb != null) {
                sb.append(c);
            }
        }
        return sb == null ? user : sb.toString();
    }
}
