package dev.kiln.cli;

import java.io.PrintWriter;
import java.util.List;

import dev.kiln.ir.Graph;
import dev.kiln.ir.kernel.KirPrinter;
import dev.kiln.ir.text.Printer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/// `kiln ir print FILE`: the canonical text of a `.kir` file (values renumbered in order,
/// comments and layout normalised), which parses back to the same graphs; of kernel IR, the
/// text `KirPrinter` writes. Invariant: the
/// output of a valid file is accepted by `kiln ir check` and prints back to itself.
@Command(name = "print", description = "Print the canonical text of a .kir file (every graph, or the one named by --graph).")
final class IrPrintCommand implements Runnable {
    @Spec CommandSpec spec;

    @Parameters(paramLabel = "FILE", description = "The .kir file ('-' reads stdin).")
    String file;

    @Option(names = "--locations", description = "Print each statement's source location, loc(...).")
    boolean locations;

    @Option(names = "--graph", paramLabel = "NAME", description = "Print only this graph of the file.")
    String graph;

    @Override public void run() {
        KirFile k = KirFile.read(file);
        PrintWriter out = spec.commandLine().getOut();
        if (k.kernels() != null && graph == null) {
            out.print(KirPrinter.print(k.kernels()));
            out.flush();
            return;
        }
        List<Graph> graphs = graph == null ? k.graphs() : List.of(k.graph(graph));
        for (Graph g : graphs) out.print(Printer.print(g, locations));
        out.flush();
    }
}
