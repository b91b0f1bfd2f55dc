package dev.kiln.cli;

import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;

import dev.kiln.codegen.cuda.CudaJar;
import dev.kiln.codegen.jvm.jar.JarExporter;
import dev.kiln.ir.Graph;
import dev.kiln.ir.IrError;
import dev.kiln.runtime.NdArray;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/// `kiln compile MODEL.kir --weights W.safetensors -o model.jar`: a standalone jar of the graph
/// and its weights (see `JarExporter`), which runs with `java -jar model.jar --input x.npy` on a
/// bare JRE. Parameters with a tensor in the weights file are stored in the jar; the others are
/// the jar's inputs. Invariant: the jar is written whole (atomically) or not at all.
@Command(name = "compile", description = {"Compile a model (.kir + weights) to a standalone jar.",
        "Parameters found in --weights are stored in the jar; the others are its inputs."})
final class CompileCommand implements Callable<Integer> {
    @Spec CommandSpec spec;

    @Parameters(paramLabel = "MODEL.kir", description = "The model's graph ('-' reads stdin).")
    String file;

    @Option(names = "--weights", paramLabel = "FILE.safetensors", description = "The weights, by parameter name.")
    Path weights;

    @Option(names = {"-o", "--output"}, paramLabel = "FILE.jar", required = true, description = "The jar to write.")
    Path output;

    @Option(names = "--target", paramLabel = "jvm|cuda", defaultValue = "jvm",
            description = "What the jar's code runs on: jvm (default), or cuda (PTX run through the CUDA driver; "
                    + "the jar carries JCuda and needs a GPU where it runs, not where it is written).")
    String target;

    @Option(names = "--class", paramLabel = "NAME",
            description = "The entry class, e.g. com.example.Mnist (default: kiln.model.<the jar's name>).")
    String className;

    @Option(names = "--graph", paramLabel = "NAME", description = "The graph to compile, in a file that holds several.")
    String graph;

    @Option(names = "--dump-dir", paramLabel = "DIR", description = ModelFiles.DUMP_DIR_HELP)
    Path dumpDir;

    @Override public Integer call() {
        switch (target) {
            case "jvm", "cuda" -> {}
            default -> throw new ParameterException(spec.commandLine(), "unknown target '" + target + "' for --target (expected jvm or cuda)");
        }
        if (!output.getFileName().toString().endsWith(".jar"))
            throw new ParameterException(spec.commandLine(), "-o " + output + ": the output must be a .jar file");
        Graph g = KirFile.read(file).graph(graph);
        Map<String, NdArray> w = ModelFiles.weights(weights);
        String fqn = className != null ? className : JarExporter.defaultClassName(output);
        if (target.equals("cuda")) return cuda(g, w);
        JarExporter.Exported e = writing(() -> JarExporter.export(g, w, output, JarExporter.Options.named(fqn).withDump(ModelFiles.dump(g, dumpDir))));
        PrintWriter out = spec.commandLine().getOut();
        List<String> inputs = ModelFiles.inputs(g, w);
        out.printf("wrote %s (%,d bytes): entry class %s%n", output, e.bytes(), e.entryClass());
        out.println("  inputs:  " + describe(g, inputs));
        List<String> names = ModelFiles.resultNames(g);
        StringBuilder outs = new StringBuilder();
        for (int r = 0; r < names.size(); r++) outs.append(r > 0 ? ", " : "").append(names.get(r)).append(' ').append(g.resultTypes().get(r));
        out.println("  outputs: " + outs);
        out.println("  weights: " + (g.paramNames().size() - inputs.size()) + " tensors stored in the jar");
        out.println("run it:   java -jar " + output + (inputs.size() == 1 ? " --input " + inputs.getFirst() + ".npy" : " --help"));
        if (!e.unusedTensors().isEmpty())
            spec.commandLine().getErr().println("kiln: note: " + e.unusedTensors().size() + " tensors in " + weights
                    + " match no parameter of @" + g.name() + ": " + String.join(", ", e.unusedTensors().stream().limit(8).toList())
                    + (e.unusedTensors().size() > 8 ? ", ..." : ""));
        out.flush();
        return 0;
    }

    /// `--target cuda`: the graph through the passes and fusion, its PTX and the weights in a CUDA jar.
    private int cuda(Graph g, Map<String, NdArray> w) {
        if (className != null) throw new ParameterException(spec.commandLine(), "--class is for --target jvm (a CUDA jar has no generated entry class)");
        CudaJar.Exported e = writing(() -> CudaJar.export(ModelFiles.optimize(g, ModelFiles.dump(g, dumpDir)), w, output));
        PrintWriter out = spec.commandLine().getOut();
        List<String> inputs = ModelFiles.inputs(g, w);
        out.printf("wrote %s (%,d bytes): PTX for CUDA (sm_80 and later), JCuda and its driver binding included%n", output, e.bytes());
        out.println("  inputs:  " + describe(g, inputs));
        out.println("  weights: " + (g.paramNames().size() - inputs.size()) + " tensors stored in the jar");
        out.println("run it on a machine with an NVIDIA GPU and its driver:   java -jar " + output
                + (inputs.size() == 1 ? " --input " + inputs.getFirst() + ".npy" : " --help"));
        out.flush();
        return 0;
    }

    /// Runs `export`, turning its failures into one-line errors.
    private <T> T writing(java.util.function.Supplier<T> export) {
        try {
            return export.get();
        } catch (IrError | IllegalArgumentException ex) {
            throw new CliException(ex.getMessage());
        } catch (UncheckedIOException ex) {
            throw new CliException("cannot write " + output + ": " + ex.getCause().getMessage());
        }
    }

    private static String describe(Graph g, List<String> names) {
        if (names.isEmpty()) return "(none)";
        StringBuilder s = new StringBuilder();
        for (String n : names) s.append(s.isEmpty() ? "" : ", ").append(n).append(' ').append(g.param(n).type());
        return s.toString();
    }
}
