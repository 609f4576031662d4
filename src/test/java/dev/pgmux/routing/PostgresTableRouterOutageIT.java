package dev.pgmux.routing;

import static dev.pgmux.routing.PostgresTableRouterIT.awaitWithin;
import static dev.pgmux.routing.PostgresTableRouterIT.request;
import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.AppenderBase;
import dev.pgmux.BackendConfig;
import dev.pgmux.embedded.LocalPostgres;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

/**
 * The table router through control-plane outages, on a PostgreSQL server of its own that the tests stop,
 * restart, lock the router out of and freeze: routes keep being served from memory, and whatever changed in
 * the table meanwhile appears once the router is back — also changes that no notification ever reported.
 * Nothing the router logs on the way contains the DSN's password.
 */
class PostgresTableRouterOutageIT {
    static final String DATABASE = PostgresTableRouterIT.DATABASE;
    static final String ROUTER_ROLE = PostgresTableRouterIT.ROUTER_ROLE;
    static final String ROUTER_PASSWORD = PostgresTableRouterIT.ROUTER_PASSWORD;
    static final String TABLE = "pgmux_routes";
    /** Stopped-server detection plus reconnect with the test's short backoff, with room for a slow machine. */
    static final Duration RECOVERY = Duration.ofSeconds(15);

    static LocalPostgres control;

    PostgresTableRouter router;
    final Logs logs = new Logs();

    @BeforeAll
    static void startControlPlane() {
        control = LocalPostgres.builder().version("17").superuserPassword("outage-super-pw")
                .user(ROUTER_ROLE, ROUTER_PASSWORD, "scram-sha-256")
                .database(DATABASE, null)
                .start();
    }

    @AfterAll
    static void stopControlPlane() {
        if (control != null) {
            control.close();
        }
    }

    @BeforeEach
    void table() throws SQLException {
        if (!control.isRunning()) {
            control.restart();
        }
        PostgresTableRouter.initTable(PostgresTableRouterIT.superuserDsn(control), TABLE);
        sql("TRUNCATE " + TABLE, "GRANT SELECT ON " + TABLE + " TO " + ROUTER_ROLE, "ALTER ROLE " + ROUTER_ROLE + " LOGIN",
                "INSERT INTO " + TABLE + "(username, host, port) VALUES ('alice', '10.0.0.1', 5432), ('bob', '10.0.0.2', 5432)");
        logs.start();
        router = PostgresTableRouter.builder().dsn(PostgresTableRouterIT.routerDsn(control))
                .reconnectDelays(Duration.ofMillis(100), Duration.ofSeconds(1))
                .heartbeat(Duration.ofSeconds(1))
                .build().start();
    }

    @AfterEach
    void close() {
        if (router != null) {
            router.close();
        }
        logs.stop();
        assertThat(logs.lines()).as("router logs").noneMatch(line -> line.contains(ROUTER_PASSWORD));
    }

    @Test
    void aStoppedControlPlaneLeavesRoutesServedAndTheRouterCatchesUpAfterRestart() throws Exception {
        assertThat(router.listening()).isTrue();

        control.stop();
        awaitWithin(RECOVERY, () -> !router.listening());
        for (int i = 0; i < 20; i++) {
            assertThat(router.route(request("alice"))).isEqualTo(BackendConfig.of("10.0.0.1", 5432, null));
            assertThat(router.route(request("bob"))).isEqualTo(BackendConfig.of("10.0.0.2", 5432, null));
            Thread.sleep(50); // across several failed reconnect attempts
        }

        control.restart(); // same port
        sql("INSERT INTO " + TABLE + "(username, host, port) VALUES ('carol', '10.0.0.3', 5432)",
                "UPDATE " + TABLE + " SET port = 6000 WHERE username = 'alice'",
                "DELETE FROM " + TABLE + " WHERE username = 'bob'");

        awaitWithin(RECOVERY, () -> router.routes().containsKey("carol") && !router.routes().containsKey("bob")
                && router.routes().get("alice").port() == 6000);
        awaitWithin(RECOVERY, router::listening);
        assertThat(logs.lines()).anyMatch(line -> line.startsWith("WARN routing table connection lost"))
                .anyMatch(line -> line.startsWith("WARN routing table reconnect failed"))
                .anyMatch(line -> line.startsWith("INFO routing table reconnected"));

        // Following again: a change now arrives by notification.
        sql("INSERT INTO " + TABLE + "(username, host, port) VALUES ('dave', '10.0.0.4', 5432)");
        awaitWithin(PostgresTableRouterIT.WITHIN, () -> router.routes().containsKey("dave"));
    }

    @Test
    void changesMadeWhileTheRouterIsLockedOutAppearWhenItGetsBackIn() throws Exception {
        // The router cannot log in again, so these changes are never notified to it: only the reload after the
        // reconnect can bring them.
        sql("ALTER ROLE " + ROUTER_ROLE + " NOLOGIN",
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '" + ROUTER_ROLE + "'");
        awaitWithin(RECOVERY, () -> !router.listening());
        sql("INSERT INTO " + TABLE + "(username, host, port) VALUES ('carol', '10.0.0.3', 5432)",
                "UPDATE " + TABLE + " SET host = '10.0.0.22' WHERE username = 'bob'",
                "DELETE FROM " + TABLE + " WHERE username = 'alice'");
        awaitWithin(RECOVERY, () -> logs.lines().stream().anyMatch(line -> line.contains("reconnect failed")));
        assertThat(router.routes()).as("served from memory while locked out").containsOnlyKeys("alice", "bob");
        assertThat(router.route(request("alice")).host()).isEqualTo("10.0.0.1");

        sql("ALTER ROLE " + ROUTER_ROLE + " LOGIN");

        awaitWithin(RECOVERY, () -> router.routes().keySet().equals(Set.of("bob", "carol")));
        assertThat(router.route(request("bob")).host()).isEqualTo("10.0.0.22");
        assertThat(logs.lines()).anyMatch(line -> line.contains("password authentication failed")
                || line.contains("not permitted to log in"));
    }

    @Test
    void aFrozenControlPlaneBackendIsNoticedByTheHeartbeat() throws Exception {
        // SIGSTOP on the router's backend: its socket stays open but nothing answers, like a peer behind a
        // network partition. Only the heartbeat's socket timeout can tell.
        List<Long> before = routerBackends();
        assertThat(before).as("the router's one backend").hasSize(1);
        long pid = before.getFirst();
        signal("STOP", pid);
        try {
            awaitWithin(RECOVERY, () -> !router.listening());
            assertThat(router.route(request("alice")).host()).isEqualTo("10.0.0.1");
            awaitWithin(RECOVERY, router::listening);
            assertThat(routerBackends()).as("the frozen backend and the new one").hasSize(2).contains(pid);
        } finally {
            signal("CONT", pid);
        }
        sql("UPDATE " + TABLE + " SET port = 7000 WHERE username = 'alice'");
        awaitWithin(PostgresTableRouterIT.WITHIN, () -> router.routes().get("alice").port() == 7000);
    }

    // ---- helpers -----------------------------------------------------------------------------------------

    static void sql(String... statements) {
        control.execute(DATABASE, statements);
    }

    /** The pids of the router role's backends. */
    static List<Long> routerBackends() throws SQLException {
        List<Long> pids = new ArrayList<>();
        try (Connection c = control.connect(DATABASE, LocalPostgres.SUPERUSER, control.superuserPassword());
             Statement st = c.createStatement();
             ResultSet rs = st.executeQuery("SELECT pid FROM pg_stat_activity WHERE usename = '" + ROUTER_ROLE + "'")) {
            while (rs.next()) {
                pids.add(rs.getLong(1));
            }
        }
        return pids;
    }

    static void signal(String signal, long pid) throws Exception {
        Process kill = new ProcessBuilder("kill", "-" + signal, Long.toString(pid)).inheritIO().start();
        assertThat(kill.waitFor(10, TimeUnit.SECONDS)).isTrue();
        assertThat(kill.exitValue()).as("kill -" + signal).isZero();
    }

    /** The router's log lines as "LEVEL message", rendered as a log file would hold them. */
    static final class Logs extends AppenderBase<ILoggingEvent> {
        private final List<String> lines = new CopyOnWriteArrayList<>();
        private final Logger logger = ((LoggerContext) LoggerFactory.getILoggerFactory())
                .getLogger(PostgresTableRouter.class);

        @Override
        public void start() {
            lines.clear();
            setContext(logger.getLoggerContext());
            super.start();
            logger.addAppender(this);
        }

        @Override
        public void stop() {
            logger.detachAppender(this);
            super.stop();
        }

        @Override
        protected void append(ILoggingEvent event) {
            StringBuilder line = new StringBuilder(event.getLevel() + " " + event.getFormattedMessage());
            for (var cause = event.getThrowableProxy(); cause != null; cause = cause.getCause()) {
                line.append(" | ").append(cause.getClassName()).append(": ").append(cause.getMessage());
            }
            lines.add(line.toString());
        }

        List<String> lines() {
            return List.copyOf(lines);
        }
    }
}
