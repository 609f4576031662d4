package dev.pgmux.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.entry;

import dev.pgmux.BackendConfig;
import dev.pgmux.SslMode;
import dev.pgmux.config.BackendSpec.Route;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The {@code --route USER=[BACKENDUSER@]HOST:PORT[/DATABASE][?OPTIONS]} notation of the command line. */
class BackendSpecTest {

    @Test
    void fullRoute() {
        Route r = BackendSpec.parseRoute("alice=postgres@10.0.0.1:5432/app");

        assertThat(r.user()).isEqualTo("alice");
        assertThat(r.backend()).isEqualTo(new BackendConfig("10.0.0.1", 5432, "postgres", "app", java.util.Map.of(),
                null, null));
    }

    @Test
    void withoutBackendUserTheClientsUserIsKept() {
        BackendConfig b = BackendSpec.parseRoute("bob=db.internal:6432/sales").backend();

        assertThat(b.host()).isEqualTo("db.internal");
        assertThat(b.port()).isEqualTo(6432);
        assertThat(b.user()).isNull();
        assertThat(b.database()).isEqualTo("sales");
    }

    @Test
    void withoutDatabaseTheClientsDatabaseIsKept() {
        assertThat(BackendSpec.parseBackend("db:6432").database()).isNull();
        assertThat(BackendSpec.parseBackend("db:6432/").database()).isNull();
    }

    @Test
    void portDefaultsTo5432() {
        assertThat(BackendSpec.parseBackend("10.0.0.2/app")).satisfies(b -> {
            assertThat(b.host()).isEqualTo("10.0.0.2");
            assertThat(b.port()).isEqualTo(5432);
            assertThat(b.database()).isEqualTo("app");
        });
        assertThat(BackendSpec.parseBackend("u@db").port()).isEqualTo(5432);
    }

    @Test
    void ipv6InBrackets() {
        assertThat(BackendSpec.parseBackend("[::1]:5433")).satisfies(b -> {
            assertThat(b.host()).isEqualTo("::1");
            assertThat(b.port()).isEqualTo(5433);
            assertThat(b.address()).isEqualTo("[::1]:5433");
        });
        assertThat(BackendSpec.parseBackend("[::1]")).satisfies(b -> {
            assertThat(b.host()).isEqualTo("::1");
            assertThat(b.port()).isEqualTo(5432);
        });
        assertThat(BackendSpec.parseRoute("carol=admin@[2001:db8::7]:6432/db")).satisfies(r -> {
            assertThat(r.user()).isEqualTo("carol");
            assertThat(r.backend().user()).isEqualTo("admin");
            assertThat(r.backend().host()).isEqualTo("2001:db8::7");
            assertThat(r.backend().port()).isEqualTo(6432);
            assertThat(r.backend().database()).isEqualTo("db");
        });
    }

    @Test
    void tlsOptions() {
        BackendConfig b = BackendSpec.parseBackend("u@db.example:5432/app?sslmode=verify-full&sslrootcert=/x.pem");

        assertThat(b.sslMode()).isEqualTo(SslMode.VERIFY_FULL);
        assertThat(b.sslRootCert()).isEqualTo(Path.of("/x.pem"));
        assertThat(b.host()).isEqualTo("db.example");
        assertThat(b.database()).isEqualTo("app");
        assertThat(b.parameters()).isEmpty();
    }

    @Test
    void sslModeDefaultsToTheLibraryDefaultAndAcceptsEachLibpqName() {
        assertThat(BackendSpec.parseBackend("db").sslMode()).isEqualTo(BackendConfig.of("db", 5432, null).sslMode());
        assertThat(BackendSpec.parseBackend("db?sslmode=disable").sslMode()).isEqualTo(SslMode.DISABLE);
        assertThat(BackendSpec.parseBackend("db?sslmode=prefer").sslMode()).isEqualTo(SslMode.PREFER);
        assertThat(BackendSpec.parseBackend("db?sslmode=require").sslMode()).isEqualTo(SslMode.REQUIRE);
        assertThat(BackendSpec.parseBackend("db?sslmode=verify-ca").sslMode()).isEqualTo(SslMode.VERIFY_CA);
    }

    @Test
    void otherOptionsBecomeStartupParameters() {
        BackendConfig b = BackendSpec.parseBackend("db:5432?application_name=pgmux&sslmode=require&options=-c x=1");

        assertThat(b.parameters()).containsOnly(entry("application_name", "pgmux"), entry("options", "-c x=1"));
        assertThat(b.sslMode()).isEqualTo(SslMode.REQUIRE);
    }

    @Test
    void surroundingSpaceIsIgnored() {
        assertThat(BackendSpec.parseBackend("  db:6000  ").host()).isEqualTo("db");
    }

    @ParameterizedTest
    @ValueSource(strings = {
        "",
        "alice",
        "=db:5432",
        "alice=",
        "alice=   ",
        "alice=@db:5432",
        "alice=db:",
        "alice=db:port",
        "alice=db:0",
        "alice=db:65536",
        "alice=db:-1",
        "alice=:5432",
        "alice=[]:5432",
        "alice=u@:5432/app",
        "alice=db?sslmode=sometimes",
        "alice=db?sslmode",
        "alice=db?=x",
        "alice=db:5432?",
    })
    void badRoutesAreRejected(String spec) {
        assertThatThrownBy(() -> BackendSpec.parseRoute(spec)).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void unclosedBracketIsRejected() {
        // Without the check, "[::1" becomes host "[:" and port 1.
        assertThatThrownBy(() -> BackendSpec.parseBackend("[::1")).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> BackendSpec.parseBackend("[::1:5432")).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void ipv6WithoutBracketsIsRejected() {
        // "::1" would become host ":" and port 1, "db:5432:6432" host "db:5432"; listen addresses (HostPort)
        // already demand brackets.
        assertThatThrownBy(() -> BackendSpec.parseBackend("::1")).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> BackendSpec.parseBackend("db:5432:6432")).isInstanceOf(IllegalArgumentException.class);
    }
}
