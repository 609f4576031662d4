/**
 * Cancel requests: pgmux hands clients its own random cancel keys and maps them to the backends' keys, so a
 * CancelRequest arriving on a new connection reaches the right backend.
 */
package dev.pgmux.cancel;
