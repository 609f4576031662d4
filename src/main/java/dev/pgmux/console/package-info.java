/**
 * The admin console's language, apart from the sessions that speak it: its commands ({@link
 * dev.pgmux.console.ConsoleCommand}), the tables its {@code SHOW} commands answer with, in PgBouncer's column names
 * and types ({@link dev.pgmux.console.Table}, {@link dev.pgmux.console.Shows}), and the holds that {@code PAUSE},
 * {@code KILL} and {@code DISABLE} put on backends ({@link dev.pgmux.console.Holds}).
 */
package dev.pgmux.console;
