package dev.pgmux.tls;

import dev.pgmux.BackendConfig;
import dev.pgmux.SslMode;
import io.netty.handler.ssl.OpenSsl;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslHandler;
import io.netty.handler.ssl.SslProvider;
import io.netty.handler.ssl.util.InsecureTrustManagerFactory;
import io.netty.buffer.ByteBufAllocator;
import java.nio.file.Path;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLException;
import javax.net.ssl.SSLParameters;

/**
 * Client-side TLS toward backends with libpq's sslmode meanings: {@code prefer}/{@code require} encrypt without
 * checking the certificate, {@code verify-ca} checks the chain, {@code verify-full} also the host name.
 * Contexts are cached per (verification, root certificate).
 */
public final class BackendTls {
    private record Key(boolean verify, Path rootCert) {
    }

    private final Map<Key, SslContext> contexts = new ConcurrentHashMap<>();

    /** A new handler for a connection to {@code host} of {@code backend}; SNI carries the host name. */
    public SslHandler newHandler(BackendConfig backend, BackendConfig.Endpoint host, ByteBufAllocator alloc)
            throws SSLException {
        boolean verify = backend.sslMode() == SslMode.VERIFY_CA || backend.sslMode() == SslMode.VERIFY_FULL;
        SslContext ctx = context(new Key(verify, verify ? backend.sslRootCert() : null));
        SslHandler handler = ctx.newHandler(alloc, host.host(), host.port());
        if (backend.sslMode() == SslMode.VERIFY_FULL) {
            SSLEngine engine = handler.engine();
            SSLParameters params = engine.getSSLParameters();
            params.setEndpointIdentificationAlgorithm("HTTPS");
            engine.setSSLParameters(params);
        }
        return handler;
    }

    private SslContext context(Key key) throws SSLException {
        SslContext ctx = contexts.get(key);
        if (ctx != null) {
            return ctx;
        }
        SslContextBuilder b = SslContextBuilder.forClient()
                .sslProvider(OpenSsl.isAvailable() ? SslProvider.OPENSSL : SslProvider.JDK)
                .protocols("TLSv1.3", "TLSv1.2");
        if (!key.verify()) {
            b.trustManager(InsecureTrustManagerFactory.INSTANCE);
        } else if (key.rootCert() != null) {
            b.trustManager(key.rootCert().toFile());
        }
        // else: the JDK's default trust store
        ctx = b.build();
        SslContext prev = contexts.putIfAbsent(key, Objects.requireNonNull(ctx));
        return prev != null ? prev : ctx;
    }
}
