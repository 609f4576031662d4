package dev.pgmux.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.pgmux.embedded.LocalPostgres;
import dev.pgmux.testing.Await;
import dev.pgmux.testing.TestServers;
import io.netty.bootstrap.Bootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollDomainDatagramChannel;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.unix.DomainDatagramPacket;
import io.netty.channel.unix.DomainSocketAddress;
import java.io.File;
import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The rolling restart the README describes, with pgmux as separate processes: while {@code pgbench -C} opens a new
 * connection for every transaction, over TCP and over the Unix socket, a second pgmux starts with the same
 * configuration and the first gets SIGTERM, twice over. No connection may be refused and no transaction fail. And
 * the readiness notification systemd's {@code Type=notify} waits for.
 */
class RollingRestartIT {
    static final String DATABASE = "rolling";
    static final Pattern PROCESSED = Pattern.compile("number of transactions actually processed: (\\d+)");

    static LocalPostgres pg;

    @TempDir
    Path dir;

    final List<ServerProcessIT.Pgmux> processes = new ArrayList<>();

    @BeforeAll
    static void servers() throws Exception {
        pg = TestServers.pg17();
        try (Connection c = pg.connect("postgres", TestServers.SUPERUSER, TestServers.SUPERUSER_PASSWORD);
             Statement s = c.createStatement()) {
            try (ResultSet rs = s.executeQuery("select 1 from pg_database where datname = '" + DATABASE + "'")) {
                if (!rs.next()) {
                    s.execute("create database " + DATABASE + " owner " + TestServers.ALICE);
                }
            }
        }
    }

    @AfterEach
    void stop() {
        for (ServerProcessIT.Pgmux p : processes) {
            p.kill();
            assertThat(p.output()).as("pgmux's output").doesNotContain("LEAK:");
        }
    }

    ServerProcessIT.Pgmux start(Path config) throws Exception {
        return start(config, Map.of());
    }

    ServerProcessIT.Pgmux start(Path config, Map<String, String> environment) throws Exception {
        ServerProcessIT.Pgmux p = ServerProcessIT.Pgmux.start(List.of("--config", config.toString(), "--no-watch"),
                environment);
        processes.add(p);
        p.awaitLine("started listen=");
        return p;
    }

    @Test
    void pgbenchReconnectingForEveryTransactionSeesNothingRefusedAcrossTwoRestarts() throws Exception {
        assumeTrue(onPath("pgbench"), "pgbench is not installed (Debian: postgresql-client)");
        int port = freePort();
        int adminPort = freePort();
        Path sockets = Files.createDirectory(dir.resolve("run"));
        Path config = dir.resolve("pgmux.yaml");
        Files.writeString(config, """
                listen: ["127.0.0.1:%d"]
                admin_listen: "127.0.0.1:%d"
                unix_socket_dir: %s
                timeouts: { shutdown: 20s }
                log: { level: info }
                routes:
                  alice: { host: %s, port: %d }
                """.formatted(port, adminPort, sockets, pg.host(), pg.port()));
        ServerProcessIT.Pgmux first = start(config);
        assertThat(first.output()).contains("unix=[" + sockets.resolve(".s.PGSQL." + port) + "]");
        String tcp = "host=127.0.0.1 port=" + port;
        String unix = "host=" + sockets + " port=" + port;
        Process init = bench(dir.resolve("init.log"), List.of("-i", "-s", "1", "-q"), tcp);
        assertThat(init.waitFor(120, TimeUnit.SECONDS) && init.exitValue() == 0)
                .as(Files.readString(dir.resolve("init.log"))).isTrue();

        // -T: long enough to outlast both restarts on a busy machine, with some time for the third process alone.
        List<String> reconnecting = List.of("-C", "-j", "1", "-T", "36", "-n");
        Process overTcp = bench(dir.resolve("tcp.log"), concat(reconnecting, "-c", "3"), tcp);
        Process overUnix = bench(dir.resolve("unix.log"), concat(reconnecting, "-c", "2"), unix);
        Thread.sleep(2000);

        ServerProcessIT.Pgmux second = start(config);
        assertThat(second.output()).contains("taking over " + sockets.resolve(".s.PGSQL." + port))
                .as("the admin address is the first's until it exits")
                .contains("admin_listen 127.0.0.1:" + adminPort + " is in use");
        Thread.sleep(1000);
        first.signal("TERM");
        assertThat(first.waitForExit()).as(first.output()).isZero();
        assertThat(first.output()).contains("leaving " + sockets.resolve(".s.PGSQL." + port));
        second.awaitLine("admin endpoints listening on /127.0.0.1:" + adminPort + " (taken over)");
        Thread.sleep(1000);

        ServerProcessIT.Pgmux third = start(config);
        Thread.sleep(1000);
        second.signal("TERM");
        assertThat(second.waitForExit()).as(second.output()).isZero();
        third.awaitLine("connection closed client=");

        for (Process p : List.of(overTcp, overUnix)) {
            assertThat(p.waitFor(90, TimeUnit.SECONDS)).isTrue();
        }
        for (String name : List.of("tcp.log", "unix.log")) {
            String out = Files.readString(dir.resolve(name));
            assertThat(out).as(name).contains("number of failed transactions: 0").doesNotContain("error")
                    .doesNotContain("aborted");
            Matcher processed = PROCESSED.matcher(out);
            assertThat(processed.find()).as(out).isTrue();
            assertThat(Long.parseLong(processed.group(1))).as(out).isPositive();
        }
        assertThat(overTcp.exitValue()).isZero();
        assertThat(overUnix.exitValue()).isZero();
        for (ServerProcessIT.Pgmux p : List.of(first, second, third)) {
            assertThat(p.output()).as("each process served some of the connections").contains("connection closed client=");
        }
        awaitReady(adminPort); // the third, once the second let go of the address

        third.signal("TERM");
        assertThat(third.waitForExit()).as(third.output()).isZero();
        assertThat(sockets.resolve(".s.PGSQL." + port)).as("the last one removes its socket").doesNotExist();
    }

    @Test
    void systemdIsToldWhenPgmuxListensAndWhenItStops() throws Exception {
        assumeTrue(Epoll.isAvailable(), "needs the native transport to receive Unix datagrams");
        Path config = dir.resolve("pgmux.yaml");
        Files.writeString(config, """
                listen: ["127.0.0.1:0"]
                routes:
                  alice: { host: %s, port: %d }
                """.formatted(pg.host(), pg.port()));
        Path notify = dir.resolve("notify");
        BlockingQueue<String> messages = new LinkedBlockingQueue<>();
        EventLoopGroup group = new MultiThreadIoEventLoopGroup(1, EpollIoHandler.newFactory());
        try {
            Channel socket = new Bootstrap().group(group).channel(EpollDomainDatagramChannel.class)
                    .handler(new SimpleChannelInboundHandler<DomainDatagramPacket>() {
                        @Override
                        protected void channelRead0(ChannelHandlerContext ctx, DomainDatagramPacket packet) {
                            messages.add(packet.content().toString(StandardCharsets.UTF_8));
                        }
                    }).bind(new DomainSocketAddress(notify.toString())).sync().channel();
            ServerProcessIT.Pgmux pgmux = start(config, Map.of("NOTIFY_SOCKET", notify.toString()));
            assertThat(messages.poll(10, TimeUnit.SECONDS)).startsWith("READY=1\nSTATUS=listening on [/127.0.0.1:");
            pgmux.signal("TERM");
            assertThat(messages.poll(10, TimeUnit.SECONDS)).isEqualTo("STOPPING=1");
            assertThat(pgmux.waitForExit()).isZero();
            socket.close().sync();
        } finally {
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS).sync();
        }
    }

    // ---------------------------------------------------------------- helpers

    /** pgbench as alice in {@link #DATABASE}, its output in {@code log} (a file: no pipe left open here). */
    static Process bench(Path log, List<String> args, String conninfo) throws IOException {
        List<String> command = new ArrayList<>(List.of("pgbench"));
        command.addAll(args);
        command.add(conninfo + " user=" + TestServers.ALICE + " dbname=" + DATABASE + " sslmode=disable"
                + " connect_timeout=10");
        ProcessBuilder pb = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile())
                .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")));
        pb.environment().put("PGPASSWORD", TestServers.ALICE_PASSWORD);
        return pb.start();
    }

    static List<String> concat(List<String> args, String... more) {
        List<String> all = new ArrayList<>(args);
        all.addAll(List.of(more));
        return all;
    }

    static String http(int port, String path) {
        try {
            HttpResponse<String> r = ServerProcessIT.HTTP.send(HttpRequest.newBuilder(
                            URI.create("http://127.0.0.1:" + port + path)).timeout(Duration.ofSeconds(5)).build(),
                    HttpResponse.BodyHandlers.ofString());
            return r.statusCode() + " " + r.body().trim();
        } catch (Exception e) {
            return e.toString();
        }
    }

    static boolean onPath(String tool) {
        for (String d : System.getenv().getOrDefault("PATH", "").split(":")) {
            if (!d.isEmpty() && Files.isExecutable(Path.of(d, tool))) {
                return true;
            }
        }
        return false;
    }

    static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }

    static void awaitReady(int port) {
        Await.until(Duration.ofSeconds(20), () -> "readyz on " + port, () -> http(port, "/readyz").startsWith("200"));
    }
}
