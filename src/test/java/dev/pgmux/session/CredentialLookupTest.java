package dev.pgmux.session;

import static org.assertj.core.api.Assertions.assertThat;

import dev.pgmux.auth.Md5Hash;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/** The cache of auth-query answers: a refused proof has the next login ask again, once per answer fetched. */
class CredentialLookupTest {
    static final CredentialLookup.Key KEY = new CredentialLookup.Key("db", 5432, "app", "ann", "aq", "q $1");
    static final Duration TTL = Duration.ofSeconds(60);
    static final Md5Hash HASH = new Md5Hash("md5" + "4a0a68b43b6cd5cf266fa02f196e2371");

    @Test
    void aRefusedProofMarksTheAnswerOnceAndEvictsNothing() {
        CredentialLookup.Cache cache = new CredentialLookup.Cache();
        cache.put(KEY, new CredentialLookup.Entry(HASH, System.nanoTime(), false, false), TTL);
        cache.refuted(KEY);
        CredentialLookup.Entry marked = cache.get(KEY);
        assertThat(marked.recheck()).isTrue();
        assertThat(marked.credential()).as("kept for an outage").isSameAs(HASH);

        // the answer the recheck fetched is marked no more: failing on purpose costs one query per TTL
        cache.put(KEY, new CredentialLookup.Entry(HASH, System.nanoTime(), false, true), TTL);
        cache.refuted(KEY);
        assertThat(cache.get(KEY).recheck()).isFalse();

        cache.refuted(new CredentialLookup.Key("db", 5432, "app", "nobody", "aq", "q $1"));
        assertThat(cache.get(new CredentialLookup.Key("db", 5432, "app", "nobody", "aq", "q $1"))).isNull();
    }

    @Test
    void routesWithAnotherAuthUserOrQueryDoNotShareAnswers() {
        CredentialLookup.Cache cache = new CredentialLookup.Cache();
        cache.put(KEY, new CredentialLookup.Entry(HASH, System.nanoTime(), false, false), TTL);
        assertThat(cache.get(new CredentialLookup.Key("db", 5432, "app", "ann", "aq", "other $1"))).isNull();
        assertThat(cache.get(new CredentialLookup.Key("db", 5432, "app", "ann", "other", "q $1"))).isNull();
    }

    @Test
    void anAnswerIsFreshForItsTtl() {
        long now = System.nanoTime();
        CredentialLookup.Entry e = new CredentialLookup.Entry(null, now, false, false);
        assertThat(e.fresh(Duration.ofSeconds(60), now + Duration.ofSeconds(59).toNanos())).isTrue();
        assertThat(e.fresh(Duration.ofSeconds(60), now + Duration.ofSeconds(60).toNanos())).isFalse();
        assertThat(e.fresh(Duration.ZERO, now)).as("a TTL of 0 keeps nothing").isFalse();
    }
}
