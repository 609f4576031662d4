package dev.pgmux.session;

import dev.pgmux.BackendConfig;
import dev.pgmux.auth.AuthFile;
import dev.pgmux.auth.ChannelBinding;
import dev.pgmux.auth.Credential;
import dev.pgmux.auth.Md5Hash;
import dev.pgmux.auth.PlainPassword;
import dev.pgmux.auth.ScramServer;
import dev.pgmux.auth.ScramVerifier;
import io.netty.channel.Channel;
import io.netty.handler.ssl.SslHandler;
import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.StandardCharsets;
import java.security.cert.Certificate;
import java.security.cert.X509Certificate;
import java.util.Arrays;
import javax.naming.InvalidNameException;
import javax.naming.NamingException;
import javax.naming.directory.Attribute;
import javax.naming.ldap.LdapName;
import javax.naming.ldap.Rdn;
import javax.net.ssl.SSLPeerUnverifiedException;
import javax.security.auth.x500.X500Principal;

/**
 * Where the credentials of a proxy-authenticated login come from: toward the client, the route's own
 * {@code client_password} or else the auth file's entry for the client's user, or the client's certificate;
 * toward the server, the route's backend password or else the auth file's plain password for the backend user,
 * or else what the client proved it knows, which only the server's own credential accepts (so only with the user
 * name kept): the ClientKey of its SCRAM proof, the password it sent in cleartext, the MD5 hash it answered with.
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

    /**
     * The SCRAM exchange for the client: against its credential, or the unknown user's exchange (also for an MD5
     * hash, which cannot check a SCRAM proof: PostgreSQL holds the same exchange then).
     */
    static ScramServer exchange(String user, Credential credential, byte[] mockSecret, ChannelBinding binding) {
        return switch (credential) {
            case ScramVerifier v -> ScramServer.forVerifier(user, v, binding);
            case PlainPassword p -> ScramServer.forVerifier(user, p.toScramVerifier(), binding);
            case null, default -> ScramServer.mock(user, mockSecret, binding);
        };
    }

    /**
     * What pgmux logs in to the server with, once the client proved itself.
     *
     * @param clientKey         what the client's SCRAM proof revealed, or null
     * @param clientPassword    the password the client sent in cleartext, checked against {@code clientCredential},
     *                          or null (never one only the application's hook accepted: a token is no password)
     */
    static ProxyRelay.BackendCredentials forServer(BackendConfig backend, AuthFile authFile, Login login,
                                                   Credential clientCredential, byte[] clientKey,
                                                   byte[] clientPassword) {
        String user = backend.user() != null ? backend.user() : login.user();
        char[] password = null;
        if (backend.password() != null) {
            password = backend.password().chars();
        } else if (authFile != null && authFile.lookup(user).map(Credential::parse).orElse(null) instanceof PlainPassword p) {
            password = p.password();
        }
        if (password == null && !login.renamedBy(backend)) {
            if (clientKey != null && clientCredential instanceof ScramVerifier v) {
                return new ProxyRelay.BackendCredentials(user, null, clientKey, v.serverKey(), null);
            }
            if (clientPassword != null) {
                return new ProxyRelay.BackendCredentials(user, utf8(clientPassword), null, null, null);
            }
            if (clientCredential instanceof Md5Hash h) {
                return new ProxyRelay.BackendCredentials(user, null, null, null, h);
            }
        }
        return new ProxyRelay.BackendCredentials(user, password, null, null, null);
    }

    /** A password as the client sent it, as characters (invalid UTF-8 replaced, as startup parameters are). */
    static char[] utf8(byte[] password) {
        CharBuffer chars = StandardCharsets.UTF_8.decode(ByteBuffer.wrap(password));
        char[] out = new char[chars.remaining()];
        chars.get(out);
        if (chars.hasArray()) {
            Arrays.fill(chars.array(), '\0');
        }
        return out;
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

    /**
     * The certificate the client sent, or null: no TLS, or none sent. One that did not verify against the client CA
     * never gets here: it failed the handshake.
     */
    static X509Certificate clientCertificate(Channel client) {
        SslHandler ssl = client.pipeline().get(SslHandler.class);
        if (ssl == null) {
            return null;
        }
        try {
            Certificate[] peer = ssl.engine().getSession().getPeerCertificates();
            return peer.length > 0 && peer[0] instanceof X509Certificate x ? x : null;
        } catch (SSLPeerUnverifiedException e) {
            return null;
        }
    }

    /**
     * The certificate subject's common name, which PostgreSQL's {@code cert} method takes for the user name
     * ({@code clientname=CN}): its first CN attribute in the order of the encoding, as OpenSSL's
     * {@code X509_NAME_get_index_by_NID} finds it; null when there is none, or it holds a NUL (as PostgreSQL
     * refuses such a name).
     */
    static String commonName(X509Certificate certificate) {
        LdapName name;
        try {
            name = new LdapName(certificate.getSubjectX500Principal().getName(X500Principal.RFC2253));
        } catch (InvalidNameException e) {
            return null;
        }
        // LdapName numbers the RDNs from the right of the RFC 2253 text, which lists them from the last encoded.
        for (Rdn rdn : name.getRdns()) {
            Attribute cn = rdn.toAttributes().get("CN");
            if (cn != null) {
                try {
                    return cn.get() instanceof String s && s.indexOf('\0') < 0 ? s : null;
                } catch (NamingException e) {
                    return null;
                }
            }
        }
        return null;
    }
}
