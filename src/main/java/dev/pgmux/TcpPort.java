package dev.pgmux;

/**
 * TCP port numbers: the one place their range is checked. A server is reached at 1 to 65535; 0 is only for
 * listening, where it asks the system for a free port.
 */
public final class TcpPort {
    /** The largest TCP port number (ports are 16-bit, RFC 9293 section 3.1). */
    public static final int MAX = 65535;

    private TcpPort() {
    }

    /** Whether a server can be reached at {@code port}: 1 to 65535. */
    public static boolean isValid(int port) {
        return port >= 1 && port <= MAX;
    }

    /** Whether a server can listen on {@code port}: 0 (any free port) to 65535. */
    public static boolean isValidToListen(int port) {
        return port >= 0 && port <= MAX;
    }

    /**
     * Reads a port to connect to.
     *
     * @throws IllegalArgumentException if {@code text} is not a number from 1 to 65535; the message reads after
     *                                  the name of what was read ({@code port: must be between 1 and 65535, not 0})
     */
    public static int parse(String text) {
        int port;
        try {
            port = Integer.parseInt(text.strip());
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("must be a number between 1 and " + MAX + ", not \"" + text + "\"");
        }
        return check(port);
    }

    /** @throws IllegalArgumentException if {@code port} is not from 1 to 65535 (message as {@link #parse}) */
    public static int check(int port) {
        if (!isValid(port)) {
            throw new IllegalArgumentException("must be between 1 and " + MAX + ", not " + port);
        }
        return port;
    }
}
