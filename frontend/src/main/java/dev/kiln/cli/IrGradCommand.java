package dev.kiln.cli;

import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;

import dev.kiln.ir.Graph;
import dev.kiln.ir.text.Printer;
import dev.kiln.passes.autodiff.Differentiate;
import dev.kiln.passes.autodiff.Split;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/// `kiln ir grad FILE --wrt NAMES`: reverse-mode differentiation of a graph. Prints the joint
/// graph: FILE's parameters, returning FILE's results followed by one gradient per name (of
/// result #0 when it is a float scalar, the loss; otherwise a cotangent parameter per float
/// result is added, see `Differentiate`). With `--split`, prints the forward graph and the
/// backward graph instead, preceded by the report of what crosses between them (saved or
/// recomputed) as `//` comments. Invariant: the output is `.kir` text that `kiln ir check`
/// accepts (one graph, or two with `--split`).
@Command(name = "grad", description = {"Differentiate a graph with respect to some parameters (reverse mode).",
        "Prints the joint graph (results, then one gradient per name), or with --split the forward and",
        "backward graphs and what the backward saves or recomputes."})
final class IrGradCommand implements Runnable {
    @Spec CommandSpec spec;

    @Parameters(paramLabel = "FILE", description = "The .kir file ('-' reads stdin).")
    String file;

    @Option(names = "--wrt", paramLabel = "NAMES", split = ",", required = true,
            description = "Parameters to differentiate with respect to, comma-separated (e.g. fc1.weight,fc1.bias).")
    List<String> wrt;

    @Option(names = "--split", description = "Print the forward and backward graphs and the saved/recomputed report.")
    boolean split;

    @Option(names = "--locations", description = "Print each statement's source location, loc(...); gradient ops show loc(grad(...)).")
    boolean locations;

    @Option(names = "--graph", paramLabel = "NAME", description = "The graph to differentiate, in a file that holds several.")
    String graph;

    @Override public void run() {
        Graph g = KirFile.read(file).graph(graph);
        Graph joint = Differentiate.joint(g, names(g, wrt));
        PrintWriter out = spec.commandLine().getOut();
        if (!split) {
            out.print(Printer.print(joint, locations));
        } else {
            Split s = Split.of(joint, g.params().size(), g.results().size());
            for (String line : s.report().split("\n")) out.println(("// " + line).stripTrailing());
            out.print(Printer.print(s.forward(), locations));
            out.print(Printer.print(s.backward(), locations));
        }
        out.flush();
    }

    /// The parameter names in `wanted` (a leading `%` is allowed), checked against `g`, without repeats.
    static List<String> names(Graph g, List<String> wanted) {
        LinkedHashSet<String> out = new LinkedHashSet<>();
        List<String> params = g.paramNames();
        for (String w : wanted) {
            String n = w.strip();
            if (n.startsWith("%")) n = n.substring(1);
            if (n.isEmpty()) continue;
            if (!params.contains(n))
                throw new CliException("graph @" + g.name() + " has no parameter %" + n + Suggest.nearest(n, params, "%")
                        + " (its parameters: " + String.join(", ", params.stream().map(s -> "%" + s).toList()) + ")");
            out.add(n);
        }
        if (out.isEmpty()) throw new CliException("--wrt names no parameter");
        return new ArrayList<>(out);
    }
}
