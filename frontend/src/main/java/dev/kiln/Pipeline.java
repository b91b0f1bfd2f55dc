package dev.kiln;

import dev.kiln.ir.Graph;
import dev.kiln.passes.GraphDump;
import dev.kiln.passes.PassManager;

/// The passes a graph goes through between the frontend and the backend: by default the standard
/// pipeline (simplify, fold-constants, cse, dce), followed by fusion for the bytecode backend
/// (which compiles one kernel per fused group); or the comma-separated list in `-Dkiln.pipeline`
/// (`none` for no passes). The pass manager's debugging flags apply
/// (`-Dkiln.verifyEach`, `-Dkiln.printIrAfter`); the stages go to `dump` when it is not null.
final class Pipeline {
    private Pipeline() {}

    static Graph optimize(Graph g, Backend backend, GraphDump dump) {
        String spec = System.getProperty("kiln.pipeline", backend.name().equals("jvm") ? "fused" : "standard");
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
