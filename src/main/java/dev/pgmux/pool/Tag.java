package dev.pgmux.pool;

import dev.pgmux.protocol.StartupPacket.StartupMessage;
import java.util.Map;

/**
 * What a pooled server connection was logged in with: the startup parameters (the client's, as rewritten for the
 * backend) and the protocol version. Only clients with the same tag share a server, so that its session defaults
 * ({@code RESET}, {@code DISCARD ALL}) and reported settings are the ones their own startup would have given.
 */
public record Tag(Map<String, String> parameters, int protocolMinor) {
    public Tag {
        parameters = Map.copyOf(parameters);
    }

    public static Tag of(StartupMessage startup) {
        return new Tag(startup.parameters(), startup.minor());
    }
}
