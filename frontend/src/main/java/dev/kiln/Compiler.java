package dev.kiln;

import dev.kiln.ir.Graph;
import dev.kiln.passes.DumpDir;
import dev.kiln.passes.GraphDump;
import dev.kiln.runtime.Executable;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.Supplier;

/// The compile cache shared by eager realization, backward, compiled models and train steps:
/// an executable per distinct graph key, compiled once through the current backend. Bounded (least
/// recently used entries go first) so a program that keeps making new graphs does not grow without
/// limit. Invariant: `misses()` counts exactly the graphs handed to the backend.
final class Compiler {
    private Compiler() {}

    private static final int CAPACITY = 1024;
    private static final Map<String, Executable> CACHE = new LinkedHashMap<>(64, 0.75f, true) {
        @Override protected boolean removeEldestEntry(Map.Entry<String, Executable> e) { return size() > CAPACITY; }
    };
    private static long misses, hits;
    private static Backend backend;

    static synchronized Backend backend() {
        if (backend == null) backend = Backend.named(System.getProperty("kiln.backend", "jvm"));
        return backend;
    }

    static synchronized void setBackend(Backend b) {
        backend = b;
        CACHE.clear();
    }

    /// The executable for the graph that `graph` builds, compiling it on a miss. `key` must
    /// determine the graph's function (see GraphKey). Each graph compiled gets a numbered
    /// subdirectory of the dump directory (`-Dkiln.dumpDir` or `KILN_DUMP_DIR`) when one is set.
    static Executable get(String key, Supplier<Graph> graph) { return get(key, graph, null); }

    /// As `get(key, graph)`; with `dumpDir` not null, the graph is compiled again (a hit too)
    /// so that its stages are written there.
    static Executable get(String key, Supplier<Graph> graph, Path dumpDir) {
        Backend b;
        synchronized (Compiler.class) {
            Executable e = dumpDir == null ? CACHE.get(key) : null;
            if (e != null) {
                hits++;
                return e;
            }
            misses++;
            b = backend();
        }
        Graph g = graph.get();
        if (Boolean.getBoolean("kiln.logCompiles"))
            System.err.println("kiln: compiling graph #" + misses() + " with " + b.name() + ":\n" + dev.kiln.ir.text.Printer.print(g, true));
        GraphDump dump = dump(g, dumpDir);
        Executable e = b.compile(Pipeline.optimize(g, b, dump), dump);
        synchronized (Compiler.class) {
            CACHE.put(key, e);
        }
        return e;
    }

    static Executable get(Graph g) { return get(GraphKey.of(g), () -> g, null); }

    static Executable get(Graph g, Path dumpDir) { return get(GraphKey.of(g), () -> g, dumpDir); }

    /// A new subdirectory for `g`'s stages in `dumpDir`, else in the directory `-Dkiln.dumpDir` or
    /// `KILN_DUMP_DIR` names; null when there is none.
    static GraphDump dump(Graph g, Path dumpDir) {
        DumpDir dumps = dumpDir != null ? DumpDir.at(dumpDir) : DumpDir.configured();
        return dumps == null ? null : dumps.graph(g.name());
    }

    static synchronized long misses() { return misses; }
    static synchronized long hits() { return hits; }

    static synchronized void clear() {
        CACHE.clear();
        misses = 0;
        hits = 0;
    }
}
