/** Logging that a peer cannot turn against the log: lines limited by rate. */
package dev.pgmux.log;
