package dev.pgmux.pool;

import dev.pgmux.server.ServerConnection;
import io.netty.channel.EventLoop;
import java.net.InetSocketAddress;
import java.util.List;
import java.util.Map;

/**
 * A logged-in server connection that belongs to a {@link Pool}: what it was logged in with, what it told at login
 * (the reported settings and its cancel key, handed to each client it serves as a fresh backend would), and the
 * statements pgmux prepared on it.
 */
public final class PooledServer {
    private final Pool pool;
    private final ServerConnection connection;
    private final EventLoop loop;
    private final Tag tag;
    private final List<Map.Entry<String, String>> loginParameters;
    private final int processId;
    private final byte[] secret;
    private final long createdNanos = System.nanoTime();
    private final ServerStatements statements = new ServerStatements(ServerStatements.DEFAULT_CAPACITY);
    private final long createdMillis = System.currentTimeMillis();
    private volatile long releasedNanos = createdNanos;
    private final IdleOwner idleOwner = new IdleOwner(this);
    /** Settings a client SET on this server since its login or last reset: name → value as written. */
    private final Map<String, String> settings = new java.util.LinkedHashMap<>();

    PooledServer(Pool pool, ServerConnection connection, EventLoop loop, Tag tag,
                 List<Map.Entry<String, String>> loginParameters, int processId, byte[] secret) {
        this.pool = pool;
        this.connection = connection;
        this.loop = loop;
        this.tag = tag;
        this.loginParameters = List.copyOf(loginParameters);
        this.processId = processId;
        this.secret = secret;
    }

    /** What hears the connection while it waits in its pool. */
    IdleOwner idleOwner() {
        return idleOwner;
    }

    public Pool pool() {
        return pool;
    }

    public ServerConnection connection() {
        return connection;
    }

    public EventLoop loop() {
        return loop;
    }

    public Tag tag() {
        return tag;
    }

    /** The ParameterStatus values the server sent at login, in its order. */
    public List<Map.Entry<String, String>> loginParameters() {
        return loginParameters;
    }

    public int processId() {
        return processId;
    }

    public byte[] secret() {
        return secret.clone();
    }

    /** The address of the host it is connected to, or null once closed. */
    public InetSocketAddress address() {
        ServerConnection.Host h = connection.host();
        return h == null ? null : h.address();
    }

    /** Settings SET on this server over its startup values (transaction pooling); touched on its loop only. */
    public Map<String, String> settings() {
        return settings;
    }

    /** The statements pgmux prepared on this server (transaction pooling). */
    public ServerStatements statements() {
        return statements;
    }

    /** When it was opened (wall clock), for the console. */
    public long createdMillis() {
        return createdMillis;
    }

    /** When it last came back to its pool ({@link System#nanoTime()}). */
    public long releasedNanos() {
        return releasedNanos;
    }

    /** Whether it is to be closed when it comes back (RECONNECT on the console). */
    public boolean closeNeeded() {
        return pool.closeNeeded(createdNanos);
    }

    long ageNanos(long now) {
        return now - createdNanos;
    }

    long idleNanos(long now) {
        return now - releasedNanos;
    }

    void released(long now) {
        releasedNanos = now;
    }

    @Override
    public String toString() {
        return "PooledServer[pool=" + pool.name() + ", pid=" + processId + "]";
    }
}
