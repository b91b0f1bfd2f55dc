package dev.kiln.cli;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.util.List;

import dev.kiln.ir.Graph;
import dev.kiln.passes.PassManager;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.ParameterException;

/// Pass pipelines as the commands name them: `default` is the standard pipeline followed by
/// fusion (simplify, fold-constants, cse, dce, fuse), otherwise a comma-separated list of pass
/// names (`PassManager.PASSES`). The verifier runs after every pass, so a pass that breaks a
/// graph is named at once. Invariant: an unknown pass name is a usage error naming the known ones.
final class Pipelines {
    private Pipelines() {}

    static final String DEFAULT = "default";

    static String known() { return String.join(", ", PassManager.PASSES.keySet()); }

    /// The pass manager for `passes`, with `options` (verification is turned on).
    static PassManager of(CommandSpec spec, String passes, PassManager.Options options) {
        PassManager.Options o = options.withVerifyEach(true);
        if (passes == null || passes.equals(DEFAULT)) return PassManager.withFusion(o);
        List<String> names = List.of(passes.split(",")).stream().map(String::strip).toList();
        for (String n : names)
            if (!PassManager.PASSES.containsKey(n))
                throw new ParameterException(spec.commandLine(), "unknown pass '" + n + "'"
                        + Suggest.nearest(n, PassManager.PASSES.keySet(), "") + " (known: " + known() + ")");
        return PassManager.parse(String.join(",", names), o);
    }

    /// Runs `pm` on `g`; what the pass manager prints (IR after passes) goes to `err`, even when
    /// a pass fails half-way.
    static Graph run(PassManager pm, Graph g, ByteArrayOutputStream printed, PrintWriter err) {
        try {
            return pm.run(g);
        } finally {
            err.print(printed.toString(StandardCharsets.UTF_8));
            err.flush();
        }
    }

    /// A stream for the pass manager's printing, collected and then written to the CLI's stderr.
    static PrintStream stream(ByteArrayOutputStream bytes) { return new PrintStream(bytes, true, StandardCharsets.UTF_8); }
}
