package dev.kiln;

import dev.kiln.codegen.jvm.rt.KernelProfile;
import dev.kiln.codegen.jvm.rt.PlanExecutable;
import dev.kiln.runtime.Executable;

/// The kernel profile of a compiled model or train step: only the JVM backend's executables
/// time their kernels; any other backend is a clear error, not an empty table.
final class Profiling {
    private Profiling() {}

    /// Starts (or restarts) timing the kernels of `exe`; `what` names the caller in errors.
    static void enable(Executable exe, String what) { jvm(exe, what).enableProfile(); }

    static KernelProfile of(Executable exe, String what) {
        KernelProfile p = jvm(exe, what).profile();
        if (p == null)
            throw new KilnException(what + ": profiling is off; compile with Kiln.CompileOptions.defaults().withProfile(true), "
                    + "or run with KILN_PROFILE=1 or -Dkiln.profile=true");
        return p;
    }

    private static PlanExecutable jvm(Executable exe, String what) {
        if (exe instanceof PlanExecutable j) return j;
        String backend = exe instanceof dev.kiln.codegen.cuda.CudaExecutable ? "cuda" : Compiler.backend().name();
        throw new KilnException(what + ": kernel profiles come from the jvm backend, not '" + backend + "'");
    }
}
