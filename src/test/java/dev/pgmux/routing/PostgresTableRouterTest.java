package dev.pgmux.routing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowable;

import dev.pgmux.AuthMode;
import dev.pgmux.BackendConfig;
import dev.pgmux.ClientAuthMethod;
import dev.pgmux.PoolConfig;
import dev.pgmux.PoolMode;
import dev.pgmux.RouteRequest;
import dev.pgmux.SslMode;
import java.net.InetSocketAddress;
import java.util.Map;
import java.util.Properties;
import org.junit.jupiter.api.Test;

/** The table router's parts that need no database: DSNs, table names, rows to backends, the builder. */
class PostgresTableRouterTest {

    // ---- DSN ---------------------------------------------------------------------------------------------

    @Test
    void libpqUriBecomesAJdbcUrlWithThePasswordInPropertiesOnly() {
        Dsn dsn = Dsn.parse("postgresql://pgmux:s3cr%40t@control.internal:6432/routing?sslmode=require"
                + "&connect_timeout=3&application_name=edge");
        assertThat(dsn.jdbcUrl()).isEqualTo("jdbc:postgresql://control.internal:6432/routing");
        Properties p = dsn.properties();
        assertThat(p).containsEntry("user", "pgmux").containsEntry("password", "s3cr@t")
                .containsEntry("sslmode", "require").containsEntry("connectTimeout", "3")
                .containsEntry("ApplicationName", "edge");
        assertThat(dsn.toString()).isEqualTo("postgresql://pgmux@control.internal:6432/routing")
                .doesNotContain("s3cr");
    }

    @Test
    void libpqUriDefaultsAndShapes() {
        assertThat(Dsn.parse("postgres://h").jdbcUrl()).isEqualTo("jdbc:postgresql://h:5432/");
        assertThat(Dsn.parse("postgresql:///db").jdbcUrl()).isEqualTo("jdbc:postgresql://localhost:5432/db");
        assertThat(Dsn.parse("postgresql://[::1]:5433/db").jdbcUrl()).isEqualTo("jdbc:postgresql://[::1]:5433/db");
        assertThat(Dsn.parse("postgresql://a:1,b:2/db").jdbcUrl()).isEqualTo("jdbc:postgresql://a:1,b:2/db");
        assertThat(Dsn.parse("postgresql://u@/db?host=a,b&port=7000").jdbcUrl())
                .isEqualTo("jdbc:postgresql://a:7000,b:7000/db");
        assertThat(Dsn.parse("postgresql://h/my%20db+x").jdbcUrl()).isEqualTo("jdbc:postgresql://h:5432/my+db%2Bx");
        assertThat(Dsn.parse("postgresql://h/db?target_session_attrs=read-write").properties())
                .containsEntry("targetServerType", "primary");
        // A password with an unencoded @ still splits at the last one.
        Dsn at = Dsn.parse("postgresql://u:p@ss@h/db");
        assertThat(at.properties()).containsEntry("password", "p@ss");
        assertThat(at.toString()).isEqualTo("postgresql://u@h:5432/db");
    }

    @Test
    void jdbcUrlIsKeptAndShownWithoutItsPassword() {
        Dsn dsn = Dsn.parse("jdbc:postgresql://h1:5433,h2/control?user=pgmux&password=hunter2&sslmode=disable");
        assertThat(dsn.jdbcUrl()).isEqualTo("jdbc:postgresql://h1:5433,h2/control?user=pgmux&password=hunter2"
                + "&sslmode=disable");
        assertThat(dsn.toString()).isEqualTo("postgresql://pgmux@h1:5433,h2:5432/control");
    }

    @Test
    void badDsnsAreRejectedWithoutEchoingThem() {
        for (String bad : new String[] {"", "host=h password=secretpw", "mysql://u:secretpw@h/db",
                "postgresql://u:secretpw@h:notaport/db", "postgresql://u:secretpw@h:70000/db",
                "postgresql://u:secretpw@[::1/db", "postgresql://u:secretpw@h/db?novalue",
                "postgresql://u:secretpw@h/db?host=/var/run/postgresql", "postgresql://u:secret%zzpw@h/db",
                "postgresql://u:secretpw@a,b/db?port=1,2,3"}) {
            Throwable t = catchThrowable(() -> Dsn.parse(bad));
            assertThat(t).as(bad).isInstanceOf(IllegalArgumentException.class);
            assertThat(t.getMessage()).as(bad).doesNotContain("secret");
        }
    }

    // ---- table names -------------------------------------------------------------------------------------

    @Test
    void tableNamesFoldToLowerCaseAndDeriveTheirObjects() {
        TableName t = TableName.parse("Routing.PGMUX_Routes");
        assertThat(t).isEqualTo(new TableName("routing", "pgmux_routes"));
        assertThat(t.sql()).isEqualTo("\"routing\".\"pgmux_routes\"");
        assertThat(t.channel()).isEqualTo("pgmux_routes");
        assertThat(t.qualify(t.notifyTrigger())).isEqualTo("\"routing\".\"pgmux_routes_notify\"");
        assertThat(TableName.parse("user").sql()).isEqualTo("\"user\"");
        assertThat(TableName.parse(TableName.DEFAULT).schema()).isNull();
        assertThat(t.inSchema("odd\"schema").sql()).isEqualTo("\"odd\"\"schema\".\"pgmux_routes\"");
    }

    @Test
    void tableNamesThatAreNotPlainIdentifiersAreRejected() {
        for (String bad : new String[] {"", " ", "a.b.c", "1routes", "routes;drop table x", "rou\"tes", "a.",
                ".a", "routes-1", "x".repeat(TableName.MAX_NAME + 1), "s".repeat(64) + ".routes"}) {
            assertThatThrownBy(() -> TableName.parse(bad)).as(bad).isInstanceOf(IllegalArgumentException.class);
        }
        assertThat(TableName.parse("x".repeat(TableName.MAX_NAME)).notifyTrigger()).hasSize(63);
    }

    // ---- rows --------------------------------------------------------------------------------------------

    @Test
    void rowBecomesABackend() {
        assertThat(TableRows.backend("10.0.0.5", 5433, null, null, null, null))
                .isEqualTo(BackendConfig.of("10.0.0.5", 5433, null));
        BackendConfig full = TableRows.backend("db1", null, "app", "lab", "verify-full",
                "{\"search_path\": \"lab\", \"statement_timeout\": 5000, \"jit\": false}");
        assertThat(full).isEqualTo(BackendConfig.builder().host("db1").port(5432).user("app").database("lab")
                .sslMode(SslMode.VERIFY_FULL).parameter("search_path", "lab").parameter("statement_timeout", "5000")
                .parameter("jit", "false").build());
        assertThat(TableRows.backend("h", 1, " ", "", "", "null").user()).isNull();
    }

    @Test
    void rowsThatCannotBeRoutesSayWhy() {
        BackendConfig several = TableRows.backend("db1,db2:5433", 5432, null, null, null, null, "read-write", "random");
        assertThat(several.hosts()).containsExactly(new BackendConfig.Endpoint("db1", 5432),
                new BackendConfig.Endpoint("db2", 5433));
        assertThat(several.targetSessionAttrs()).isEqualTo(dev.pgmux.TargetSessionAttrs.READ_WRITE);
        assertThat(several.loadBalanceHosts()).isEqualTo(dev.pgmux.LoadBalanceHosts.RANDOM);
        assertThatThrownBy(() -> TableRows.backend("h", 1, null, null, null, null, "writable", null))
                .hasMessageContaining("target_session_attrs");
        assertThatThrownBy(() -> TableRows.backend(" ", 5432, null, null, null, null))
                .hasMessage("host: missing: every route needs a host (or hosts:)");
        assertThatThrownBy(() -> TableRows.backend("h", 0, null, null, null, null)).hasMessageContaining("port");
        assertThatThrownBy(() -> TableRows.backend("h", 1, null, null, "sometimes", null))
                .hasMessageContaining("sslmode");
        assertThatThrownBy(() -> TableRows.backend("h", 1, null, null, null, "[1]"))
                .hasMessageContaining("JSON object");
        assertThatThrownBy(() -> TableRows.backend("h", 1, null, null, null, "{\"a\": {\"b\": 1}}"))
                .hasMessageContaining("\"a\"");
        assertThatThrownBy(() -> TableRows.backend("h", 1, null, null, null, "{oops"))
                .hasMessage("parameters is not JSON");
    }

    /** The pool and pool_size columns; the other pool keys have no column and are PgBouncer's defaults. */
    @Test
    void aRowWithPooling() {
        assertThat(TableRows.backend("db", null, null, null, null, null, null, null, "proxy", "trust", null,
                "transaction", "8")).isEqualTo(BackendConfig.builder().host("db").auth(AuthMode.PROXY)
                .clientAuthMethod(ClientAuthMethod.TRUST).pool(PoolConfig.builder().mode(PoolMode.TRANSACTION).size(8)
                        .build()).build());
        assertThat(TableRows.backend("db", null, null, null, null, null, null, null, null, null, null, " ", null))
                .as("blank: not set").isEqualTo(BackendConfig.of("db", 5432, null));
        assertThatThrownBy(() -> TableRows.backend("db", null, null, null, null, null, null, null, "proxy", "trust",
                null, "statement", null)).hasMessage("pool: unknown pool \"statement\" (none, session, transaction)");
        assertThatThrownBy(() -> TableRows.backend("db", null, null, null, null, null, null, null, "proxy", "trust",
                null, "session", "0")).hasMessage("pool_size: must be at least 1, not 0");
        assertThatThrownBy(() -> TableRows.backend("db", null, null, null, null, null, null, null, null, null, null,
                "session", null)).hasMessageStartingWith("pool: pool session needs auth proxy");
        assertThatThrownBy(() -> TableRows.backend("db", null, null, null, null, null, null, null, "proxy", "trust",
                null, null, "8")).hasMessageStartingWith("pool_size: applies only with pool: session or transaction");
    }

    @Test
    void schemaHasTheDocumentedColumnsAndTriggers() {
        TableName t = TableName.parse("pgmux_routes");
        assertThat(TableSchema.COLUMNS.keySet()).containsExactly("username", "host", "port", "backend_user",
                "database", "sslmode", "parameters", "target_session_attrs", "load_balance_hosts", "auth",
                "client_auth_method", "client_password", "pool", "pool_size", "updated_at");
        assertThat(TableSchema.createTable(t)).startsWith("CREATE TABLE IF NOT EXISTS \"pgmux_routes\" (")
                .contains("username text PRIMARY KEY").contains("port integer NOT NULL DEFAULT 5432");
        assertThat(TableSchema.notifyBody(t)).contains("pg_notify('pgmux_routes', TG_OP)");
        assertThat(TableSchema.createNotifyTrigger(t)).isEqualTo("CREATE TRIGGER \"pgmux_routes_notify\" AFTER"
                + " INSERT OR UPDATE OR DELETE OR TRUNCATE ON \"pgmux_routes\" FOR EACH STATEMENT EXECUTE FUNCTION"
                + " \"pgmux_routes_notify\"()");
    }

    // ---- builder -----------------------------------------------------------------------------------------

    @Test
    void builderNeedsADsnAndChecksItsInputs() {
        assertThatThrownBy(() -> PostgresTableRouter.builder().build()).isInstanceOf(IllegalStateException.class);
        assertThatThrownBy(() -> PostgresTableRouter.builder().table("no good"))
                .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> PostgresTableRouter.builder().dsn("nonsense"))
                .isInstanceOf(IllegalArgumentException.class);
        PostgresTableRouter router = PostgresTableRouter.builder().dsn("postgresql://u:pw@h/db").table("Routes")
                .build();
        assertThat(router.toString()).isEqualTo("PostgresTableRouter[routes at postgresql://u@h:5432/db]");
        RouteRequest request = new RouteRequest("alice", "db", null, Map.of(),
                new InetSocketAddress("127.0.0.1", 1), null, false);
        assertThatThrownBy(() -> router.route(request)).isInstanceOf(IllegalStateException.class);
        router.close();
        assertThatThrownBy(router::start).isInstanceOf(IllegalStateException.class);
    }
}
