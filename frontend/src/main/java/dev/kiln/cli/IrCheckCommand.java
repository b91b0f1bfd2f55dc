package dev.kiln.cli;

import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;

import dev.kiln.ir.Graph;
import dev.kiln.ir.kernel.KernelProgram;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/// `kiln ir check FILE...`: parses and verifies each file (graph IR, or kernel IR as a dump's
/// `NN-kernels.txt` holds it). A good file prints
/// `FILE: ok (N ops, M params)` on stdout (N counts the top-level statements); a bad one prints
/// every error it has on stderr, each `file:line:col: error: ...` with its source line and a
/// caret. Invariant: exit code 0 exactly when every file is good; files after a bad one are
/// still checked.
@Command(name = "check", description = {"Parse and verify .kir files, reporting every error as file:line:col.",
        "Prints FILE: ok (N ops, M params) for a good file; exits 1 if any file has errors. '-' reads stdin.",
        "Kernel IR (a dump's NN-kernels.txt, starting with 'program') is read too."})
final class IrCheckCommand implements Callable<Integer> {
    @Spec CommandSpec spec;

    @Parameters(paramLabel = "FILE", arity = "1..*", description = "The .kir files to check.")
    List<String> files;

    @Override public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.root().commandLine().getErr();
        List<String> failed = new ArrayList<>();
        for (String f : files) {
            try {
                KirFile k = KirFile.read(f);
                out.println(k.name() + ": ok (" + (k.kernels() != null ? describe(k.kernels()) : describe(k.graphs())) + ")");
            } catch (CliException e) {
                out.flush();
                for (String d : e.diagnostics()) err.println(d);
                failed.add(e.getMessage());
            }
        }
        out.flush();
        err.flush();
        if (failed.isEmpty()) return 0;
        if (failed.size() == 1) throw new CliException(failed.getFirst());
        throw new CliException(failed.size() + " of " + files.size() + " files have errors: " + String.join("; ", failed));
    }

    static String describe(List<Graph> graphs) {
        if (graphs.size() == 1) return counts(graphs.getFirst());
        List<String> each = graphs.stream().map(g -> "@" + g.name() + " " + counts(g)).toList();
        return graphs.size() + " graphs: " + String.join("; ", each);
    }

    /// `kernel program @mlp, 5 kernels, 13 buffers`.
    private static String describe(KernelProgram p) {
        int kernels = p.kernels().size(), buffers = p.buffers().size();
        return "kernel program @" + p.name() + ", " + kernels + (kernels == 1 ? " kernel, " : " kernels, ") + buffers
                + (buffers == 1 ? " buffer" : " buffers");
    }

    private static String counts(Graph g) {
        int ops = g.body().size(), params = g.params().size();
        return ops + (ops == 1 ? " op, " : " ops, ") + params + (params == 1 ? " param" : " params");
    }
}
