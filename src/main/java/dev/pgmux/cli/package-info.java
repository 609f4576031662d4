/** The {@code pgmux} command line: flags, the {@code check} command, signals, reloads and logging setup. */
package dev.pgmux.cli;
