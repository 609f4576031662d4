import dev.pgmux.BackendConfig;
import dev.pgmux.ProxyServer;
import dev.pgmux.Router;
import dev.pgmux.TlsConfig;
import java.nio.file.Path;

/**
 * pgmux with TLS toward clients (certificate reloaded when the files change) and a router written as a lambda.
 *
 * Run: examples/tls/generate-certs.sh && java -cp target/pgmux.jar examples/tls/TlsProxy.java
 * then: psql "host=127.0.0.1 port=5434 user=postgres sslmode=require"
 */
public class TlsProxy {
    public static void main(String[] args) throws Exception {
        Router router = request -> BackendConfig.builder().host("127.0.0.1").port(5432).user(request.user()).build();
        var tls = TlsConfig.fromPemFiles(Path.of("examples/tls/server.crt"), Path.of("examples/tls/server.key"))
                .withRequired(true);
        try (var proxy = new ProxyServer("127.0.0.1:5434", router).withTls(tls)) {
            proxy.start();
            System.out.println("pgmux listening with TLS on port " + proxy.port() + "; Ctrl-C to stop");
            Runtime.getRuntime().addShutdownHook(new Thread(proxy::close));
            proxy.awaitTermination();
        }
    }
}
