package dev.kiln.cli;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import dev.kiln.ir.Graph;
import dev.kiln.passes.DumpDir;
import dev.kiln.passes.GraphDump;
import dev.kiln.passes.PassManager;
import dev.kiln.runtime.NdArray;
import dev.kiln.runtime.SafeTensors;
import dev.kiln.runtime.TensorFileException;

/// What `compile`, `run` and `bench` share: a `.kir` model with its weights, where a parameter
/// that has a tensor in the weights file is a weight and every other parameter is an input; the
/// names of the results (`output`, or `output0`, `output1`, ... when there are several, as an
/// exported jar names them); and the passes the JVM backend's callers run first.
final class ModelFiles {
    private ModelFiles() {}

    /// The tensors of `weights` (null: none), or a CliException naming the file.
    static Map<String, NdArray> weights(Path weights) {
        if (weights == null) return Map.of();
        try {
            return SafeTensors.read(weights);
        } catch (TensorFileException e) {
            throw new CliException("--weights: " + e.getMessage());
        }
    }

    /// The parameters of `g` that `weights` does not cover, in order.
    static List<String> inputs(Graph g, Map<String, NdArray> weights) {
        return g.paramNames().stream().filter(n -> !weights.containsKey(n)).toList();
    }

    static List<String> resultNames(Graph g) {
        int n = g.results().size();
        return java.util.stream.IntStream.range(0, n).mapToObj(i -> n == 1 ? "output" : "output" + i).toList();
    }

    /// `--input` values: `NAME=FILE` by name, plain `FILE` for the next input in order.
    static Map<String, Path> inputFiles(Graph g, List<String> inputs, List<String> specs) {
        Map<String, Path> out = new LinkedHashMap<>();
        for (String s : specs) {
            int eq = s.indexOf('=');
            if (eq > 0 && !s.substring(0, eq).contains("/")) {
                String name = s.substring(0, eq);
                if (name.startsWith("%")) name = name.substring(1);
                if (!g.paramNames().contains(name))
                    throw new CliException("graph @" + g.name() + " has no parameter %" + name + Suggest.nearest(name, g.paramNames(), "%")
                            + " (its inputs: " + String.join(", ", inputs) + ")");
                if (out.put(name, Path.of(s.substring(eq + 1))) != null) throw new CliException("--input " + name + " is given twice");
            }
        }
        for (String s : specs) {
            int eq = s.indexOf('=');
            if (eq > 0 && !s.substring(0, eq).contains("/")) continue;
            String next = inputs.stream().filter(n -> !out.containsKey(n)).findFirst()
                    .orElseThrow(() -> new CliException("--input " + s + ": every input of @" + g.name() + " is given already ("
                            + String.join(", ", inputs) + ")"));
            out.put(next, Path.of(s));
        }
        return out;
    }

    /// The standard passes and fusion, as `Kiln.compile` runs them for the JVM backend, writing
    /// each stage to `dump` (null: none).
    static Graph optimize(Graph g, GraphDump dump) {
        return PassManager.withFusion(PassManager.Options.fromSystemProperties()).run(g, dump);
    }

    /// `--dump-dir DIR`, the same on every command that compiles.
    static final String DUMP_DIR_HELP = "Write every stage of the compile (the graph after each pass, the fusion report, "
            + "the kernel IR, the generated code) to DIR/NNN-GRAPH/, each directory with an index.txt.";

    /// A new numbered subdirectory of `dumpDir` for `g`'s stages; without `--dump-dir`, of the
    /// directory `-Dkiln.dumpDir` or `KILN_DUMP_DIR` names; null when there is none.
    static GraphDump dump(Graph g, Path dumpDir) {
        DumpDir d = dumpDir != null ? DumpDir.at(dumpDir) : DumpDir.configured();
        try {
            return d == null ? null : d.graph(g.name());
        } catch (java.io.UncheckedIOException e) {
            throw new CliException(e.getMessage());
        }
    }
}
