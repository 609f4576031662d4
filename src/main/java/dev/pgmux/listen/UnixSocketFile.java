package dev.pgmux.listen;

import java.io.IOException;
import java.net.ConnectException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermission;
import java.util.EnumSet;
import java.util.Objects;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One Unix-domain socket file, {@code DIR/.s.PGSQL.PORT} as PostgreSQL names it, so that {@code psql -h DIR -p PORT}
 * finds it. The socket is bound under a temporary name in the same directory, given its mode, then renamed over
 * the final name in one step ({@code rename(2)} replaces atomically): a client connecting at any moment finds a
 * listening socket there, this process's or the one it replaces.
 *
 * <p>What may already be at the path: nothing; a socket nobody listens on (left by a process that was killed),
 * replaced; a socket a process of the same user listens on (a previous pgmux during a rolling restart), taken over
 * as {@code SO_REUSEPORT} lets a process of the same user share a TCP port; a socket of another user's process (a
 * PostgreSQL server, say), or anything that is not a socket: pgmux refuses to start. At the end the file is removed
 * only while it is still this process's (same device and inode), not once a newer process has taken it over.
 */
final class UnixSocketFile {
    private static final Logger log = LoggerFactory.getLogger(UnixSocketFile.class);
    /** {@code sun_path} holds 108 bytes on Linux, with the terminating NUL. */
    static final int MAX_PATH_BYTES = 107;
    /** {@code S_IFMT} and {@code S_IFSOCK} of {@code stat(2)}. */
    private static final int S_IFMT = 0170000;
    private static final int S_IFSOCK = 0140000;

    /** What is at the path before this process binds it. */
    enum Found { NOTHING, STALE, LIVE, NOT_A_SOCKET }

    private final Path path;
    private final Path temp;
    private Object fileKey;

    UnixSocketFile(Path dir, int port) {
        this.path = path(dir, port);
        this.temp = dir.resolve(path.getFileName() + "." + ProcessHandle.current().pid());
    }

    /** The socket file PostgreSQL clients look for: {@code DIR/.s.PGSQL.PORT}. */
    static Path path(Path dir, int port) {
        return dir.resolve(".s.PGSQL." + port);
    }

    /**
     * Why the path cannot be a socket's (too long for {@code sun_path}, counting the temporary name bound first,
     * whose process id may have up to 7 digits), or null.
     */
    String pathProblem() {
        int bytes = path.toString().getBytes(StandardCharsets.UTF_8).length + 8;
        return bytes <= MAX_PATH_BYTES ? null : "the socket path " + path + " is too long (at most "
                + (MAX_PATH_BYTES - 8) + " bytes)";
    }

    Path path() {
        return path;
    }

    Path temp() {
        return temp;
    }

    /** Looks at the path: is there a socket, and does a process listen on it? */
    Found probe() throws IOException {
        int mode;
        try {
            mode = (Integer) Files.getAttribute(path, "unix:mode", LinkOption.NOFOLLOW_LINKS);
        } catch (NoSuchFileException e) {
            return Found.NOTHING;
        }
        if ((mode & S_IFMT) != S_IFSOCK) {
            return Found.NOT_A_SOCKET;
        }
        try (SocketChannel probe = SocketChannel.open(StandardProtocolFamily.UNIX)) {
            probe.configureBlocking(false); // a listener with a full backlog must not hang the start
            probe.connect(UnixDomainSocketAddress.of(path));
            return Found.LIVE;
        } catch (ConnectException e) {
            return Found.STALE; // ECONNREFUSED: a socket file nobody listens on
        } catch (IOException e) {
            throw new IOException("cannot check " + path + ": " + e.getMessage(), e);
        }
    }

    /** Before binding: no temporary file left by an earlier process with the same pid. */
    void clearTemp() throws IOException {
        Files.deleteIfExists(temp);
    }

    /**
     * After binding the temporary name: sets its mode and renames it over the final name.
     *
     * @param found what {@link #probe()} saw at the path
     * @throws IOException if the path belongs to another user's live socket or is not a socket (nothing renamed)
     */
    void publish(Found found, int mode) throws IOException {
        Files.setPosixFilePermissions(temp, permissions(mode));
        switch (found) {
            case NOT_A_SOCKET -> throw new IOException(path + " exists and is not a socket");
            case LIVE -> {
                Object owner = Files.getAttribute(path, "unix:uid", LinkOption.NOFOLLOW_LINKS);
                Object self = Files.getAttribute(temp, "unix:uid", LinkOption.NOFOLLOW_LINKS);
                if (!owner.equals(self)) {
                    throw new IOException("another user's process listens on " + path);
                }
                log.info("taking over {} from the process listening on it (a rolling restart)", path);
            }
            case STALE -> log.info("replacing {}: no process listens on it", path);
            case NOTHING -> {
            }
        }
        Files.move(temp, path, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        fileKey = Files.readAttributes(path, "unix:ino,dev", LinkOption.NOFOLLOW_LINKS);
    }

    /** Removes the socket file if it is still the one this process published; returns whether it did. */
    boolean removeIfOurs() {
        if (fileKey == null) {
            return false;
        }
        try {
            if (!Objects.equals(Files.readAttributes(path, "unix:ino,dev", LinkOption.NOFOLLOW_LINKS), fileKey)) {
                log.info("leaving {}: another process has taken it over", path);
                return false;
            }
            Files.delete(path);
            return true;
        } catch (NoSuchFileException e) {
            return false;
        } catch (IOException e) {
            log.warn("could not remove {}: {}", path, e.toString());
            return false;
        } finally {
            fileKey = null;
        }
    }

    /** Also removes the temporary name, for a bind that failed half-way. */
    void removeTemp() {
        try {
            Files.deleteIfExists(temp);
        } catch (IOException e) {
            log.debug("could not remove {}: {}", temp, e.toString());
        }
    }

    /** {@code 0777}-style octal mode bits as permissions (setuid and the like are not for sockets). */
    static Set<PosixFilePermission> permissions(int mode) {
        Set<PosixFilePermission> p = EnumSet.noneOf(PosixFilePermission.class);
        PosixFilePermission[] order = {
            PosixFilePermission.OWNER_READ, PosixFilePermission.OWNER_WRITE, PosixFilePermission.OWNER_EXECUTE,
            PosixFilePermission.GROUP_READ, PosixFilePermission.GROUP_WRITE, PosixFilePermission.GROUP_EXECUTE,
            PosixFilePermission.OTHERS_READ, PosixFilePermission.OTHERS_WRITE, PosixFilePermission.OTHERS_EXECUTE
        };
        for (int i = 0; i < order.length; i++) {
            if ((mode & (0400 >> i)) != 0) {
                p.add(order[i]);
            }
        }
        return p;
    }
}
