package dev.pgmux;

/**
 * What the admin console's {@code RELOAD} and {@code SHUTDOWN} do; the server process gives its own (reload the
 * config file; shut down gracefully as on SIGTERM). An embedding application may give its own too.
 */
public interface AdminActions {

    /**
     * Reloads the configuration; returns a one-line summary of what changed.
     *
     * @throws Exception with a message for the console user when the new configuration was refused
     */
    String reload() throws Exception;

    /** Starts a graceful shutdown and returns at once. */
    void shutdown();
}
