package dev.kiln.passes;

import dev.kiln.runtime.AtomicFiles;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/// A directory of IR dumps: one numbered subdirectory per compiled graph (`001-train_step/`,
/// `002-eager/`, ...), each holding that graph's stages (see `GraphDump`), and `index.txt`
/// with one line per graph. Numbering continues after the subdirectories already there, so a
/// second run never overwrites the first. Where it is, when nobody says: `-Dkiln.dumpDir=DIR`,
/// else the environment variable `KILN_DUMP_DIR=DIR` (the property wins); neither means no dumps.
///
/// Thread-safety: one instance per directory in this process (`at`), and its methods are
/// synchronized, so graphs compiled on several threads get distinct numbers.
public final class DumpDir {
    private static final Map<Path, DumpDir> OPEN = new HashMap<>();
    private static final Pattern NUMBERED = Pattern.compile("(\\d{3,})-.*");

    private final Path root;
    private int next = -1; // the next graph's number, read from the directory on first use
    private final Map<String, String> index = new LinkedHashMap<>(); // subdirectory -> its index line

    DumpDir(Path root) { this.root = root; } // tests: a second process's view of the same directory

    /// The dump directory at `root` (created when the first graph is dumped).
    public static DumpDir at(Path root) {
        Path key = root.toAbsolutePath().normalize();
        synchronized (OPEN) {
            return OPEN.computeIfAbsent(key, DumpDir::new);
        }
    }

    /// The directory `-Dkiln.dumpDir` or `KILN_DUMP_DIR` names, or null when neither is set.
    public static DumpDir configured() {
        String dir = System.getProperty("kiln.dumpDir");
        if (dir == null || dir.isBlank()) dir = System.getenv("KILN_DUMP_DIR");
        return dir == null || dir.isBlank() ? null : at(Path.of(dir));
    }

    public Path root() { return root; }

    /// A new, empty, numbered subdirectory for the graph called `graphName`.
    public synchronized GraphDump graph(String graphName) {
        try {
            Files.createDirectories(root);
            if (next < 0) next = firstFreeNumber();
            String sub = String.format(java.util.Locale.ROOT, "%03d-%s", next++, graphName.replaceAll("[^A-Za-z0-9_.-]", "_"));
            Path dir = Files.createDirectory(root.resolve(sub));
            GraphDump d = new GraphDump(this, dir, graphName);
            update(d);
            return d;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create IR dump directory in " + root + ": " + e.getMessage(), e);
        }
    }

    /// Rewrites `index.txt` with `d`'s current summary.
    synchronized void update(GraphDump d) {
        index.put(d.dir().getFileName().toString(), d.summary());
        List<String> lines = new ArrayList<>(index.values());
        write(root.resolve("index.txt"), String.join("\n", lines) + "\n");
    }

    /// One past the highest number already in the directory; the lines of an index left by an
    /// earlier run are kept.
    private int firstFreeNumber() throws IOException {
        int max = 0;
        try (var entries = Files.list(root)) {
            for (Path p : entries.toList()) {
                Matcher m = NUMBERED.matcher(p.getFileName().toString());
                if (m.matches() && Files.isDirectory(p)) max = Math.max(max, Integer.parseInt(m.group(1)));
            }
        }
        Path old = root.resolve("index.txt");
        if (Files.exists(old))
            for (String line : Files.readAllLines(old, StandardCharsets.UTF_8))
                if (!line.isBlank()) index.put(line.split("\\s+", 2)[0], line);
        return max + 1;
    }

    /// Writes `file` whole or not at all (a temporary file renamed into place).
    static void write(Path file, String text) {
        try {
            AtomicFiles.write(file, text.getBytes(StandardCharsets.UTF_8));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write IR dump " + file + ": " + e.getMessage(), e);
        }
    }
}
