package dev.kiln;

import dev.kiln.codegen.jvm.rt.KernelProfile;
import dev.kiln.ir.Graph;
import dev.kiln.optim.Optimizer;
import dev.kiln.runtime.Executable;
import dev.kiln.runtime.NdArray;

import java.util.ArrayList;
import java.util.List;

/// One training step compiled as one graph: forward, loss, backward (by the autodiff pass) and the
/// optimizer's update. `step(input, target)` runs it, writes the new weights and optimizer state
/// back into the model and the optimizer, and returns the loss. The batch dimension is symbolic,
/// so a last, smaller batch runs with the same code.
/// Invariant: after `step`, the model's parameters and the optimizer's state hold the graph's outputs.
public final class TrainStep {
    private final Traced traced;
    private final Executable exe;
    private final Optimizer optimizer;
    private final List<String> stateKeys;
    private final int stepParam;

    TrainStep(Traced traced, Optimizer optimizer, List<String> stateKeys, int stepParam, Kiln.CompileOptions options) {
        this.traced = traced;
        this.optimizer = optimizer;
        this.stateKeys = stateKeys;
        this.stepParam = stepParam;
        this.exe = Compiler.get(traced.graph(), options.dumpDir());
        if (options.profile()) Profiling.enable(exe, "Kiln.compileTrainStep");
    }

    /// Time per kernel over the steps since compiling (or `resetProfile`), as
    /// `CompiledModel.profile()`: forward, backward and update kernels of the one graph.
    public KernelProfile profile() { return Profiling.of(exe, "TrainStep.profile"); }

    /// Starts the profile again from zero (e.g. after the first steps).
    public void resetProfile() { Profiling.enable(exe, "TrainStep.resetProfile"); }

    /// The whole step as IR: results are the loss, the new parameters, the new optimizer state.
    public Graph graph() { return traced.graph(); }

    // What Kiln.exportTrainStep needs to store the step's state in a jar.
    Traced traced() { return traced; }
    Optimizer optimizer() { return optimizer; }
    List<String> stateKeys() { return stateKeys; }
    int stepParam() { return stepParam; }

    /// Runs one step on a batch; returns the loss (a scalar tensor).
    public Tensor step(Tensor input, Tensor target) {
        List<Tensor> inputs = List.of(input, target);
        Traced.checkInputs("train step", traced.graph(), traced.sources(), inputs);
        List<NdArray> args = traced.arguments(List.of(input.data(), target.data()));
        args.set(stepParam, NdArray.of(new double[]{optimizer.stepCount() + 1}));
        List<NdArray> out = exe.run(args);
        int n = optimizer.params().size();
        List<Tensor> params = new ArrayList<>();
        for (int i = 0; i < n; i++) params.add(new Tensor(out.get(1 + i), input.device()));
        java.util.Map<String, Tensor> state = new java.util.LinkedHashMap<>();
        for (int i = 0; i < stateKeys.size(); i++) state.put(stateKeys.get(i), new Tensor(out.get(1 + n + i), input.device()));
        optimizer.commit(new Optimizer.Update(params, state));
        return new Tensor(out.getFirst(), input.device());
    }
}
