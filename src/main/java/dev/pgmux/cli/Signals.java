package dev.pgmux.cli;

import java.lang.reflect.InvocationHandler;
import java.lang.reflect.Method;
import java.lang.reflect.Proxy;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * POSIX signal handlers through {@code sun.misc.Signal} (module {@code jdk.unsupported}), the only way a JVM
 * can react to SIGHUP, or to a second SIGTERM while it shuts down. It is reached by reflection: a JVM without
 * it (or started with {@code -Xrs}) just gets no handler, and the build gets no warning about internal API.
 *
 * <p>A handler replaces the JVM's own: after {@code handle("TERM", ...)} a SIGTERM no longer runs shutdown
 * hooks by itself. Each signal is delivered on a fresh thread of the JVM's, never on a Netty event loop.
 */
final class Signals {
    private static final Logger log = LoggerFactory.getLogger(Signals.class);

    private Signals() {
    }

    /** Signal numbers on Linux (and the BSDs) for the signals pgmux handles, for the shell-style exit code 128+n. */
    static int number(String name) {
        return switch (name) {
            case "HUP" -> 1;
            case "INT" -> 2;
            case "TERM" -> 15;
            default -> throw new IllegalArgumentException("unhandled signal " + name);
        };
    }

    /**
     * Runs {@code handler} on each {@code SIG<name>} ({@code HUP}, {@code INT}, {@code TERM}).
     *
     * @return false if this JVM does not let pgmux handle that signal (the default action stays)
     */
    static boolean handle(String name, Runnable handler) {
        try {
            Class<?> signalClass = Class.forName("sun.misc.Signal");
            Class<?> handlerInterface = Class.forName("sun.misc.SignalHandler");
            Object signal = signalClass.getConstructor(String.class).newInstance(name);
            InvocationHandler invocation = (Object proxy, Method method, Object[] args) -> switch (method.getName()) {
                case "handle" -> {
                    handler.run();
                    yield null;
                }
                case "hashCode" -> System.identityHashCode(proxy);
                case "equals" -> proxy == args[0];
                case "toString" -> "pgmux SIG" + name + " handler";
                default -> throw new UnsupportedOperationException(method.getName());
            };
            Object signalHandler = Proxy.newProxyInstance(Signals.class.getClassLoader(),
                    new Class<?>[] {handlerInterface}, invocation);
            signalClass.getMethod("handle", signalClass, handlerInterface).invoke(null, signal, signalHandler);
            return true;
        } catch (ReflectiveOperationException | LinkageError | RuntimeException e) {
            Throwable cause = e.getCause() != null ? e.getCause() : e;
            log.debug("cannot handle SIG{}: {}", name, cause.toString());
            return false;
        }
    }
}
