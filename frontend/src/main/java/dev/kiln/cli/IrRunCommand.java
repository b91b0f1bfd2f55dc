package dev.kiln.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;

import dev.kiln.ir.Graph;
import dev.kiln.runtime.NdArray;
import dev.kiln.runtime.Npy;
import dev.kiln.runtime.TensorFileException;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/// `kiln ir run FILE --input NAME=FILE.npy ...`: evaluates a graph on inputs from `.npy` files,
/// a directory of them (`--input-dir`), a `.safetensors` file (`--weights`), or random ones. Without `--output` it
/// prints one line per result (dtype, shape, first values, min/max/mean); with `--output DIR`
/// it writes result i to `DIR/<graph>.<i>.npy` (the graph name with characters other than
/// letters, digits, `_`, `-` and `.` replaced by `_`) and prints the paths. Inputs are checked
/// against the parameter types first (see `Inputs`). Invariant: nothing is written unless
/// every result was computed.
@Command(name = "run", description = {"Evaluate a graph on .npy inputs (or random ones).",
        "Prints a summary of each result, or writes result i to DIR/<graph>.<i>.npy with --output."})
final class IrRunCommand implements Callable<Integer> {
    @Spec CommandSpec spec;

    @Parameters(paramLabel = "FILE", description = "The .kir file ('-' reads stdin).")
    String file;

    @Option(names = "--input", paramLabel = "NAME=FILE.npy", description = "The value of parameter NAME (repeat for each).")
    List<String> inputs = new ArrayList<>();

    @Option(names = "--input-dir", paramLabel = "DIR",
            description = "Read each parameter NAME not otherwise given from DIR/NAME.npy, where that file exists.")
    Path inputDir;

    @Option(names = "--weights", paramLabel = "FILE.safetensors",
            description = "Read parameters from the tensors of this file, by name (--input wins over it).")
    Path weights;

    @Option(names = "--output", paramLabel = "DIR", description = "Write the results as .npy files into DIR (created if missing).")
    Path output;

    @Option(names = "--backend", paramLabel = "interp|jvm|cuda", defaultValue = "interp",
            description = "interp: the reference interpreter (default); jvm: compile to bytecode; cuda: compile to PTX and run on the GPU.")
    String backend;

    @Option(names = "--random-inputs", description = "Draw the parameters not given with --input at random "
            + "(floats in [-1,1), integers in [0,10), bools 50/50).")
    boolean random;

    @Option(names = "--seed", paramLabel = "N", defaultValue = "0", description = "Seed of the random inputs (default 0).")
    long seed;

    @Option(names = "--dim", paramLabel = "SYM=N", description = "Size of a dimension symbol, e.g. --dim B=4 (repeat for each).")
    List<String> dims = new ArrayList<>();

    @Option(names = "--graph", paramLabel = "NAME", description = "The graph to run, in a file that holds several.")
    String graph;

    @Override public Integer call() {
        Backends.check(spec.commandLine(), backend);
        Map<String, Path> given = parseInputs();
        Map<String, Integer> sizes = Inputs.parseDims(spec.commandLine(), dims);
        Graph g = KirFile.read(file).graph(graph);
        Inputs in = Inputs.bind(g, new Inputs.Sources(given, weights, inputDir), sizes, random, seed);
        List<NdArray> results = Backends.run(backend, g, in.arrays());

        PrintWriter out = spec.commandLine().getOut();
        if (!in.randomParams().isEmpty())
            out.println("random inputs (seed " + seed + "): " + String.join(", ", in.randomParams().stream().map(s -> "%" + s).toList()));
        if (output == null) {
            for (int i = 0; i < results.size(); i++) out.println("result #" + i + ": " + Summary.of(results.get(i)));
        } else {
            for (Path p : write(g, results)) out.println("wrote " + p);
        }
        out.flush();
        return 0;
    }

    private List<Path> write(Graph g, List<NdArray> results) {
        try {
            Files.createDirectories(output);
        } catch (IOException e) {
            throw new CliException("cannot create the output directory " + output + ": " + e);
        }
        String base = g.name().replaceAll("[^A-Za-z0-9_.-]", "_");
        List<Path> written = new ArrayList<>();
        for (int i = 0; i < results.size(); i++) {
            Path p = output.resolve(base + "." + i + ".npy");
            try {
                Npy.write(p, results.get(i));
            } catch (TensorFileException e) {
                throw new CliException(e.getMessage());
            }
            written.add(p);
        }
        return written;
    }

    /// `NAME=FILE.npy` (a leading `%` on NAME is allowed), each name once.
    private Map<String, Path> parseInputs() {
        Map<String, Path> out = new LinkedHashMap<>();
        for (String s : inputs) {
            int eq = s.indexOf('=');
            if (eq <= 0 || eq == s.length() - 1)
                throw new ParameterException(spec.commandLine(), "--input expects NAME=FILE.npy, got '" + s + "'");
            String name = s.substring(0, eq);
            if (name.startsWith("%")) name = name.substring(1);
            if (out.put(name, Path.of(s.substring(eq + 1))) != null)
                throw new ParameterException(spec.commandLine(), "--input " + name + " is given twice");
        }
        return out;
    }
}
