package dev.pgmux.compat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;

/**
 * The node packages of {@code compat/node} (node-postgres, pg-copy-streams, pg-cursor, postgres.js), installed by
 * {@code npm ci} from the committed lockfile, again only when the lockfile changed (a stamp in node_modules says for
 * which one it was done; npm ci empties node_modules first).
 */
final class NodePackages {
    static final Path DIR = Path.of("compat", "node").toAbsolutePath();
    static final Path STAMP = DIR.resolve("node_modules/.pgmux-lockfile-sha256");
    static final Duration NPM_TIMEOUT = Duration.ofMinutes(3);

    private NodePackages() {}

    /** Why node programs cannot run here, or null when node, npm and the packages are there. */
    static synchronized String install() throws IOException, InterruptedException, NoSuchAlgorithmException {
        if (!onPath("node") || !onPath("npm")) {
            return "node and npm are not installed (Debian: nodejs npm)";
        }
        String lock = sha256(DIR.resolve("package.json"), DIR.resolve("package-lock.json"));
        if (Files.exists(STAMP) && Files.readString(STAMP).equals(lock)) {
            return null;
        }
        // --ignore-scripts: none of these packages needs an install step, and none gets to run one
        ProgramRun npm = ProgramRun.run(DIR, NPM_TIMEOUT,
                List.of("npm", "ci", "--no-audit", "--no-fund", "--ignore-scripts"), Map.of());
        if (!npm.ok()) {
            return "npm ci failed: " + npm.describe();
        }
        Files.writeString(STAMP, lock);
        return null;
    }

    static String sha256(Path... files) throws IOException, NoSuchAlgorithmException {
        MessageDigest sha = MessageDigest.getInstance("SHA-256");
        for (Path file : files) {
            sha.update(Files.readAllBytes(file));
        }
        return HexFormat.of().formatHex(sha.digest());
    }

    static boolean onPath(String tool) {
        for (String dir : System.getenv().getOrDefault("PATH", "").split(":")) {
            if (!dir.isEmpty() && Files.isExecutable(Path.of(dir, tool))) {
                return true;
            }
        }
        return false;
    }
}
