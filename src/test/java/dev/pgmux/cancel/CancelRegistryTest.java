package dev.pgmux.cancel;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.net.InetSocketAddress;
import org.junit.jupiter.api.Test;

class CancelRegistryTest {
    static final CancelRegistry.Target TARGET =
            new CancelRegistry.Target(new InetSocketAddress("127.0.0.1", 5432), 42, new byte[] {1, 2, 3, 4});

    @Test
    void keysOfAClusterInstanceCarryItsIdAndStayPositive() {
        for (int id : new int[] {1, 7, 255}) {
            CancelRegistry r = new CancelRegistry(id);
            for (int i = 0; i < 1000; i++) {
                CancelRegistry.Entry e = r.register(TARGET, 4);
                assertThat(e.processId()).isPositive();
                assertThat(CancelRegistry.instanceOf(e.processId())).isEqualTo(id);
                assertThat(r.lookup(e.processId(), e.secret())).isEqualTo(TARGET);
            }
            assertThat(r.size()).isEqualTo(1000);
        }
        assertThatThrownBy(() -> new CancelRegistry(256)).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void aWrongSecretAndAnUnknownIdAreBothJustNull() {
        CancelRegistry r = new CancelRegistry();
        CancelRegistry.Entry e = r.register(TARGET, 32);
        assertThat(e.secret()).hasSize(32);
        byte[] wrong = e.secret().clone();
        wrong[31] ^= 1;
        assertThat(r.lookup(e.processId(), wrong)).isNull();
        assertThat(r.lookup(e.processId() ^ 1, e.secret())).isNull();
        r.remove(e);
        assertThat(r.lookup(e.processId(), e.secret())).isNull();
    }
}
