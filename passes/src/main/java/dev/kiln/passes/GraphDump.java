package dev.kiln.passes;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/// The dumps of one compiled graph: a directory of numbered stages in the order the graph goes
/// through them, and `index.txt` with one line per stage (file, time spent making it, counts):
///
/// ```
/// 00-input.kir                0.000 ms  ops=27  kernels=0  ops-in-kernels=0
/// 01-simplify.kir             0.412 ms  ops=27  kernels=0  ops-in-kernels=0
/// ...
/// 05-fuse.kir                 1.020 ms  ops=7  kernels=4  ops-in-kernels=24
/// 06-fuse-report.txt                 -  kernels=4
/// 07-kernels.txt              0.803 ms  kernels=5  buffers=13
/// 08-bytecode.txt             2.911 ms  classes=1  bytes=2597
/// ```
///
/// Graph stages (`.kir`) are the printer's text, which parses back: each is a reproducer. The
/// pass manager writes the graph stages, the backend its own (kernel IR, bytecode or PTX).
/// Every file is written whole (a temporary file renamed into place), and the index after each.
public final class GraphDump {
    /// One file of the dump: its name, the time its stage took (negative: none of its own), its counts.
    public record Stage(String file, long nanos, Map<String, Long> counts) {
        public Stage {
            counts = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(counts));
        }

        String line() {
            StringBuilder s = new StringBuilder(String.format(Locale.ROOT, "%-24s %11s ", file,
                    nanos < 0 ? "-" : String.format(Locale.ROOT, "%.3f ms", nanos / 1e6)));
            counts.forEach((k, v) -> s.append(' ').append(k).append('=').append(v).append(' '));
            return s.toString().stripTrailing();
        }
    }

    private final DumpDir parent;
    private final Path dir;
    private final String graphName;
    private final List<Stage> stages = new ArrayList<>();
    private int next;

    GraphDump(DumpDir parent, Path dir, String graphName) {
        this.parent = parent;
        this.dir = dir;
        this.graphName = graphName;
    }

    public Path dir() { return dir; }

    public String graphName() { return graphName; }

    public synchronized List<Stage> stages() { return List.copyOf(stages); }

    /// The number the next stage gets.
    public synchronized int nextNumber() { return next; }

    /// Passes over a stage number without writing it (a stage the caller chose not to dump).
    public synchronized void skip() { next++; }

    /// Writes the next stage as `NN-name.ext`; `nanos` is the time its stage took (negative when
    /// it has none of its own, e.g. a report), `counts` what the index line says about it.
    public synchronized Path stage(String name, String ext, String text, long nanos, Map<String, Long> counts) {
        String file = String.format(Locale.ROOT, "%02d-%s.%s", next++, name, ext);
        Path path = dir.resolve(file);
        DumpDir.write(path, text.isEmpty() || text.endsWith("\n") ? text : text + "\n");
        stages.add(new Stage(file, nanos, counts));
        List<String> lines = new ArrayList<>();
        for (Stage s : stages) lines.add(s.line());
        DumpDir.write(dir.resolve("index.txt"), String.join("\n", lines) + "\n");
        parent.update(this);
        return path;
    }

    /// `key=value` counts in order: `counts("ops", 5, "kernels", 2)`.
    public static Map<String, Long> counts(Object... keyValues) {
        Map<String, Long> m = new LinkedHashMap<>();
        for (int i = 0; i < keyValues.length; i += 2) m.put((String) keyValues[i], ((Number) keyValues[i + 1]).longValue());
        return m;
    }

    /// The top-level index's line: the subdirectory, the graph, its stages and time, the op count
    /// of the first graph stage and the counts of the last stage.
    synchronized String summary() {
        long total = 0;
        for (Stage s : stages) total += Math.max(0, s.nanos());
        StringBuilder line = new StringBuilder(String.format(Locale.ROOT, "%-24s @%s  stages=%d  %.3f ms", dir.getFileName(), graphName,
                stages.size(), total / 1e6));
        if (!stages.isEmpty() && stages.getFirst().counts().containsKey("ops"))
            line.append("  input-ops=").append(stages.getFirst().counts().get("ops"));
        Stage lastGraph = null;
        for (Stage s : stages) if (s.file().endsWith(".kir")) lastGraph = s;
        if (lastGraph != null) line.append("  ops=").append(lastGraph.counts().get("ops")).append("  kernels=")
                .append(lastGraph.counts().get("kernels"));
        return line.toString();
    }
}
