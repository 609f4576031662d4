/** The {@code pgmux} command line: flags, route specifications, signals. */
package dev.pgmux.cli;
