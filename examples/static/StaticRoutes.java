import dev.pgmux.BackendConfig;
import dev.pgmux.ProxyServer;
import dev.pgmux.StaticRouter;
import java.util.Map;

/**
 * Embeds pgmux with a fixed user → backend table.
 *
 * Run: java -cp target/pgmux.jar examples/static/StaticRoutes.java
 * then: psql -h 127.0.0.1 -p 5434 -U app_user -d mydb
 */
public class StaticRoutes {
    public static void main(String[] args) throws Exception {
        var router = StaticRouter.of(Map.of(
                "app_user", BackendConfig.of("127.0.0.1", 5432, "postgres"),
                "readonly_user", BackendConfig.builder().host("127.0.0.1").port(5432).user("readonly").database("app").build()));
        // Users without a route of their own go here, keeping their user name:
        router.withFallback(BackendConfig.of("127.0.0.1", 5432, null));
        try (var proxy = new ProxyServer("127.0.0.1:5434", router)) {
            proxy.start();
            System.out.println("pgmux listening on port " + proxy.port() + "; Ctrl-C to stop");
            Runtime.getRuntime().addShutdownHook(new Thread(proxy::close));
            proxy.awaitTermination();
        }
    }
}
