package dev.pgmux.cli;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.encoder.JsonEncoder;
import ch.qos.logback.classic.encoder.PatternLayoutEncoder;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.ConsoleAppender;
import ch.qos.logback.core.encoder.Encoder;
import dev.pgmux.config.ServerConfig;
import org.slf4j.ILoggerFactory;
import org.slf4j.LoggerFactory;

/**
 * Sets Logback up from the config's {@code log} section: level, and text or JSON lines on stderr. Done in code
 * rather than with one XML file per format, so that a reload can switch either without a restart. Before this
 * runs, {@code logback.xml} (text, info) is in effect.
 */
final class Logging {
    /** The same layout as {@code logback.xml}. */
    static final String TEXT_PATTERN = "%d{yyyy-MM-dd'T'HH:mm:ss.SSSXXX} %-5level %logger{0} - %msg%n";

    private Logging() {
    }

    static void apply(ServerConfig.Log config) {
        ILoggerFactory factory = LoggerFactory.getILoggerFactory();
        if (!(factory instanceof LoggerContext context)) {
            return; // another SLF4J backend on the class path: it has its own configuration
        }
        Encoder<ILoggingEvent> encoder = switch (config.format()) {
            case JSON -> {
                // One object per line: timestamp, level, thread, logger, the formatted message, and a stack
                // trace when there is one. Raw message templates and argument arrays would only duplicate it.
                JsonEncoder json = new JsonEncoder();
                json.setWithSequenceNumber(false);
                json.setWithNanoseconds(false);
                json.setWithContext(false);
                json.setWithMessage(false);
                json.setWithArguments(false);
                json.setWithFormattedMessage(true);
                yield json;
            }
            case TEXT -> {
                PatternLayoutEncoder text = new PatternLayoutEncoder();
                text.setPattern(TEXT_PATTERN);
                yield text;
            }
        };
        encoder.setContext(context);
        encoder.start();
        ConsoleAppender<ILoggingEvent> appender = new ConsoleAppender<>();
        appender.setContext(context);
        appender.setName("STDERR");
        appender.setTarget("System.err");
        appender.setEncoder(encoder);
        appender.start();

        Level level = Level.toLevel(config.level(), Level.INFO);
        Logger root = context.getLogger(Logger.ROOT_LOGGER_NAME);
        // Netty's own INFO/DEBUG lines are about its internals, not about pgmux's connections.
        context.getLogger("io.netty").setLevel(level.isGreaterOrEqual(Level.WARN) ? level : Level.WARN);
        root.setLevel(level);
        root.detachAndStopAllAppenders();
        root.addAppender(appender);
    }
}
