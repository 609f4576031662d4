package dev.pgmux.cli;

import dev.pgmux.ProxyServer;
import dev.pgmux.StaticRouter;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * {@code pgmux aot-train} (hidden): a short run through the start-up path — command line, proxy start, one
 * client refused for lack of a route, shutdown — for the launcher to record a JDK AOT cache
 * ({@code -XX:AOTCacheOutput}), which halves the time from start to listening.
 */
@Command(name = "aot-train", hidden = true, description = "Exercise start-up once, to record an AOT cache.")
public final class AotTrainCommand implements Callable<Integer> {

    @Override
    public Integer call() throws Exception {
        new CommandLine(new Main()).getUsageMessage();
        try (ProxyServer proxy = new ProxyServer("127.0.0.1:0", StaticRouter.empty()).start();
             Socket socket = new Socket("127.0.0.1", proxy.port())) {
            socket.setSoTimeout(5_000);
            byte[] params = "user\0aot-train\0database\0postgres\0\0".getBytes(StandardCharsets.UTF_8);
            DataOutputStream out = new DataOutputStream(socket.getOutputStream());
            out.writeInt(8 + params.length);
            out.writeInt(3 << 16);
            out.write(params);
            out.flush();
            new DataInputStream(socket.getInputStream()).readAllBytes(); // FATAL 28000, then close
            proxy.close(Duration.ofSeconds(1));
        }
        return 0;
    }
}
