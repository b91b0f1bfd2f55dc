package dev.kiln;

import dev.kiln.ir.Graph;
import dev.kiln.passes.GraphDump;
import dev.kiln.passes.PassManager;

/// The passes a graph goes through between the frontend and the backend: by default the standard
/// pipeline (simplify, fold-constants, cse, dce), followed by fusion for the bytecode and CUDA
/// backends (which compile one kernel per fused group); or the comma-separated list in `-Dkiln.pipeline`
/// (`none` for no passes). The pass manager's debugging flags apply
/// (`-Dkiln.verifyEach`, `-Dkiln.printIrAfter`); the stages go to `dump` when it is not null.
final class Pipeline {
    private Pipeline() {}

    static Graph optimize(Graph g, Backend backend, GraphDump dump) { return optimize(g, backend.name(), dump); }

    /// The same for the backend called `backend` (`cuda` without needing a GPU: for exports).
    static Graph optimize(Graph g, String backend, GraphDump dump) {
        String spec = System.getProperty("kiln.pipeline", backend.equals("jvm") || backend.equals("cuda") ? "fused" : "standard");
        PassManager.Options options = PassManager.Options.fromSystemProperties();
        PassManager pm = switch (spec) {
            case "none" -> new PassManager("none", java.util.List.of(), options);
            case "standard" -> PassManager.standard(options);
            case "fused" -> PassManager.withFusion(options);
            default -> PassManager.parse(spec, options);
        };
        return pm.run(g, dump);
    }
}
