/**
 * The {@code pgmux} command line: flags, the {@code check}, {@code init-routing-table} and {@code passwd} commands,
 * signals, reloads and logging setup.
 */
package dev.pgmux.cli;
