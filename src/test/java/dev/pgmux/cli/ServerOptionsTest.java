package dev.pgmux.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.pgmux.BackendConfig;
import dev.pgmux.config.ConfigException;
import dev.pgmux.config.Setting;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import picocli.CommandLine;

/** {@code --route USER=BACKEND}: the flag names the user; the backend is the config's to read. */
class ServerOptionsTest {

    static ServerOptions routes(String... routes) {
        ServerOptions o = new ServerOptions();
        o.routes = List.of(routes);
        return o;
    }

    @Test
    void eachRouteSetsTheRouteOfItsUser() throws Exception {
        ServerOptions o = routes("alice=postgres@10.0.0.1:5432/app", "bob=@db:6432/");
        assertThat(o.settings()).containsExactly(
                Setting.of("--route", "postgres@10.0.0.1:5432/app", "routes", "alice"),
                Setting.of("--route", "@db:6432/", "routes", "bob"));
        Map<String, BackendConfig> r = o.source(Map.of()).load().routes();
        assertThat(r.get("alice")).isEqualTo(new BackendConfig("10.0.0.1", 5432, "postgres", "app", Map.of(), null,
                null));
        assertThat(r.get("bob")).as("blank user and database: the client's").isEqualTo(BackendConfig.of("db", 6432,
                null));
    }

    @ParameterizedTest
    @ValueSource(strings = {"", "alice", "=db:5432"})
    void aRouteNeedsAUser(String route) {
        assertThatThrownBy(() -> routes(route).settings()).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("USER=");
    }

    @ParameterizedTest
    @ValueSource(strings = {"alice=", "alice=   ", "alice=db:port", "alice=db:0", "alice=db?sslmode=sometimes"})
    void aBadBackendIsAConfigErrorNamingTheFlag(String route) {
        assertThatThrownBy(() -> routes(route).source(Map.of()).load()).isInstanceOfSatisfying(ConfigException.class,
                e -> assertThat(e.errors()).allSatisfy(err -> assertThat(err.origin()).isEqualTo("--route")));
    }

    @Test
    void unixSocketAndProxyProtocolFlags() throws Exception {
        ServerOptions o = new ServerOptions();
        o.unixSocketDir = "/run/pgmux";
        o.unixSocketMode = "0770";
        o.proxyProtocolTrusted = List.of("10.0.0.0/8", "192.168.1.7");
        assertThat(o.settings()).containsExactly(
                Setting.of("--unix-socket-dir", "/run/pgmux", "unix_socket_dir"),
                Setting.of("--unix-socket-mode", "0770", "unix_socket_mode"),
                Setting.of("--proxy-protocol-trusted", List.of("10.0.0.0/8", "192.168.1.7"), "proxy_protocol",
                        "trusted"));
        o.routes = List.of("a=h:1");
        var c = o.source(Map.of()).load();
        assertThat(c.unixSocketDir()).hasToString("/run/pgmux");
        assertThat(c.unixSocketMode()).isEqualTo(0770);
        assertThat(c.proxyProtocol().trusted()).hasSize(2);
    }

    @Test
    void theMaxHostConnectionsFlagSetsItsLimit() throws Exception {
        Main main = new Main();
        new CommandLine(main).parseArgs("--route", "alice=db", "--max-host-connections", "40");
        ServerOptions o = main.options;
        assertThat(o.settings()).contains(Setting.of("--max-host-connections", 40, "limits", "max_host_connections"));
        assertThat(o.source(Map.of("PGMUX_MAX_HOST_CONNECTIONS", "7")).load().limits().maxHostConnections())
                .as("the flag wins over the environment").isEqualTo(40);
        o.maxHostConnections = -1;
        assertThatThrownBy(() -> o.source(Map.of()).load()).isInstanceOfSatisfying(ConfigException.class,
                e -> assertThat(e.errors()).singleElement().hasToString("--max-host-connections:"
                        + " limits.max_host_connections: must be 0 (unlimited) or more, not -1"));
    }

    @Test
    void theClientCaFlagSetsTlsClientCa() {
        ServerOptions o = new ServerOptions();
        o.tlsClientCa = "clients.crt";
        assertThat(o.settings()).containsExactly(Setting.of("--tls-client-ca", "clients.crt", "tls", "client_ca"));
    }
}
