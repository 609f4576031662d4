package dev.pgmux.session;

import dev.pgmux.BackendConfig;
import dev.pgmux.auth.AuthFile;
import dev.pgmux.auth.ChannelBinding;
import dev.pgmux.auth.Credential;
import dev.pgmux.auth.PlainPassword;
import dev.pgmux.auth.ScramServer;
import dev.pgmux.auth.ScramVerifier;
import io.netty.channel.Channel;
import io.netty.handler.ssl.SslHandler;
import java.security.cert.Certificate;
import java.security.cert.X509Certificate;

/**
 * Where the credentials of a proxy-authenticated login come from: toward the client, the route's own
 * {@code client_password} or else the auth file's entry for the client's user; toward the server, the route's
 * backend password or else the auth file's plain password for the backend user, or else the ClientKey the
 * client's proof revealed, which only the server's own verifier accepts (so only with the user name kept).
 */
final class ProxyCredentials {
    private ProxyCredentials() {
    }

    /** The credential the client must prove it knows, or null when there is none (the user is then unknown). */
    static Credential forClient(BackendConfig backend, AuthFile authFile, String user) {
        if (backend.clientCredential() != null) {
            return Credential.parse(backend.clientCredential());
        }
        if (authFile == null) {
            return null;
        }
        return authFile.lookup(user).map(Credential::parse).orElse(null);
    }

    /** The SCRAM exchange for the client: against its credential, or the unknown user's exchange. */
    static ScramServer exchange(String user, Credential credential, byte[] mockSecret, ChannelBinding binding) {
        return switch (credential) {
            case ScramVerifier v -> ScramServer.forVerifier(user, v, binding);
            case PlainPassword p -> ScramServer.forVerifier(user, p.toScramVerifier(), binding);
            case null, default -> ScramServer.mock(user, mockSecret, binding);
        };
    }

    /** What pgmux logs in to the server with, once the client proved itself and revealed {@code clientKey}. */
    static ProxyRelay.BackendCredentials forServer(BackendConfig backend, AuthFile authFile, Login login,
                                                   Credential clientCredential, byte[] clientKey) {
        String user = backend.user() != null ? backend.user() : login.user();
        char[] password = null;
        if (backend.password() != null) {
            password = backend.password().chars();
        } else if (authFile != null && authFile.lookup(user).map(Credential::parse).orElse(null) instanceof PlainPassword p) {
            password = p.password();
        }
        if (password == null && !login.renamedBy(backend) && clientCredential instanceof ScramVerifier v) {
            return new ProxyRelay.BackendCredentials(user, null, clientKey, v.serverKey());
        }
        return new ProxyRelay.BackendCredentials(user, password, null, null);
    }

    /** tls-server-end-point binding to pgmux's own certificate, or null for a client not on TLS. */
    static ChannelBinding bindingOf(Channel client) {
        SslHandler ssl = client.pipeline().get(SslHandler.class);
        if (ssl == null) {
            return null;
        }
        Certificate[] local = ssl.engine().getSession().getLocalCertificates();
        return local != null && local.length > 0 && local[0] instanceof X509Certificate x
                ? ChannelBinding.tlsServerEndPoint(x) : null;
    }
}
