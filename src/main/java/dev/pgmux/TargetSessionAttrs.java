package dev.pgmux;

import java.util.Locale;

/**
 * Which of a backend's hosts a session may use, with libpq's meanings of {@code target_session_attrs}. pgmux decides
 * from the {@code in_hot_standby} and {@code default_transaction_read_only} values the server reports at the end
 * of its startup (PostgreSQL 14 and later report both).
 */
public enum TargetSessionAttrs {
    /** Any host that accepts the connection. */
    ANY,
    /** A host that is not a hot standby and whose sessions are not read-only by default. */
    READ_WRITE,
    /** A hot standby, or a host whose sessions are read-only by default. */
    READ_ONLY,
    /** A host that is not a hot standby. */
    PRIMARY,
    /** A hot standby. */
    STANDBY,
    /** A hot standby if one is reachable, else any host. */
    PREFER_STANDBY;

    /** Parses libpq spelling: {@code any}, {@code read-write}, {@code read-only}, {@code primary}, {@code standby}, {@code prefer-standby}. */
    public static TargetSessionAttrs parse(String value) {
        String v = value.trim().toLowerCase(Locale.ROOT).replace('_', '-');
        for (TargetSessionAttrs t : values()) {
            if (t.libpqName().equals(v)) {
                return t;
            }
        }
        throw new IllegalArgumentException("unknown target_session_attrs \"" + value
                + "\" (any, read-write, read-only, primary, standby, prefer-standby)");
    }

    public String libpqName() {
        return name().toLowerCase(Locale.ROOT).replace('_', '-');
    }

    /**
     * Whether a host in this state is acceptable. {@link #PREFER_STANDBY} accepts every host: it only changes the
     * order in which hosts are tried.
     *
     * @param hotStandby the server's {@code in_hot_standby}
     * @param readOnly   the server's {@code default_transaction_read_only}
     */
    public boolean accepts(boolean hotStandby, boolean readOnly) {
        return switch (this) {
            case ANY, PREFER_STANDBY -> true;
            case READ_WRITE -> !hotStandby && !readOnly;
            case READ_ONLY -> hotStandby || readOnly;
            case PRIMARY -> !hotStandby;
            case STANDBY -> hotStandby;
        };
    }

    /** Whether a host in this state is the first choice (for {@link #PREFER_STANDBY}: a standby). */
    public boolean prefers(boolean hotStandby, boolean readOnly) {
        return this == PREFER_STANDBY ? hotStandby : accepts(hotStandby, readOnly);
    }
}
