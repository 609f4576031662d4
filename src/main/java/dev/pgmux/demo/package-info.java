/**
 * {@code pgmux demo}: pgmux in front of two throwaway PostgreSQL servers, with a user routed to each, so that a
 * newcomer sees routing work with one command and a psql line.
 */
package dev.pgmux.demo;
