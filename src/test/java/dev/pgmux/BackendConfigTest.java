package dev.pgmux;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowable;

import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The authentication settings of a backend: proxy mode, the clients' credential, the backend password. */
class BackendConfigTest {
    /** The SCRAM-SHA-256 verifier of "secret" (4096 iterations), as PostgreSQL would store it. */
    static final String VERIFIER = "SCRAM-SHA-256$4096:cGdtdXgtdGVzdC1zYWx0IQ==$"
            + "rLW6vFo5jkg3NjS9osAxK+n1pWn5Ulxp+xUkvGAODII=:RqdbEpVSpSaE0L8qUkdIucadWchgrYekib/qche6mlE=";
    /** md5("secret" + "alice"), as PostgreSQL would store it. */
    static final String MD5 = "md54a0a68b43b6cd5cf266fa02f196e2371";
    static final String PLAIN_REFUSED = "plain passwords are refused in the configuration; use `./pgmux passwd USER`"
            + " to make a verifier";

    @Test
    void anAuthQueryMustTakeTheUserName() {
        assertThatThrownBy(() -> BackendConfig.builder().host("db").auth(AuthMode.PROXY).authUser("aq")
                .authQuery("SELECT usename, passwd FROM pg_shadow LIMIT 1").build())
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("must take the user name as $1");
    }

    @Test
    void aTemplateWhoseHostAClientChoosesCannotLookUpCredentials() {
        // auth_user's password would go to a host the client's startup values choose
        assertThatThrownBy(() -> new dev.pgmux.routing.BackendTemplate("{tenant}.db.internal", null, null, null, null,
                null, null, null, null, AuthMode.PROXY, null, null, null, "aq", null))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("auth_user cannot look up");
        new dev.pgmux.routing.BackendTemplate("db.internal", null, "{tenant}", null, null, null, null, null, null,
                AuthMode.PROXY, null, null, null, "aq", null);
    }

    @Test
    void aVerifierThatEveryLoginWouldRefuseIsRefusedInTheConfiguration() {
        String huge = "SCRAM-SHA-256$2147483647:" + java.util.Base64.getEncoder().encodeToString(new byte[16]) + "$"
                + java.util.Base64.getEncoder().encodeToString(new byte[32]) + ":"
                + java.util.Base64.getEncoder().encodeToString(new byte[32]);
        assertThatThrownBy(() -> BackendConfig.builder().host("db").auth(AuthMode.PROXY).clientCredential(huge).build())
                .isInstanceOf(IllegalArgumentException.class).hasMessageStartingWith("unusable SCRAM-SHA-256 verifier");
        String weak = huge.replace("2147483647", "1000");
        assertThatThrownBy(() -> BackendConfig.builder().host("db").auth(AuthMode.PROXY).clientCredential(weak).build())
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("1000 iterations, fewer than 4096");
    }

    @Test
    void relayingIsTheDefaultEverywhere() {
        BackendConfig built = BackendConfig.builder().host("db").build();
        BackendConfig old = new BackendConfig("db", 5432, null, null, Map.of(), SslMode.DISABLE, null);
        BackendConfig hosts = new BackendConfig(List.of(new BackendConfig.Endpoint("db", 5432)), null, null, null,
                null, null, null, null);
        assertThat(List.of(built, old, hosts, BackendConfig.of("db", 5432, null))).allSatisfy(b -> {
            assertThat(b.auth()).isEqualTo(AuthMode.PASSTHROUGH);
            assertThat(b.clientCredential()).isNull();
            assertThat(b.password()).isNull();
        }).containsOnly(built);
    }

    @Test
    void aProxyRouteWithItsCredentials() {
        BackendConfig b = BackendConfig.builder().host("db").user("owner").auth(AuthMode.PROXY)
                .clientCredential(VERIFIER).password(Secret.of("backend-pw")).build();
        assertThat(b.auth()).isEqualTo(AuthMode.PROXY);
        assertThat(b.clientCredential()).isEqualTo(VERIFIER);
        assertThat(b.password().chars()).containsExactly("backend-pw".toCharArray());
        assertThat(b.toBuilder().build()).isEqualTo(b);
        assertThat(BackendConfig.builder().host("db").auth(AuthMode.PROXY).clientAuthMethod(ClientAuthMethod.MD5)
                .clientCredential(MD5).build().clientCredential()).isEqualTo(MD5);
    }

    @Test
    void toStringShowsNoCredential() {
        BackendConfig b = BackendConfig.builder().host("db").auth(AuthMode.PROXY).clientCredential(VERIFIER)
                .password(Secret.of("backend-pw")).build();
        assertThat(b.toString()).doesNotContain("cGdtdXgt").doesNotContain("SCRAM-SHA-256$")
                .doesNotContain("backend-pw")
                .contains("auth=PROXY, clientAuthMethod=SCRAM_SHA_256, clientCredential=***, password=Secret[***]");
        assertThat(BackendConfig.of("db", 5432, null).toString()).endsWith("auth=PASSTHROUGH,"
                + " clientAuthMethod=SCRAM_SHA_256, clientCredential=null, password=null, authUser=null, authQuery=null,"
                + " pool=" + PoolConfig.NONE + "]");
    }

    @ParameterizedTest
    @ValueSource(strings = {"hunter2", "md5hunter2", "md5" + "4A0A68B43B6CD5CF266FA02F196E2371",
            "md54a0a68b43b6cd5cf266fa02f196e237", "md54a0a68b43b6cd5cf266fa02f196e23711", " ", "scram-sha-256$1:a$b:c"})
    void aPlainPasswordIsRefusedWithoutBeingRepeated(String credential) {
        Throwable e = catchThrowable(() -> BackendConfig.builder().host("db").auth(AuthMode.PROXY)
                .clientCredential(credential).build());
        assertThat(e).isInstanceOf(IllegalArgumentException.class).hasMessage(PLAIN_REFUSED);
    }

    @ParameterizedTest
    @ValueSource(strings = {"SCRAM-SHA-256$", "SCRAM-SHA-256$4096:salt", "SCRAM-SHA-256$0:c2FsdA==$a2V5:a2V5",
            "SCRAM-SHA-256$99999999999:c2FsdA==$a2V5:a2V5", "SCRAM-SHA-256$4096:c2FsdA==$a2V5",
            "SCRAM-SHA-256$4096:c2F sdA==$a2V5:a2V5", "SCRAM-SHA-256$4096:c2FsdA==$a2V5:a2V5 "})
    void aMalformedVerifierIsNamedSo(String credential) {
        assertThatThrownBy(() -> BackendConfig.builder().host("db").auth(AuthMode.PROXY).clientCredential(credential)
                .build()).hasMessageStartingWith("malformed SCRAM-SHA-256 verifier: expected"
                + " SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>").hasMessageNotContaining("c2FsdA");
    }

    @Test
    void credentialsNeedProxyMode() {
        assertThatThrownBy(() -> BackendConfig.builder().host("db").clientCredential(VERIFIER).build())
                .hasMessageStartingWith("a client credential or backend password needs auth proxy");
        assertThatThrownBy(() -> BackendConfig.builder().host("db").auth(AuthMode.PASSTHROUGH)
                .password(Secret.of("pw")).build())
                .hasMessageStartingWith("a client credential or backend password needs auth proxy");
    }

    @Test
    void aClientAuthMethodNeedsProxyModeAndAnMd5HashAMethodThatCanUseIt() {
        assertThat(BackendConfig.builder().host("db").build().clientAuthMethod())
                .isEqualTo(ClientAuthMethod.SCRAM_SHA_256);
        assertThatThrownBy(() -> BackendConfig.builder().host("db").clientAuthMethod(ClientAuthMethod.TRUST).build())
                .hasMessageStartingWith("a client authentication method needs auth proxy");
        assertThatThrownBy(() -> BackendConfig.builder().host("db").auth(AuthMode.PROXY).clientCredential(MD5).build())
                .hasMessage(BackendConfig.MD5_NEEDS_MD5_METHOD).hasMessageNotContaining(MD5.substring(3));
        assertThat(BackendConfig.builder().host("db").auth(AuthMode.PROXY).clientAuthMethod(ClientAuthMethod.PASSWORD)
                .clientCredential(MD5).build().toBuilder().build().clientAuthMethod())
                .isEqualTo(ClientAuthMethod.PASSWORD);
    }

    @Test
    void clientAuthMethodNames() {
        assertThat(ClientAuthMethod.parse("SCRAM-SHA-256")).isEqualTo(ClientAuthMethod.SCRAM_SHA_256);
        assertThat(ClientAuthMethod.SCRAM_SHA_256.configName()).isEqualTo("scram-sha-256");
        assertThat(List.of(ClientAuthMethod.values())).extracting(ClientAuthMethod::configName)
                .containsExactly("scram-sha-256", "md5", "password", "trust", "cert");
        assertThat(List.of(ClientAuthMethod.values())).filteredOn(ClientAuthMethod::checksPassword)
                .containsExactly(ClientAuthMethod.SCRAM_SHA_256, ClientAuthMethod.MD5, ClientAuthMethod.PASSWORD);
        assertThatThrownBy(() -> ClientAuthMethod.parse("ident")).hasMessage("unknown client_auth_method \"ident\""
                + " (scram-sha-256, md5, password, trust, cert)");
    }

    @Test
    void authModeNames() {
        assertThat(AuthMode.parse(" Proxy ")).isEqualTo(AuthMode.PROXY);
        assertThat(AuthMode.parse("passthrough")).isEqualTo(AuthMode.PASSTHROUGH);
        assertThat(AuthMode.PROXY.configName()).isEqualTo("proxy");
        assertThat(AuthMode.PASSTHROUGH.configName()).isEqualTo(AuthMode.PASSTHROUGH.name().toLowerCase(Locale.ROOT));
        assertThatThrownBy(() -> AuthMode.parse("trust")).hasMessage("unknown auth \"trust\" (passthrough, proxy)");
    }
}
