package dev.pgmux.tls;

import dev.pgmux.TlsConfig;
import io.netty.handler.ssl.ApplicationProtocolConfig;
import io.netty.handler.ssl.ClientAuth;
import io.netty.handler.ssl.IdentityCipherSuiteFilter;
import io.netty.handler.ssl.JdkSslContext;
import io.netty.handler.ssl.OpenSsl;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslProvider;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.attribute.FileTime;
import javax.net.ssl.SSLException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The server-side TLS context for client connections. For PEM files it is rebuilt when a file's modification
 * time or size changes ({@link #reloadIfChanged()}, called periodically off the event loops); sessions already
 * established keep the context they started with.
 */
public final class ServerTls {
    /** ALPN protocol name that PostgreSQL 17+ clients send, and require for direct SSL. */
    public static final String ALPN_POSTGRESQL = "postgresql";
    private static final Logger log = LoggerFactory.getLogger(ServerTls.class);

    private final TlsConfig config;
    private volatile SslContext context;
    private volatile String fileStamp;

    public ServerTls(TlsConfig config) throws SSLException {
        this.config = config;
        this.fileStamp = stamp();
        this.context = build();
    }

    public TlsConfig config() {
        return config;
    }

    public SslContext context() {
        return context;
    }

    public boolean required() {
        return config.required();
    }

    /** Rebuilds the context if the PEM files changed. A broken new file keeps the old context and logs why. */
    public void reloadIfChanged() {
        if (config.certFile() == null) {
            return;
        }
        String now = stamp();
        if (now.equals(fileStamp)) {
            return;
        }
        try {
            context = build();
            fileStamp = now;
            log.info("TLS certificate reloaded cert={}", config.certFile());
        } catch (Exception e) {
            log.error("TLS certificate reload failed, keeping the previous one cert={} error={}", config.certFile(),
                    e.getMessage());
        }
    }

    private String stamp() {
        if (config.certFile() == null) {
            return "";
        }
        try {
            FileTime c = Files.getLastModifiedTime(config.certFile());
            FileTime k = Files.getLastModifiedTime(config.keyFile());
            String stamp = c.toMillis() + "/" + Files.size(config.certFile()) + "/" + k.toMillis() + "/"
                    + Files.size(config.keyFile());
            if (config.clientCa() != null) {
                stamp += "/" + Files.getLastModifiedTime(config.clientCa()).toMillis() + "/"
                        + Files.size(config.clientCa());
            }
            return stamp;
        } catch (IOException e) {
            return "missing";
        }
    }

    private SslContext build() throws SSLException {
        // ALPN: offer nothing unless the client asks; accept "postgresql". Direct SSL additionally requires the
        // client to have sent it, which the session checks after the handshake.
        ApplicationProtocolConfig alpn = new ApplicationProtocolConfig(ApplicationProtocolConfig.Protocol.ALPN,
                ApplicationProtocolConfig.SelectorFailureBehavior.NO_ADVERTISE,
                ApplicationProtocolConfig.SelectedListenerFailureBehavior.ACCEPT, ALPN_POSTGRESQL);
        String[] protocols = config.protocols().toArray(String[]::new);
        if (config.sslContext() != null) {
            return new JdkSslContext(config.sslContext(), false, null, IdentityCipherSuiteFilter.INSTANCE, alpn,
                    ClientAuth.NONE, protocols, false);
        }
        SslContextBuilder builder = SslContextBuilder.forServer(config.certFile().toFile(), config.keyFile().toFile())
                .sslProvider(OpenSsl.isAvailable() ? SslProvider.OPENSSL : SslProvider.JDK)
                .protocols(protocols)
                .applicationProtocolConfig(alpn);
        if (config.clientCa() != null) {
            // OPTIONAL: clients without a certificate still connect (routes decide what they need); one whose
            // certificate does not verify against the CA fails the handshake, as with PostgreSQL's ssl_ca_file.
            builder.trustManager(config.clientCa().toFile()).clientAuth(ClientAuth.OPTIONAL);
        }
        return builder.build();
    }
}
