package dev.pgmux;

/** TLS toward a backend, with libpq's meanings of the {@code sslmode} values. */
public enum SslMode {
    /** Plain TCP. */
    DISABLE,
    /** TLS if the backend offers it, else plain TCP; the certificate is not checked. */
    PREFER,
    /** TLS or fail; the certificate is not checked. */
    REQUIRE,
    /** TLS with a certificate signed by a trusted CA. */
    VERIFY_CA,
    /** TLS with a trusted certificate whose name matches the backend host. */
    VERIFY_FULL;

    /** Parses libpq spelling: {@code disable}, {@code prefer}, {@code require}, {@code verify-ca}, {@code verify-full}. */
    public static SslMode parse(String value) {
        return switch (value.trim().toLowerCase(java.util.Locale.ROOT)) {
            case "disable" -> DISABLE;
            case "prefer", "allow" -> PREFER;
            case "require" -> REQUIRE;
            case "verify-ca" -> VERIFY_CA;
            case "verify-full" -> VERIFY_FULL;
            default -> throw new IllegalArgumentException(
                    "unknown sslmode \"" + value + "\" (disable, prefer, require, verify-ca, verify-full)");
        };
    }

    public String libpqName() {
        return name().toLowerCase(java.util.Locale.ROOT).replace('_', '-');
    }

    boolean verifies() {
        return this == VERIFY_CA || this == VERIFY_FULL;
    }
}
