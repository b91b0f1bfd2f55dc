package dev.kiln;

import dev.kiln.codegen.jvm.rt.KernelProfile;
import dev.kiln.ir.Graph;
import dev.kiln.runtime.Executable;
import dev.kiln.runtime.NdArray;

import java.util.ArrayList;
import java.util.List;

/// A module's forward pass traced into one graph and compiled once; `forward` runs it. The
/// batch dimension is symbolic (`B`), so any batch size runs without recompiling. Weights are
/// read from the module on every call, so a compiled model follows training.
/// Invariant: `graph()` is exactly what runs.
public final class CompiledModel {
    private final Traced traced;
    private final Executable exe;
    private final Device device;

    /// Compiled for `device` (that of the example inputs): `cuda` compiles to PTX.
    CompiledModel(Traced traced, Device device, Kiln.CompileOptions options) {
        this.traced = traced;
        this.device = device;
        this.exe = Compiler.get(traced.graph(), device, options.dumpDir());
        Compiler.hold(this, exe);
        if (options.profile()) Profiling.enable(exe, "Kiln.compile");
    }

    /// Where it runs: the device of the example inputs it was traced with.
    public Device device() { return device; }

    /// Time per kernel over the `forward` calls since compiling (or `resetProfile`): calls, total
    /// and mean time, share, achieved GFLOP/s (matrix products, convolutions) and GB/s, source
    /// lines; `toString()` is the table. Needs profiling on: `Kiln.CompileOptions` with
    /// `withProfile(true)`, or `KILN_PROFILE=1` / `-Dkiln.profile=true`.
    public KernelProfile profile() { return Profiling.of(exe, "CompiledModel.profile"); }

    /// Starts the profile again from zero (e.g. after warm-up calls).
    public void resetProfile() { Profiling.enable(exe, "CompiledModel.resetProfile"); }

    /// The compiled graph (print it to see the IR with source locations).
    public Graph graph() { return traced.graph(); }

    /// Runs the compiled forward pass. No gradient is recorded.
    public Tensor forward(Tensor... inputs) {
        long expected = traced.sources().stream().filter(s -> s instanceof Traced.Source.Input).count();
        if (inputs.length != expected)
            throw new KilnException("compiled forward takes " + expected + " inputs, given " + inputs.length);
        Traced.checkInputs("compiled forward", traced.graph(), traced.sources(), List.of(inputs));
        for (int i = 0; i < inputs.length; i++)
            if (!inputs[i].device().equals(device))
                throw new KilnException("compiled forward: input #" + i + " is on " + inputs[i].device() + ", but the model was compiled for "
                        + device + " (move it with to(device))");
        List<NdArray> in = new ArrayList<>();
        for (Tensor t : inputs) in.add(t.data());
        List<NdArray> out = exe.run(traced.arguments(in));
        return new Tensor(out.getFirst(), device);
    }
}
