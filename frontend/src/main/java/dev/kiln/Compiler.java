package dev.kiln;

import dev.kiln.ir.Graph;
import dev.kiln.runtime.Executable;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.Supplier;

/// The compile cache shared by eager realization, backward, compiled models and train steps:
/// an executable per distinct graph key and device, compiled once through that device's backend
/// (the CPU's: the current backend; `cuda`'s: the CUDA backend). Bounded (least
/// recently used entries go first) so a program that keeps making new graphs does not grow without
/// limit. Invariant: `misses()` counts exactly the graphs handed to the backend.
final class Compiler {
    private Compiler() {}

    private static final int CAPACITY = 1024;
    private static final Map<String, Executable> CACHE = new LinkedHashMap<>(64, 0.75f, true) {
        @Override protected boolean removeEldestEntry(Map.Entry<String, Executable> e) { return size() > CAPACITY; }
    };
    private static long misses, hits;
    private static Backend backend, cuda;

    static synchronized Backend backend() {
        if (backend == null) backend = Backend.named(System.getProperty("kiln.backend", "jvm"));
        return backend;
    }

    /// The backend that computes tensors on `device`.
    static synchronized Backend backend(Device device) {
        if (device.kind() == Device.Kind.CPU) return backend();
        if (cuda == null) cuda = Backend.cuda();
        return cuda;
    }

    static synchronized void setBackend(Backend b) {
        backend = b;
        CACHE.clear();
    }

    /// The executable for the graph that `graph` builds, compiling it on a miss. `key` must
    /// determine the graph's function (see GraphKey).
    static Executable get(String key, Supplier<Graph> graph, Device device) {
        Backend b;
        synchronized (Compiler.class) {
            b = backend(device);
            key = b.name() + " " + key;
            Executable e = CACHE.get(key);
            if (e != null) {
                hits++;
                return e;
            }
            misses++;
        }
        Graph g = graph.get();
        if (Boolean.getBoolean("kiln.logCompiles"))
            System.err.println("kiln: compiling graph #" + misses() + " with " + b.name() + ":\n" + dev.kiln.ir.text.Printer.print(g, true));
        Executable e = b.compile(Pipeline.optimize(g, b));
        synchronized (Compiler.class) {
            CACHE.put(key, e);
        }
        return e;
    }

    static Executable get(Graph g, Device device) { return get(GraphKey.of(g), () -> g, device); }

    static synchronized long misses() { return misses; }
    static synchronized long hits() { return hits; }

    static synchronized void clear() {
        CACHE.clear();
        misses = 0;
        hits = 0;
    }
}
