package dev.kiln.ir.text;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URISyntaxException;
import java.net.URL;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

/// Test resources in `.kir` form: files under a classpath folder, split into cases at `// -----`
/// lines (MLIR's `--split-input-file`).
public final class KirFiles {
    private KirFiles() {}

    /// One case: its text (lines of other cases left out), the file it came from and the file line it starts on.
    public record Case(String file, int firstLine, String text) {
        public String name() { return file + ":" + firstLine; }

        /// The text without comment lines and surrounding blank lines: what the printer should give.
        public String canonical() {
            StringBuilder s = new StringBuilder();
            for (String line : text.split("\n", -1)) if (!line.strip().startsWith("//")) s.append(line).append('\n');
            return s.toString().strip() + "\n";
        }
    }

    static List<Path> files(String folder) {
        URL url = KirFiles.class.getClassLoader().getResource(folder);
        if (url == null) throw new IllegalStateException("no test resource folder " + folder);
        try (Stream<Path> s = Files.list(folderPath(url.toURI()))) {
            return s.filter(p -> p.toString().endsWith(".kir")).sorted().toList();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    /// The folder as a Path, also when it lies inside a jar (the test-jar other modules read).
    private static Path folderPath(java.net.URI uri) throws IOException {
        if (!uri.getScheme().equals("jar")) return Path.of(uri);
        try {
            java.nio.file.FileSystems.newFileSystem(uri, java.util.Map.of());
        } catch (java.nio.file.FileSystemAlreadyExistsException ignored) {
            // opened by an earlier call
        }
        return Path.of(uri);
    }

    static String read(Path p) {
        try {
            return Files.readString(p);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static List<Case> cases(Path p) {
        List<Case> out = new ArrayList<>();
        String[] lines = read(p).split("\n", -1);
        StringBuilder cur = new StringBuilder();
        int first = 1;
        for (int i = 0; i < lines.length; i++) {
            if (lines[i].strip().equals("// -----")) {
                out.add(new Case(p.getFileName().toString(), first, cur.toString()));
                cur.setLength(0);
                first = i + 2;
            } else {
                cur.append(lines[i]);
                if (i + 1 < lines.length) cur.append('\n');
            }
        }
        out.add(new Case(p.getFileName().toString(), first, cur.toString()));
        return out;
    }

    public static List<Case> allCases(String folder) {
        List<Case> out = new ArrayList<>();
        for (Path p : files(folder)) out.addAll(cases(p));
        return out;
    }
}
