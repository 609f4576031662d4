package dev.pgmux.protocol.backend;

import dev.pgmux.protocol.MessageReader;
import dev.pgmux.protocol.ProtocolException;
import dev.pgmux.protocol.Wire;
import io.netty.buffer.ByteBuf;
import java.util.ArrayList;
import java.util.List;

/**
 * NegotiateProtocolVersion: the newest minor version the server supports and the {@code _pq_.} options of the
 * StartupMessage it did not recognize.
 *
 * <p>The docs call the first field the "newest minor protocol version", but PostgreSQL writes the whole version
 * code ({@code 3 << 16 | minor}) and libpq reads it so: pgmux writes what PostgreSQL writes, and reads the low 16
 * bits whichever of the two a server wrote.
 */
public record NegotiateProtocolVersion(int newestMinor, List<String> unrecognized) implements BackendMessage {
    public static final byte TYPE = 'v';

    public NegotiateProtocolVersion {
        if (newestMinor < 0 || newestMinor > 0xFFFF) {
            throw new IllegalArgumentException("minor version out of range: " + newestMinor);
        }
        unrecognized = List.copyOf(unrecognized);
        unrecognized.forEach(o -> Wire.checkCString(o, "protocol option"));
    }

    @Override
    public void encode(ByteBuf out) {
        int start = Wire.beginMessage(out, TYPE);
        out.writeInt((3 << 16) | newestMinor).writeInt(unrecognized.size());
        for (String option : unrecognized) {
            Wire.writeCString(out, option);
        }
        Wire.endMessage(out, start);
    }

    public static NegotiateProtocolVersion decode(ByteBuf frame) throws ProtocolException {
        MessageReader in = MessageReader.open(frame, TYPE, "NegotiateProtocolVersion");
        int minor = in.readInt32() & 0xFFFF; // a version code (3 << 16 | minor), see above
        int n = in.checkCount(in.readInt32(), 1, "option");
        List<String> options = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            options.add(in.readCString());
        }
        in.end();
        return new NegotiateProtocolVersion(minor, options);
    }
}
