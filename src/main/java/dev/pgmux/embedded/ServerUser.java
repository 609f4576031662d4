package dev.pgmux.embedded;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * Who runs initdb, pg_ctl and postgres: the JVM's own user, or {@code nobody} when the JVM is root
 * (PostgreSQL refuses uid 0). {@code prefix} is the command that switches to that user ({@code setpriv}, or
 * {@code runuser} where setpriv is missing), empty when no switch is needed.
 */
record ServerUser(List<String> prefix, int uid, int gid, String name) {

    private static final Set<PosixFilePermission> TRAVERSE = Set.of(PosixFilePermission.OTHERS_EXECUTE);

    private static final class Holder {
        static final ServerUser CURRENT = detect();
    }

    static ServerUser current() {
        return Holder.CURRENT;
    }

    private static ServerUser detect() {
        String ownUid = Commands.output("id", "-u");
        boolean root = "root".equals(System.getProperty("user.name")) || "0".equals(ownUid);
        if (!root) {
            return new ServerUser(List.of(), Integer.parseInt(ownUid), Integer.parseInt(Commands.output("id", "-g")),
                    System.getProperty("user.name"));
        }
        int uid = Integer.parseInt(Commands.output("id", "-u", "nobody"));
        Optional<Path> setpriv = Commands.onPath("setpriv");
        if (setpriv.isPresent()) {
            // nogroup where it exists (Debian), else nobody's own group.
            String nogroup = Commands.output("getent", "group", "nogroup");
            int gid = nogroup.isEmpty()
                    ? Integer.parseInt(Commands.output("id", "-g", "nobody"))
                    : Integer.parseInt(nogroup.split(":")[2]);
            return new ServerUser(List.of(setpriv.get().toString(), "--reuid=" + uid, "--regid=" + gid,
                    "--clear-groups", "--"), uid, gid, "nobody");
        }
        Path runuser = Commands.onPath("runuser").orElseThrow(() -> new IllegalStateException(
                "running as root, but neither setpriv nor runuser is on the PATH to run PostgreSQL as nobody"));
        int gid = Integer.parseInt(Commands.output("id", "-g", "nobody"));
        return new ServerUser(List.of(runuser.toString(), "-u", "nobody", "--"), uid, gid, "nobody");
    }

    boolean switches() {
        return !prefix.isEmpty();
    }

    List<String> wrap(List<String> command) {
        List<String> all = new ArrayList<>(prefix);
        all.addAll(command);
        return all;
    }

    /** Runs a command as this user in {@code workDir}, a directory this user can enter; see {@link Commands#run}. */
    String run(List<String> command, Path workDir) {
        return Commands.run(wrap(command), workDir, Commands.TIMEOUT);
    }

    void own(Path path) throws IOException {
        if (switches()) {
            Files.setAttribute(path, "unix:uid", uid);
            Files.setAttribute(path, "unix:gid", gid);
        }
    }

    /** A fresh directory under {@code parent} that only this user may enter. */
    Path newDir(Path parent, String prefix) throws IOException {
        requireReachable(parent);
        Path dir = Files.createTempDirectory(parent, prefix);
        Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwx------"));
        own(dir);
        return dir;
    }

    /** This user must be able to traverse every parent of the binaries and of its data directory. */
    void requireReachable(Path dir) throws IOException {
        if (!switches()) {
            return;
        }
        for (Path p = dir.toRealPath(); p != null; p = p.getParent()) {
            if (!Files.getPosixFilePermissions(p).containsAll(TRAVERSE)
                    && !Integer.valueOf(uid).equals(Files.getAttribute(p, "unix:uid"))) {
                throw new IllegalStateException("PostgreSQL runs as " + name + " (the JVM is root), who cannot"
                        + " enter " + p + " on the way to " + dir + ": use a java.io.tmpdir every user can reach");
            }
        }
    }
}
