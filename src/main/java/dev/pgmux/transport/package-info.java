/** The Netty transport: native epoll on Linux, NIO elsewhere. */
package dev.pgmux.transport;
