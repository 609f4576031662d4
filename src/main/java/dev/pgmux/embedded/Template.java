package dev.pgmux.embedded;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * A pristine data directory made by initdb, copied for each new server: a copy takes about a tenth of
 * initdb's time. Like the binaries it is kept under java.io.tmpdir across JVMs, one per binaries and
 * server user, next to the file holding its superuser's password — random, and replaced by the
 * configured one right after start. All copies share one system identifier, which independent servers
 * never compare. The template itself is never started.
 */
record Template(Path data, String password) {

    private static final Map<Path, Template> CACHE = new ConcurrentHashMap<>();
    private static final Map<Path, Object> LOCKS = new ConcurrentHashMap<>();
    /**
     * -N (no sync): these directories never need to survive a power cut, and syncing is most of initdb's
     * time on a slow disk. 1 MB WAL segments instead of 16: the first segment is most of what each new
     * server copies.
     */
    private static final List<String> INITDB_OPTIONS = List.of("-U", LocalPostgres.SUPERUSER,
            "--auth=scram-sha-256", "-E", "UTF8", "--no-locale", "-N", "--no-instructions", "--wal-segsize=1");

    static Template forBinaries(Path binDir, ServerUser serverUser) throws IOException {
        // As in Binaries: one monitor per binaries for this JVM's threads, a FileLock for other JVMs.
        synchronized (LOCKS.computeIfAbsent(binDir, k -> new Object())) {
            Template cached = CACHE.get(binDir);
            if (cached == null) {
                cached = loadOrCreate(binDir, serverUser);
                CACHE.put(binDir, cached);
            }
            return cached;
        }
    }

    private static Template loadOrCreate(Path binDir, ServerUser serverUser) throws IOException {
        Path binaries = binDir.getParent();
        // The options' hash in the name: a template made with other options is not reused.
        Path root = binaries.resolveSibling(binaries.getFileName() + "-initdb-"
                + Integer.toHexString(INITDB_OPTIONS.hashCode()) + "-uid" + serverUser.uid());
        if (!Files.isDirectory(root)) {
            try (FileChannel channel = FileChannel.open(root.resolveSibling(root.getFileName() + ".lock"),
                    StandardOpenOption.CREATE, StandardOpenOption.WRITE)) {
                channel.lock(); // released when the channel closes
                if (!Files.isDirectory(root)) {
                    create(binDir, serverUser, root);
                }
            }
        }
        return new Template(root.resolve("data"), Files.readString(root.resolve("password")).strip());
    }

    private static void create(Path binDir, ServerUser serverUser, Path root) throws IOException {
        Path staging = serverUser.newDir(root.getParent(), root.getFileName() + ".staging-");
        try {
            Path password = staging.resolve("password");
            byte[] random = new byte[18];
            new SecureRandom().nextBytes(random);
            Files.writeString(password, Base64.getUrlEncoder().encodeToString(random) + "\n");
            Files.setPosixFilePermissions(password, PosixFilePermissions.fromString("rw-------"));
            serverUser.own(password);
            List<String> initdb = new ArrayList<>(List.of(binDir.resolve("initdb").toString(),
                    "-D", staging.resolve("data").toString(), "--pwfile=" + password));
            initdb.addAll(INITDB_OPTIONS);
            serverUser.run(initdb, staging);
            // Appears complete or not at all, for JVMs that look without the lock.
            Files.move(staging, root, StandardCopyOption.ATOMIC_MOVE);
        } finally {
            Binaries.deleteTree(staging);
        }
    }
}
