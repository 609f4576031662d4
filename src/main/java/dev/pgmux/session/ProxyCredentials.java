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
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
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
 * toward the server, the route's backend password, or else what the client proved it knows, which only the server's own credential accepts (so only with the user
 * name kept): the ClientKey of its SCRAM proof, the password it sent in cleartext, the MD5 hash it answered with.
 */
final class ProxyCredentials {
    private ProxyCredentials() {
    }

    /** What a client proved it knows for its own user name, which its server's own credential takes too. */
    sealed interface Proof {
        /** Nothing: an Authenticator, {@code trust} or {@code cert} let the client in. */
        Proof NONE = new Nothing();

        record Nothing() implements Proof {
        }

        /**
         * The ClientKey a SCRAM proof revealed, with the ServerKey, salt and iteration count of the verifier it was
         * checked against (only the server's own verifier, the same salt and count, takes it).
         */
        record ScramKeys(byte[] clientKey, byte[] serverKey, byte[] salt, int iterations) implements Proof {
        }

        /** The password the client sent in cleartext and pgmux checked. */
        record Cleartext(byte[] password) implements Proof {
        }

        /** The md5 hash the client answered MD5 with (PgBouncer logs in with it too). */
        record Md5(Md5Hash hash) implements Proof {
        }
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
            case PlainPassword p -> ScramServer.forVerifier(user, verifierOf(user, p, mockSecret), binding);
            case null, default -> ScramServer.mock(user, mockSecret, binding);
        };
    }

    /** Verifiers made from auth-file passwords, by user and password: made once, not at every login. */
    private static final Map<String, ScramVerifier> DERIVED = new ConcurrentHashMap<>();
    private static final int MAX_DERIVED = 10_000;

    /**
     * The verifier of an auth file's plain password, with a salt that is the same at every login (derived from the
     * proxy's secret and the user name, as an unknown user's is): a salt that changed at every attempt, or a
     * derivation at every login, would tell such users from the others.
     */
    static ScramVerifier verifierOf(String user, PlainPassword plain, byte[] secret) {
        // keyed by a hash of this proxy's secret, the user and the password: no password in the map, no sharing of
        // verifiers between proxies of one JVM
        String key = java.util.HexFormat.of().formatHex(hmac(secret, user + '\0' + new String(plain.password())));
        ScramVerifier known = DERIVED.get(key);
        if (known != null) {
            return known;
        }
        if (DERIVED.size() >= MAX_DERIVED) {
            DERIVED.clear();
        }
        byte[] salt = Arrays.copyOf(hmac(secret, "auth-file salt\0" + user), ScramVerifier.DEFAULT_SALT_LENGTH);
        ScramVerifier v = ScramVerifier.fromPassword(plain.password(), salt, ScramVerifier.DEFAULT_ITERATIONS);
        DERIVED.put(key, v);
        return v;
    }

    private static byte[] hmac(byte[] secret, String text) {
        try {
            javax.crypto.Mac mac = javax.crypto.Mac.getInstance("HmacSHA256");
            mac.init(new javax.crypto.spec.SecretKeySpec(secret, "HmacSHA256"));
            return mac.doFinal(text.getBytes(StandardCharsets.UTF_8));
        } catch (java.security.GeneralSecurityException e) {
            throw new IllegalStateException(e);
        }
    }

    /**
     * What pgmux logs in to the server with, once the client is in: the route's password, the auth file's, or what
     * the client proved (never a password only the application's hook accepted: a token is no password).
     */
    static ProxyRelay.BackendCredentials forServer(BackendConfig backend, AuthFile authFile, Login login,
                                                   Proof proof) {
        String user = backend.user() != null ? backend.user() : login.user();
        // Only the route's own password (from the configuration: no routing service or table row can name one), or
        // what the client proved for its own user name. Never the auth file's password of another user: a route
        // (maybe a table row or an HTTP answer) could then choose a user and a host and be sent that password.
        if (backend.password() != null || login.renamedBy(backend)) {
            return new ProxyRelay.BackendCredentials(user,
                    backend.password() == null ? null : backend.password().chars(), null, null, null);
        }
        return switch (proof) {
            case Proof.ScramKeys k -> new ProxyRelay.BackendCredentials(user, null, k.clientKey(), k.serverKey(), null,
                    k.salt(), k.iterations());
            case Proof.Cleartext c -> new ProxyRelay.BackendCredentials(user, utf8(c.password()), null, null, null);
            case Proof.Md5 m -> new ProxyRelay.BackendCredentials(user, null, null, null, m.hash());
            case Proof.Nothing n -> new ProxyRelay.BackendCredentials(user, null, null, null, null);
        };
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

    /**
     * tls-server-end-point binding to pgmux's own certificate, or null: a client not on TLS, or a certificate whose
     * signature algorithm has no binding (Ed25519, Ed448: PostgreSQL cannot bind to those either).
     */
    static ChannelBinding bindingOf(Channel client) {
        SslHandler ssl = client.pipeline().get(SslHandler.class);
        if (ssl == null) {
            return null;
        }
        Certificate[] local = ssl.engine().getSession().getLocalCertificates();
        if (local == null || local.length == 0 || !(local[0] instanceof X509Certificate x)) {
            return null;
        }
        try {
            return ChannelBinding.tlsServerEndPoint(x);
        } catch (IllegalArgumentException e) {
            return null;
        }
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
