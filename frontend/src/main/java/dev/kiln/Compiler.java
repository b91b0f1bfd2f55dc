package dev.kiln;

import dev.kiln.codegen.cuda.CudaBackend;
import dev.kiln.ir.Graph;
import dev.kiln.passes.DumpDir;
import dev.kiln.passes.GraphDump;
import dev.kiln.runtime.Executable;
import dev.kiln.runtime.NdArray;

import java.lang.ref.Cleaner;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;

/// The compile cache shared by eager realization, backward, compiled models and train steps:
/// an executable per distinct graph key and device, compiled once through that device's backend
/// (the CPU's: the current backend; `cuda`'s: the CUDA backend). Bounded (least
/// recently used entries go first) so a program that keeps making new graphs does not grow without
/// limit.
///
/// The cache holds each executable once (see `Executable.retain`); `get` adds a hold for its
/// caller, who closes it when done (`run` for a single call; `hold` for an owner such as a
/// compiled model, whose hold goes when it becomes unreachable). An entry dropped from the cache
/// (evicted, replaced, `clear`, `setBackend`) is closed, so a CUDA program's device memory is
/// freed as soon as no model or train step uses it.
/// Invariant: `misses()` counts exactly the graphs handed to the backend.
final class Compiler {
    private Compiler() {}

    private static final int CAPACITY = 1024;
    private static final Map<String, Executable> CACHE = new LinkedHashMap<>(64, 0.75f, true) {
        @Override protected boolean removeEldestEntry(Map.Entry<String, Executable> e) {
            if (size() <= CAPACITY) return false;
            e.getValue().close();
            return true;
        }
    };
    private static final Cleaner OWNERS = Cleaner.create();
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
        dropAll();
    }

    /// The executable for the graph that `graph` builds, on `device`'s backend, compiling it on a
    /// miss, with a hold for the caller (close it when done). `key` must determine the graph's
    /// function (see GraphKey). Each graph compiled gets a numbered subdirectory of the dump
    /// directory (`-Dkiln.dumpDir` or `KILN_DUMP_DIR`) when one is set.
    static Executable get(String key, Supplier<Graph> graph, Device device) { return get(key, graph, device, null); }

    /// As `get(key, graph, device)`; with `dumpDir` not null, the graph is compiled again (a hit
    /// too) so that its stages are written there.
    static Executable get(String key, Supplier<Graph> graph, Device device, Path dumpDir) {
        Backend b;
        synchronized (Compiler.class) {
            b = backend(device);
            key = b.name() + " " + key;
            Executable e = dumpDir == null ? CACHE.get(key) : null;
            if (e != null) {
                hits++;
                return e.retain();
            }
            misses++;
        }
        Graph g = graph.get();
        if (Boolean.getBoolean("kiln.logCompiles"))
            System.err.println("kiln: compiling graph #" + misses() + " with " + b.name() + ":\n" + dev.kiln.ir.text.Printer.print(g, true));
        GraphDump dump = dump(g, dumpDir);
        Executable e = b.compile(Pipeline.optimize(g, b, dump), dump);
        synchronized (Compiler.class) {
            Executable old = CACHE.put(key, e);
            if (old != null && old != e) old.close();
            return e.retain();
        }
    }

    /// Runs the graph `g` once on `device` (compiling it on a miss) and lets go of it.
    static List<NdArray> run(Graph g, Device device, List<NdArray> inputs) {
        Executable e = get(g, device);
        try {
            return e.run(inputs);
        } finally {
            e.close();
        }
    }

    /// Ties the caller's hold on `e` (from `get`) to `owner`: it is closed once `owner` is
    /// unreachable, or when the returned cleanable is cleaned (whichever comes first).
    static Cleaner.Cleanable hold(Object owner, Executable e) { return OWNERS.register(owner, e::close); }

    static Executable get(Graph g, Device device) { return get(GraphKey.of(g), () -> g, device, null); }

    static Executable get(Graph g, Device device, Path dumpDir) { return get(GraphKey.of(g), () -> g, device, dumpDir); }

    /// A new subdirectory for `g`'s stages in `dumpDir`, else in the directory `-Dkiln.dumpDir` or
    /// `KILN_DUMP_DIR` names; null when there is none.
    static GraphDump dump(Graph g, Path dumpDir) {
        DumpDir dumps = dumpDir != null ? DumpDir.at(dumpDir) : DumpDir.configured();
        return dumps == null ? null : dumps.graph(g.name());
    }

    static synchronized long misses() { return misses; }
    static synchronized long hits() { return hits; }

    /// Empties the cache, closing its entries, and gives the GPU memory they leave cached back.
    static void clear() {
        synchronized (Compiler.class) {
            dropAll();
            misses = 0;
            hits = 0;
        }
        CudaBackend.releaseCachedMemory();
    }

    private static void dropAll() {
        List<Executable> dropped = List.copyOf(CACHE.values());
        CACHE.clear();
        for (Executable e : dropped) e.close();
    }
}
