package dev.pgmux.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.pgmux.PoolConfig;
import dev.pgmux.PoolMode;
import dev.pgmux.ProxyServer;
import dev.pgmux.config.ConfigSource;
import dev.pgmux.config.ServerConfig;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A reload into a proxy that is not started (no sockets): what it applies. The auth file is read again on every
 * reload, and a change to it alone is a reason to reload.
 */
class ConfigReloaderTest {
    static final String CONFIG = """
            listen: ["127.0.0.1:0"]
            auth_file: users.txt
            routes:
              ann: { host: db, auth: proxy }
            """;

    @TempDir
    Path dir;

    ConfigReloader reloader;

    @AfterEach
    void close() {
        if (reloader != null) {
            reloader.closeRouters();
        }
    }

    @Test
    void sighupReadsTheAuthFileAgain() throws Exception {
        Path users = write("users.txt", "\"ann\" \"md5" + "0".repeat(32) + "\"\n");
        ProxyServer proxy = start(write("pgmux.yaml", CONFIG));
        assertThat(proxy.authFile().lookup("ann")).contains("md5" + "0".repeat(32));

        write("users.txt", "\"ann\" \"md5" + "1".repeat(32) + "\"\n\"bob\" \"pw\"\n");
        reloader.reload("SIGHUP");
        assertThat(proxy.authFile().lookup("ann")).as("the config file did not change").contains("md5" + "1".repeat(32));
        assertThat(proxy.authFile().lookup("bob")).contains("pw");
        assertThat(reloader.running().authFile()).isEqualTo(proxy.authFile());

        // A broken auth file is a broken config: refused, the running users stay.
        write("users.txt", "\"ann\" \"pw\"\nbob pw\n");
        reloader.reload("SIGHUP");
        assertThat(proxy.authFile().lookup("bob")).contains("pw");

        // Gone from the config, gone from the proxy.
        write("pgmux.yaml", "listen: [\"127.0.0.1:0\"]\nroutes: { ann: db }\n");
        reloader.reload("SIGHUP");
        assertThat(proxy.authFile()).isNull();
        assertThat(users).exists();
    }

    @Test
    void aChangedAuthFileIsReloadedWithoutASignal() throws Exception {
        Path users = write("users.txt", "\"ann\" \"first\"\n");
        ProxyServer proxy = start(write("pgmux.yaml", CONFIG));
        reloader.pollFile(); // the first poll looks at the config file once
        assertThat(proxy.authFile().lookup("ann")).contains("first");

        write("users.txt", "\"ann\" \"other\"\n");
        // Same size: the modification time tells.
        Files.setLastModifiedTime(users, FileTime.from(Instant.now().plusSeconds(5)));
        reloader.pollFile();
        assertThat(proxy.authFile().lookup("ann")).contains("other");

        ServerConfig before = reloader.running();
        reloader.pollFile();
        assertThat(reloader.running()).as("nothing changed: no reload").isSameAs(before);
    }

    /** A route's changed pool keys and max_host_connections are applied as other route keys and limits are. */
    @Test
    void poolKeysAndMaxHostConnectionsReload() throws Exception {
        write("users.txt", "\"ann\" \"pw\"\n");
        start(write("pgmux.yaml", CONFIG.replace("auth: proxy }", "auth: proxy, pool: transaction, pool_size: 8 }")));
        assertThat(reloader.running().routes().get("ann").pool().size()).isEqualTo(8);

        write("pgmux.yaml", CONFIG.replace("auth: proxy }", "auth: proxy, pool: transaction, pool_size: 16 }")
                + "limits: { max_host_connections: 50 }\n");
        reloader.reload("SIGHUP");
        assertThat(reloader.running().routes().get("ann").pool()).isEqualTo(PoolConfig.builder()
                .mode(PoolMode.TRANSACTION).size(16).build());
        assertThat(reloader.running().limits().maxHostConnections()).isEqualTo(50);

        // A pool that cannot be is a config that cannot be: refused, the running one stays.
        write("pgmux.yaml", CONFIG.replace("auth: proxy }", "pool: transaction }"));
        reloader.reload("SIGHUP");
        assertThat(reloader.running().routes().get("ann").pool().size()).isEqualTo(16);
    }

    private ProxyServer start(Path config) throws Exception {
        ConfigSource source = new ConfigSource(config, Map.of(), List.of());
        String text = source.readFile();
        ServerConfig running = source.load(text);
        LiveRouter routers = LiveRouter.start(running.routing());
        ProxyServer proxy = new ProxyServer(running.listen(), routers.router()).withAuthFile(running.authFile());
        reloader = new ConfigReloader(source, running, text, proxy, routers);
        return proxy;
    }

    private Path write(String name, String text) throws Exception {
        return Files.writeString(dir.resolve(name), text);
    }
}
