package dev.pgmux.session;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

class SessionSetTest {

    @ParameterizedTest
    @CsvSource(delimiter = '|', quoteCharacter = '`', value = {
            "SET extra_float_digits = 3|extra_float_digits|3",
            "set Application_Name to 'PostgreSQL JDBC Driver'|application_name|'PostgreSQL JDBC Driver'",
            "  SET SESSION work_mem='64MB';|work_mem|'64MB'",
            "set search_path = public, \"My Schema\"|search_path|public, \"My Schema\"",
            "set myapp.tenant = 'acme'|myapp.tenant|'acme'",
    })
    void plainSetsAreCarried(String sql, String name, String value) {
        SessionSet s = SessionSet.parse(sql);
        assertThat(s).isEqualTo(new SessionSet(name, value));
        assertThat(SessionSet.parse(s.statement())).isEqualTo(s);
    }

    @Test
    void resetsAndDefaults() {
        assertThat(SessionSet.parse("RESET work_mem")).isEqualTo(new SessionSet("work_mem", null));
        assertThat(SessionSet.parse("reset all;")).isEqualTo(new SessionSet(null, null));
        assertThat(SessionSet.parse("set work_mem to default")).isEqualTo(new SessionSet("work_mem", null));
        assertThat(new SessionSet(null, null).statement()).isEqualTo("RESET ALL");
        assertThat(new SessionSet("work_mem", null).statement()).isEqualTo("RESET work_mem");
    }

    @ParameterizedTest
    @ValueSource(strings = {
            "SET ROLE bob", "set role = bob", "SET SESSION AUTHORIZATION bob", "SET TIME ZONE 'UTC'", "SET NAMES 'UTF8'",
            "SET SCHEMA 'x'", "SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY", "SET LOCAL work_mem = '1MB'",
            "SET TRANSACTION ISOLATION LEVEL SERIALIZABLE", "SET CONSTRAINTS ALL DEFERRED",
            "set work_mem = '1MB'; select 1", "set work_mem = '1MB' -- note", "set work_mem = $$1MB$$",
            "set a = E'x\\\\'", "set work_mem", "select 1", "RESET work_mem, x", "set \"Work_Mem\" = 1",
    })
    void anythingElseIsNotCarried(String sql) {
        assertThat(SessionSet.parse(sql)).isNull();
    }
}
