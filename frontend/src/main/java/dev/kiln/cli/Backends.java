package dev.kiln.cli;

import java.util.List;

import dev.kiln.codegen.cuda.CudaBackend;
import dev.kiln.codegen.jvm.JvmBackend;
import dev.kiln.ir.Graph;
import dev.kiln.ir.interp.Interpreter;
import dev.kiln.passes.GraphDump;
import dev.kiln.passes.PassManager;
import dev.kiln.runtime.Executable;
import dev.kiln.runtime.NdArray;
import picocli.CommandLine;

/// The ways the commands can evaluate a graph (`--backend`). `interp` is the reference
/// interpreter; `jvm` and `cuda` run the passes and fusion (the backends compile one kernel per
/// fused group, as the frontend does), then compile the result to bytecode or to PTX run
/// through the CUDA driver. `cuda` on a machine without a usable GPU is one line saying why.
/// Invariant: `run` returns one array per result, in result order, or throws an exception whose
/// message is for the user.
final class Backends {
    private Backends() {}

    static final List<String> NAMES = List.of("interp", "jvm", "cuda");

    /// Checks `--backend`: a known name, and for `cuda` a usable GPU (before any work is done).
    static void check(CommandLine cl, String backend) {
        if (!NAMES.contains(backend))
            throw new CommandLine.ParameterException(cl, "unknown backend '" + backend + "' for --backend (expected "
                    + String.join(", ", NAMES.subList(0, NAMES.size() - 1)) + " or " + NAMES.getLast() + ")");
        if (backend.equals("cuda")) {
            String why = CudaBackend.unavailableReason();
            if (why != null) throw new CliException("cuda: no usable GPU here: " + why);
        }
    }

    /// `g`, already optimized for `jvm` or `cuda`, compiled by that backend, which adds its
    /// stages to `dump` when it is not null.
    static Executable compile(String backend, Graph optimized, GraphDump dump) {
        return switch (backend) {
            case "jvm" -> JvmBackend.compile(optimized, dump);
            case "cuda" -> CudaBackend.compile(optimized, dump);
            default -> args -> Interpreter.run(optimized, args);
        };
    }

    static List<NdArray> run(String backend, Graph g, List<NdArray> inputs) {
        if (backend.equals("interp")) return Interpreter.run(g, inputs);
        return compile(backend, PassManager.withFusion(PassManager.Options.none()).run(g), null).run(inputs);
    }
}
