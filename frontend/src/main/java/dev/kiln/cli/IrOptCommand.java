package dev.kiln.cli;

import java.io.ByteArrayOutputStream;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.Locale;

import dev.kiln.ir.Graph;
import dev.kiln.ir.text.Printer;
import dev.kiln.passes.PassManager;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/// `kiln ir opt FILE [--passes a,b,c] [--dump-after all|PASS,..] [--dump-dir DIR]`: runs a pass
/// pipeline (by default simplify, fold-constants, cse, dce, fuse) and prints the result.
/// `--dump-after` prints the IR after the named passes (`input` is the stage before the first)
/// to stderr, each headed `// ----- IR after PASS (@graph) -----` and the pass's notes (the
/// fusion report); with `--dump-dir` the stages are written there instead, in a numbered
/// subdirectory per run as every compiling command writes them (`DIR/001-mlp/00-input.kir`,
/// `01-simplify.kir`, ..., with `index.txt` listing each stage's time and op counts). `--stats`
/// prints that table to stderr. Invariant: stdout holds exactly the optimized graph's text.
@Command(name = "opt", description = {"Run optimization passes on a graph and print the result.",
        "Default pipeline: simplify, fold-constants, cse, dce, fuse. --dump-after all shows each pass's effect."})
final class IrOptCommand implements Runnable {
    @Spec CommandSpec spec;

    @Parameters(paramLabel = "FILE", description = "The .kir file ('-' reads stdin).")
    String file;

    @Option(names = "--passes", paramLabel = "PASSES",
            description = "Comma-separated passes to run, in order (known: simplify, fold-constants, cse, dce, fuse).")
    String passes;

    @Option(names = "--dump-after", paramLabel = "all|PASS",
            description = "Print (or with --dump-dir, write) the IR after these passes: all, input, or pass names.")
    String dumpAfter;

    @Option(names = "--dump-dir", paramLabel = "DIR",
            description = "Write each stage to DIR/NNN-GRAPH/ as NN-PASS.kir, each directory with an index.txt.")
    Path dumpDir;

    @Option(names = "--stats", description = "Print each stage's time, op count and fused kernels to stderr.")
    boolean stats;

    @Option(names = "--locations", description = "Print each statement's source location, loc(...).")
    boolean locations;

    @Option(names = "--graph", paramLabel = "NAME", description = "The graph to optimize, in a file that holds several.")
    String graph;

    @Override public void run() {
        ByteArrayOutputStream printed = new ByteArrayOutputStream();
        PassManager.Options options = PassManager.Options.none().withErr(Pipelines.stream(printed));
        try {
            if (dumpDir != null) options = options.withDump(dumpDir, dumpAfter == null ? "all" : dumpAfter);
            else if (dumpAfter != null) options = options.withPrintAfter(dumpAfter);
        } catch (IllegalArgumentException e) { // an unknown pass name in --dump-after
            throw new ParameterException(spec.commandLine(), "--dump-after: " + e.getMessage());
        }
        PassManager pm = Pipelines.of(spec, passes, options);
        Graph g = KirFile.read(file).graph(graph);
        PrintWriter err = spec.root().commandLine().getErr();
        Graph out = Pipelines.run(pm, g, printed, err);
        if (stats) {
            err.println(String.format(Locale.ROOT, "// %-16s %10s %6s %8s", "stage", "time", "ops", "kernels"));
            for (PassManager.Stage s : pm.stages())
                err.println(String.format(Locale.ROOT, "// %-16s %7.3f ms %6d %8d", s.pass(), s.nanos() / 1e6, s.ops(), s.kernels()));
            err.flush();
        }
        PrintWriter stdout = spec.commandLine().getOut();
        stdout.print(Printer.print(out, locations));
        stdout.flush();
    }
}
