package dev.pgmux;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.net.InetSocketAddress;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

class RouteRequestTest {

    @Test
    void parametersKeepTheClientsOrderAndCannotChange() {
        Map<String, String> sent = new LinkedHashMap<>();
        // More than Map.of's ten entries, names in no sorted or hash order.
        for (String name : new String[] {"user", "database", "options", "application_name", "client_encoding",
                "DateStyle", "TimeZone", "extra_float_digits", "search_path", "replication", "a", "zz", "m"}) {
            sent.put(name, "v_" + name);
        }
        RouteRequest request = new RouteRequest("ann", "app", null, sent, new InetSocketAddress("10.0.0.1", 1),
                null, false);
        sent.put("later", "x");

        assertThat(request.parameters().keySet()).containsExactly("user", "database", "options", "application_name",
                "client_encoding", "DateStyle", "TimeZone", "extra_float_digits", "search_path", "replication", "a",
                "zz", "m");
        assertThat(request.parameter("options")).isEqualTo("v_options");
        assertThatThrownBy(() -> request.parameters().put("x", "y")).isInstanceOf(UnsupportedOperationException.class);
    }
}
