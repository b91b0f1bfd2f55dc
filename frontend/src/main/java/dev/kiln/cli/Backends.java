package dev.kiln.cli;

import java.util.List;

import dev.kiln.codegen.jvm.JvmBackend;
import dev.kiln.ir.Graph;
import dev.kiln.ir.interp.Interpreter;
import dev.kiln.passes.PassManager;
import dev.kiln.runtime.NdArray;

/// The ways `kiln ir run` can evaluate a graph. `interp` is the reference interpreter; `jvm`
/// runs the standard passes and fusion (the bytecode backend compiles one kernel per fused
/// group, as the frontend does), compiles the result to bytecode and runs it. Invariant: `run`
/// returns one array per result, in result order, or throws an exception whose message is for
/// the user.
final class Backends {
    private Backends() {}

    static final List<String> NAMES = List.of("interp", "jvm");

    static List<NdArray> run(String backend, Graph g, List<NdArray> inputs) {
        return switch (backend) {
            case "interp" -> Interpreter.run(g, inputs);
            case "jvm" -> JvmBackend.compile(PassManager.withFusion(PassManager.Options.none()).run(g)).run(inputs);
            default -> throw new CliException("unknown backend '" + backend + "' (expected " + String.join(" or ", NAMES) + ")");
        };
    }
}
