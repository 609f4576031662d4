package dev.pgmux.reliability;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.classic.spi.IThrowableProxy;
import ch.qos.logback.classic.spi.StackTraceElementProxy;
import ch.qos.logback.core.AppenderBase;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import org.slf4j.LoggerFactory;

/**
 * Collects every log event while it is open, with the rendered text a log file would hold (message, arguments,
 * MDC, exception chain with messages). Optionally lowers logger levels for the time it is open, so that even
 * debug output is checked.
 */
final class LogCapture extends AppenderBase<ILoggingEvent> implements AutoCloseable {
    /** One event as text, with its level and logger. */
    record Event(Level level, String logger, String text, boolean hasThrowable) {
    }

    private final List<Event> events = new CopyOnWriteArrayList<>();
    private final Map<Logger, Level> previousLevels = new HashMap<>();
    private final Logger root;

    private LogCapture(Map<String, Level> levels) {
        LoggerContext ctx = (LoggerContext) LoggerFactory.getILoggerFactory();
        setContext(ctx);
        setName("reliability-capture");
        root = ctx.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME);
        levels.forEach((name, level) -> {
            Logger l = ctx.getLogger(name);
            previousLevels.put(l, l.getLevel());
            l.setLevel(level);
        });
        start();
        root.addAppender(this);
    }

    /** Captures what the configured levels let through. */
    static LogCapture open() {
        return new LogCapture(Map.of());
    }

    /** Captures with these loggers set to these levels until closed. */
    static LogCapture withLevels(Map<String, Level> levels) {
        return new LogCapture(levels);
    }

    @Override
    protected void append(ILoggingEvent e) {
        StringBuilder text = new StringBuilder();
        text.append(e.getFormattedMessage());
        if (e.getArgumentArray() != null) {
            for (Object arg : e.getArgumentArray()) {
                text.append(' ').append(arg);
            }
        }
        e.getMDCPropertyMap().forEach((k, v) -> text.append(' ').append(k).append('=').append(v));
        for (IThrowableProxy t = e.getThrowableProxy(); t != null; t = t.getCause()) {
            text.append("\n").append(t.getClassName()).append(": ").append(t.getMessage());
            for (StackTraceElementProxy frame : t.getStackTraceElementProxyArray()) {
                text.append("\n\tat ").append(frame.getSTEAsString());
            }
        }
        events.add(new Event(e.getLevel(), e.getLoggerName(), text.toString(), e.getThrowableProxy() != null));
    }

    void clear() {
        events.clear();
    }

    List<Event> events() {
        return new ArrayList<>(events);
    }

    /** Everything captured, one event per line, for assertion messages and greps. */
    String text() {
        StringBuilder sb = new StringBuilder();
        for (Event e : events) {
            sb.append(e.level()).append(' ').append(e.logger()).append(" - ").append(e.text()).append('\n');
        }
        return sb.toString();
    }

    @Override
    public void close() {
        root.detachAppender(this);
        stop();
        previousLevels.forEach(Logger::setLevel);
    }
}
