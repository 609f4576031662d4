package dev.pgmux.auth;

import java.io.IOException;
import java.security.AlgorithmParameters;
import java.security.GeneralSecurityException;
import java.security.cert.CertificateEncodingException;
import java.security.cert.X509Certificate;
import java.security.spec.PSSParameterSpec;
import java.util.Arrays;
import java.util.Locale;
import java.util.Map;

/**
 * The channel-binding data of a TLS connection for SCRAM-SHA-256-PLUS (RFC 5802 §6, RFC 5056): its type and the
 * bytes that a client binds its proof to. PostgreSQL supports only {@code tls-server-end-point} (RFC 5929 §4), the
 * hash of the server's certificate, which is also the only type that works across TLS 1.3.
 *
 * @param type the channel-binding type, {@code tls-server-end-point}
 * @param data the channel-binding data (not secret: anyone who sees the certificate can compute it)
 */
public record ChannelBinding(String type, byte[] data) {
    public static final String TLS_SERVER_END_POINT = "tls-server-end-point";

    /** Signature algorithm OIDs and the hash each signs with (RFC 3279, 4055, 5758, 8692; NIST's SHA-3 arc). */
    private static final Map<String, String> SIGNATURE_HASHES = Map.ofEntries(
            Map.entry("1.2.840.113549.1.1.4", "MD5"), // md5WithRSAEncryption
            Map.entry("1.2.840.113549.1.1.5", "SHA-1"), // sha1WithRSAEncryption
            Map.entry("1.2.840.113549.1.1.14", "SHA-224"),
            Map.entry("1.2.840.113549.1.1.11", "SHA-256"),
            Map.entry("1.2.840.113549.1.1.12", "SHA-384"),
            Map.entry("1.2.840.113549.1.1.13", "SHA-512"),
            Map.entry("1.2.840.10045.4.1", "SHA-1"), // ecdsa-with-SHA1
            Map.entry("1.2.840.10045.4.3.1", "SHA-224"),
            Map.entry("1.2.840.10045.4.3.2", "SHA-256"),
            Map.entry("1.2.840.10045.4.3.3", "SHA-384"),
            Map.entry("1.2.840.10045.4.3.4", "SHA-512"),
            Map.entry("1.2.840.10040.4.3", "SHA-1"), // dsa-with-sha1
            Map.entry("2.16.840.1.101.3.4.3.1", "SHA-224"), // dsa-with-sha224
            Map.entry("2.16.840.1.101.3.4.3.2", "SHA-256"),
            Map.entry("2.16.840.1.101.3.4.3.9", "SHA3-224"), // ecdsa-with-SHA3-224
            Map.entry("2.16.840.1.101.3.4.3.10", "SHA3-256"),
            Map.entry("2.16.840.1.101.3.4.3.11", "SHA3-384"),
            Map.entry("2.16.840.1.101.3.4.3.12", "SHA3-512"),
            Map.entry("2.16.840.1.101.3.4.3.13", "SHA3-224"), // id-rsassa-pkcs1-v1_5-with-sha3-224
            Map.entry("2.16.840.1.101.3.4.3.14", "SHA3-256"),
            Map.entry("2.16.840.1.101.3.4.3.15", "SHA3-384"),
            Map.entry("2.16.840.1.101.3.4.3.16", "SHA3-512"));
    private static final String RSASSA_PSS = "1.2.840.113549.1.1.10";

    public ChannelBinding {
        if (!type.matches("[A-Za-z0-9.-]+")) {
            throw new IllegalArgumentException("a channel-binding type is letters, digits, '.' and '-' (RFC 5056 §7)");
        }
        if (data.length == 0) {
            throw new IllegalArgumentException("empty channel-binding data");
        }
        data = data.clone();
    }

    @Override
    public byte[] data() {
        return data.clone();
    }

    /**
     * {@code tls-server-end-point} for the certificate this side of the TLS connection presents (RFC 5929 §4.1): the
     * hash of its DER encoding, with the hash its signature algorithm uses, SHA-256 in place of MD5 or SHA-1. As
     * PostgreSQL's {@code be_tls_get_certificate_hash}, RSASSA-PSS hashes with the hash in its parameters.
     *
     * @throws IllegalArgumentException when the signature uses no single hash (Ed25519, Ed448) or an unknown one:
     *                                  PostgreSQL cannot bind to such a certificate either, so offer no -PLUS
     */
    public static ChannelBinding tlsServerEndPoint(X509Certificate serverCertificate) {
        String hash = signatureHash(serverCertificate);
        if (hash.equals("MD5") || hash.equals("SHA-1")) {
            hash = "SHA-256";
        }
        try {
            return new ChannelBinding(TLS_SERVER_END_POINT, Crypto.digest(hash, serverCertificate.getEncoded()));
        } catch (CertificateEncodingException e) {
            throw new IllegalArgumentException("cannot encode the server certificate", e);
        } catch (IllegalStateException e) {
            throw new IllegalArgumentException("no " + hash + " for the server certificate's channel binding", e);
        }
    }

    private static String signatureHash(X509Certificate cert) {
        String oid = cert.getSigAlgOID();
        if (RSASSA_PSS.equals(oid)) {
            try {
                AlgorithmParameters params = AlgorithmParameters.getInstance("RSASSA-PSS");
                params.init(cert.getSigAlgParams());
                return normalize(params.getParameterSpec(PSSParameterSpec.class).getDigestAlgorithm());
            } catch (GeneralSecurityException | IOException | NullPointerException e) {
                throw new IllegalArgumentException(
                        "cannot read the hash of the server certificate's RSASSA-PSS signature", e);
            }
        }
        String hash = SIGNATURE_HASHES.get(oid);
        if (hash != null) {
            return hash;
        }
        String name = cert.getSigAlgName().toUpperCase(Locale.ROOT); // e.g. SHA512WITHECDSA from another provider
        int with = name.indexOf("WITH");
        if (with > 0) {
            return normalize(name.substring(0, with));
        }
        throw new IllegalArgumentException("the server certificate's signature algorithm " + cert.getSigAlgName()
                + " uses no single hash: no tls-server-end-point channel binding");
    }

    /** JDK digest names from the forms signature names use: SHA256 to SHA-256, SHA3-256 as it is. */
    private static String normalize(String hash) {
        String h = hash.toUpperCase(Locale.ROOT);
        if (h.equals("SHA") || h.equals("SHA1")) {
            return "SHA-1";
        }
        return h.startsWith("SHA") && !h.startsWith("SHA-") && !h.startsWith("SHA3") ? "SHA-" + h.substring(3) : h;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof ChannelBinding b && type.equals(b.type) && Arrays.equals(data, b.data);
    }

    @Override
    public int hashCode() {
        return 31 * type.hashCode() + Arrays.hashCode(data);
    }

    @Override
    public String toString() {
        return "ChannelBinding[" + type + ", " + data.length + " bytes]";
    }
}
