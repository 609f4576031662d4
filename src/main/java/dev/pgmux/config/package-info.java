/**
 * The configuration file and its overrides: reads YAML, applies environment variables and flags on top, and
 * validates the result into a {@link dev.pgmux.config.ServerConfig} whose errors name the key and the line.
 */
package dev.pgmux.config;
