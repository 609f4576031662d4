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
    void clientsSeeTheBackendsProcessIdAndSharedIdsAreToldApartBySecret() {
        CancelRegistry r = new CancelRegistry();
        CancelRegistry.Target other =
                new CancelRegistry.Target(new InetSocketAddress("127.0.0.2", 5432), 42, new byte[] {9, 9, 9, 9});
        CancelRegistry.Entry a = r.register(TARGET, 4);
        CancelRegistry.Entry b = r.register(other, 32);
        assertThat(a.processId()).isEqualTo(42).isEqualTo(b.processId());
        assertThat(r.lookup(42, a.secret())).isEqualTo(TARGET);
        assertThat(r.lookup(42, b.secret())).isEqualTo(other);
        assertThat(r.size()).isEqualTo(2);
        r.remove(a);
        assertThat(r.lookup(42, a.secret())).isNull();
        assertThat(r.lookup(42, b.secret())).isEqualTo(other);
        r.remove(b);
        assertThat(r.size()).isZero();
        // in a cluster the backend's id fills the low bits
        CancelRegistry.Entry c = new CancelRegistry(3).register(TARGET, 4);
        assertThat(c.processId()).isEqualTo(3 << 23 | 42);
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
