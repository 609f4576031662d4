package dev.pgmux.embedded;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Comparator;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import java.util.zip.ZipEntry;
import java.util.zip.ZipFile;

/**
 * Finds the PostgreSQL server binaries of one major version and unpacks them once per machine.
 *
 * <p>The build copies the zonky binaries jar of each version to {@code target/postgres/<major>/postgres.jar};
 * the jar holds a single {@code postgres-linux-x86_64.txz}. It is unpacked under {@code java.io.tmpdir}, not
 * under {@code target/}, because when running as root the server runs as {@code nobody}, which must be able
 * to traverse every parent directory of the binaries, and a project checked out under {@code /root} (mode 700)
 * would not allow that.
 */
public final class Binaries {

    /** System property naming the folder that holds {@code <major>/postgres.jar}. */
    public static final String DIR_PROPERTY = "pgmux.postgres.dir";

    private static final String ARCHIVE = "postgres-linux-x86_64.txz";
    private static final String MARKER = ".complete";
    private static final Set<PosixFilePermission> RWXR_XR_X = PosixFilePermissions.fromString("rwxr-xr-x");

    private static final Map<String, Path> CACHE = new ConcurrentHashMap<>();
    private static final Map<String, Object> LOCKS = new ConcurrentHashMap<>();

    private Binaries() {}

    /**
     * Returns the {@code bin} directory (holding initdb, pg_ctl and postgres) of the given major version,
     * unpacking the binaries first if no earlier run did.
     */
    public static Path forVersion(String major) {
        Path cached = CACHE.get(major);
        if (cached != null) {
            return cached;
        }
        // One monitor per version serialises the threads of this JVM (FileLock only guards against other
        // JVMs and throws OverlappingFileLockException when two threads of one JVM take it), while two
        // versions still unpack in parallel.
        synchronized (LOCKS.computeIfAbsent(major, k -> new Object())) {
            cached = CACHE.get(major);
            if (cached == null) {
                cached = locate(major);
                CACHE.put(major, cached);
            }
            return cached;
        }
    }

    private static Path locate(String major) {
        if (!major.matches("\\d+")) {
            throw new IllegalArgumentException("PostgreSQL major version must be a number such as 17: " + major);
        }
        Path jar = Path.of(System.getProperty(DIR_PROPERTY, "target/postgres"), major, "postgres.jar")
                .toAbsolutePath().normalize();
        if (!Files.isRegularFile(jar)) {
            throw new IllegalStateException("PostgreSQL " + major + " binaries not found at " + jar
                    + ": run ./mvnw generate-resources, or point -D" + DIR_PROPERTY
                    + " at a folder holding <major>/postgres.jar");
        }
        try {
            Path tmp = Path.of(System.getProperty("java.io.tmpdir")).toAbsolutePath();
            // Size and mtime in the name: a newer jar (another patch release) gets a fresh folder.
            String name = "pgmux-postgres-" + major + "-" + Files.size(jar) + "-"
                    + Files.getLastModifiedTime(jar).toMillis();
            Path target = tmp.resolve(name);
            if (!Files.exists(target.resolve(MARKER))) {
                extractLocked(jar, tmp, target);
            }
            return target.resolve("bin");
        } catch (IOException e) {
            throw new UncheckedIOException("cannot unpack PostgreSQL " + major + " binaries from " + jar, e);
        }
    }

    private static void extractLocked(Path jar, Path tmp, Path target) throws IOException {
        Path lockFile = tmp.resolve(target.getFileName() + ".lock");
        try (FileChannel channel = FileChannel.open(lockFile, StandardOpenOption.CREATE, StandardOpenOption.WRITE)) {
            channel.lock(); // released when the channel closes
            // Another JVM may have finished while this one waited for the lock.
            if (Files.exists(target.resolve(MARKER))) {
                return;
            }
            deleteTree(target); // leftovers of a run that died half-way
            Path staging = Files.createTempDirectory(tmp, target.getFileName() + ".staging-");
            try {
                unpack(jar, staging);
                Files.writeString(staging.resolve(MARKER), jar + "\n", StandardCharsets.UTF_8);
                // Appears complete or not at all, for JVMs that look without the lock.
                Files.move(staging, target, StandardCopyOption.ATOMIC_MOVE);
            } finally {
                deleteTree(staging);
            }
        }
    }

    private static void unpack(Path jar, Path staging) throws IOException {
        Path txz = staging.resolve(ARCHIVE);
        try (ZipFile zip = new ZipFile(jar.toFile())) {
            ZipEntry entry = zip.getEntry(ARCHIVE);
            if (entry == null) {
                throw new IOException(jar + " does not contain " + ARCHIVE);
            }
            try (InputStream in = zip.getInputStream(entry)) {
                Files.copy(in, txz);
            }
        }
        // The system tar: xz is not in the JDK, and tar keeps the symlinks of lib/ intact.
        Process tar = new ProcessBuilder("tar", "xJf", txz.toString(), "-C", staging.toString())
                .redirectErrorStream(true)
                .start();
        String output = new String(tar.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        try {
            if (!tar.waitFor(120, TimeUnit.SECONDS)) {
                tar.destroyForcibly();
                throw new IOException("tar did not finish unpacking " + txz);
            }
        } catch (InterruptedException e) {
            tar.destroyForcibly();
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while unpacking " + txz, e);
        }
        if (tar.exitValue() != 0) {
            throw new IOException("tar xJf " + txz + " failed (exit " + tar.exitValue() + "): " + output.strip());
        }
        Files.delete(txz);
        makeWorldReadable(staging);
    }

    /** The server may run as another user (nobody, when we are root): it must read everything here. */
    private static void makeWorldReadable(Path root) throws IOException {
        try (Stream<Path> paths = Files.walk(root)) {
            for (Path p : (Iterable<Path>) paths::iterator) {
                if (Files.isSymbolicLink(p)) {
                    continue;
                }
                if (Files.isDirectory(p)) {
                    Files.setPosixFilePermissions(p, RWXR_XR_X);
                } else {
                    Set<PosixFilePermission> perms = Files.getPosixFilePermissions(p);
                    perms.add(PosixFilePermission.GROUP_READ);
                    perms.add(PosixFilePermission.OTHERS_READ);
                    Files.setPosixFilePermissions(p, perms);
                }
            }
        }
    }

    static void deleteTree(Path root) throws IOException {
        if (!Files.exists(root, LinkOption.NOFOLLOW_LINKS)) {
            return;
        }
        try (Stream<Path> paths = Files.walk(root)) {
            for (Path p : (Iterable<Path>) paths.sorted(Comparator.reverseOrder())::iterator) {
                Files.deleteIfExists(p);
            }
        }
    }
}
