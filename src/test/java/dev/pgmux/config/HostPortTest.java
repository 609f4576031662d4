package dev.pgmux.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class HostPortTest {

    @Test
    void readsTheListenForms() {
        assertThat(HostPort.parse("127.0.0.1:5434")).isEqualTo(new HostPort("127.0.0.1", 5434));
        assertThat(HostPort.parse("[::1]:5434")).isEqualTo(new HostPort("::1", 5434));
        assertThat(HostPort.parse("*:6432")).isEqualTo(new HostPort("", 6432));
        assertThat(HostPort.parse(":6432")).isEqualTo(new HostPort("", 6432));
        assertThat(HostPort.parse("db.internal:0")).isEqualTo(new HostPort("db.internal", 0));
        assertThat(HostPort.parse("[::1]:5434")).hasToString("[::1]:5434");
        assertThat(HostPort.parse("*:1")).hasToString("*:1");
    }

    @ParameterizedTest
    @ValueSource(strings = {"", "localhost", "localhost:", "localhost:x", "localhost:65536", "::1:5434", "[::1]"})
    void refusesMalformed(String address) {
        assertThatThrownBy(() -> HostPort.parse(address)).isInstanceOf(IllegalArgumentException.class);
    }
}
