/**
 * Throwaway real PostgreSQL servers on 127.0.0.1 — unpacked from the build's binaries jars, initialised in a
 * temporary directory and removed afterwards — for the integration tests and the {@code pgmux demo} command.
 */
package dev.pgmux.embedded;
