package dev.kiln.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;

import dev.kiln.codegen.jvm.JvmBackend;
import dev.kiln.ir.Graph;
import dev.kiln.ir.text.Printer;
import dev.kiln.passes.PassManager;
import dev.kiln.passes.autodiff.Differentiate;
import dev.kiln.runtime.AtomicFiles;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/// `kiln dump FILE --format text|dot|html|kernels|bytecode [-o OUT] [--grad NAMES] [--opt[=PASSES]]`:
/// a graph in a form to read or look at. `text` is the IR with every location; `dot` is
/// Graphviz input; `html` is one offline page that draws the graph (see `Html`); `kernels` and
/// `bytecode` show what the JVM backend makes of it after fusion: its kernel IR and its class,
/// javap-style. With `--grad` the joint forward + backward graph is dumped, its backward part
/// coloured apart; with `--opt` it is optimized first (by default with fusion, whose kernels
/// are drawn as boxes). Invariant: `-o` writes the file atomically (a temporary file renamed
/// over it); without `-o` the dump goes to stdout.
@Command(name = "dump", description = {"Draw or print a graph: IR text, Graphviz DOT, an offline HTML page, or the JVM backend's kernel IR or bytecode.",
        "In the drawings forward ops are blue, backward (gradient) ops orange and fused kernels dashed boxes; "
                + "in the HTML page, hover or click a node for its statement, source location and attributes."})
final class DumpCommand implements Callable<Integer> {
    static final List<String> FORMATS = List.of("text", "dot", "html", "kernels", "bytecode");

    @Spec CommandSpec spec;

    @Parameters(paramLabel = "FILE", description = "The .kir file ('-' reads stdin).")
    String file;

    @Option(names = "--format", paramLabel = "text|dot|html|kernels|bytecode", defaultValue = "html",
            description = "text: IR with locations; dot: Graphviz; html: an offline page (default); "
                    + "kernels: the JVM backend's kernel IR; bytecode: its generated class, javap-style.")
    String format;

    @Option(names = {"-o", "--output"}, paramLabel = "OUT", description = "Write to this file instead of stdout.")
    Path output;

    @Option(names = "--grad", paramLabel = "NAMES", split = ",",
            description = "Dump the joint graph with gradients for these parameters (comma-separated).")
    List<String> grad;

    @Option(names = "--opt", paramLabel = "PASSES", arity = "0..1", fallbackValue = Pipelines.DEFAULT,
            description = "Optimize before dumping (after --grad): --opt runs the default pipeline with fusion, "
                    + "--opt=a,b,c the passes named.")
    String opt;

    @Option(names = "--graph", paramLabel = "NAME", description = "The graph to dump, in a file that holds several.")
    String graph;

    @Override public Integer call() {
        if (!FORMATS.contains(format))
            throw new ParameterException(spec.commandLine(), "unknown format '" + format + "' for --format (expected "
                    + String.join(", ", FORMATS) + ")");
        PassManager pm = opt == null ? null : Pipelines.of(spec, opt, PassManager.Options.none());
        Graph g = KirFile.read(file).graph(graph);
        if (grad != null && !grad.isEmpty()) g = Differentiate.joint(g, IrGradCommand.names(g, grad));
        if (pm != null) g = pm.run(g);
        // The JVM backend compiles fused graphs (one kernel per group): fuse first unless --opt did.
        Graph lowered = format.equals("kernels") || format.equals("bytecode")
                ? (pm != null ? g : PassManager.withFusion(PassManager.Options.none()).run(g)) : g;
        String text = switch (format) {
            case "text" -> Printer.print(g, true);
            case "dot" -> Dot.of(GraphView.of(g));
            case "kernels" -> JvmBackend.dumpKernels(lowered);
            case "bytecode" -> JvmBackend.dumpBytecode(lowered);
            default -> Html.of(GraphView.of(g));
        };
        if (output == null) {
            PrintWriter out = spec.commandLine().getOut();
            out.print(text);
            out.flush();
            return 0;
        }
        try {
            Path parent = output.toAbsolutePath().getParent();
            if (parent != null) Files.createDirectories(parent);
            AtomicFiles.write(output, text.getBytes(StandardCharsets.UTF_8));
        } catch (IOException e) {
            throw new CliException("cannot write " + output + ": " + e.getMessage());
        }
        spec.commandLine().getOut().println("wrote " + output + " (" + format + ", " + g.body().size() + " ops)");
        spec.commandLine().getOut().flush();
        return 0;
    }
}
