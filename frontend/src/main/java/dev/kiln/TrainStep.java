package dev.kiln;

import dev.kiln.codegen.cuda.CudaExecutable;
import dev.kiln.codegen.jvm.rt.KernelProfile;
import dev.kiln.ir.Graph;
import dev.kiln.optim.Optimizer;
import dev.kiln.runtime.Executable;
import dev.kiln.runtime.NdArray;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/// One training step compiled as one graph: forward, loss, backward (by the autodiff pass) and the
/// optimizer's update. `step(input, target)` runs it, writes the new weights and optimizer state
/// back into the model and the optimizer, and returns the loss. The batch dimension is symbolic,
/// so a last, smaller batch runs with the same code.
///
/// On `cuda` the weights and the optimizer's state stay on the GPU between steps
/// (`CudaExecutable.Resident`): a step sends the batch and gets the loss back, and the model's
/// tensors are given leaves whose values are copied back from the GPU only when read (printing,
/// `Kiln.save`, `stateDict`, an eager op, a checkpoint). Changing them between steps (`copy_`,
/// `loadStateDict`, an eager `optimizer.step()`) is seen by the next step, which uploads them
/// again; so is a batch of another shape (the last, smaller one), which gets its own resident copy.
/// `close()` frees the step's GPU memory at once (the values still on the GPU are first copied
/// back into their tensors); a step that becomes unreachable unclosed is freed by a `Cleaner`.
/// Buffers that the model updates in `forward` (BatchNorm's running statistics, see
/// `BufferUpdates`) are results of the step too, written back like the parameters.
/// Invariant: after `step`, the model's parameters, its updated buffers and the optimizer's state
/// hold the graph's outputs (on `cuda`, once read).
public final class TrainStep implements AutoCloseable {
    private final Traced traced;
    private final Executable exe;
    /// Drops this step's hold on `exe` (see `Compiler.hold`).
    private final java.lang.ref.Cleaner.Cleanable held;
    private boolean closed;
    private final Optimizer optimizer;
    private final List<String> stateKeys;
    /// The model's buffers that the step updates, in result order (after the optimizer's slots).
    private final List<Tensor> buffers;
    private final int stepParam;
    private final Device device;
    /// On cuda: graph parameters that stay on the GPU, the results that replace them, and the
    /// tensors they are (the optimizer's parameters, then its slots, in `stateKeys` order, then
    /// the updated buffers).
    private final int[] stateParams, stateResults;
    private final List<Tensor> stateTensors = new ArrayList<>();
    private CudaExecutable.Resident resident;
    private List<NdArray> residentShapes;
    /// The leaves given to `stateTensors` after the last resident step (null before).
    private Node[] installed;
    private long version;
    private List<NdArray> pulled;

    TrainStep(Traced traced, Optimizer optimizer, List<String> stateKeys, List<Tensor> buffers, int stepParam, Device device,
              Kiln.CompileOptions options) {
        this.traced = traced;
        this.optimizer = optimizer;
        this.stateKeys = stateKeys;
        this.buffers = List.copyOf(buffers);
        this.stepParam = stepParam;
        this.device = device;
        this.exe = Compiler.get(traced.graph(), device, options.dumpDir());
        this.held = Compiler.hold(this, exe);
        if (options.profile()) Profiling.enable(exe, "Kiln.compileTrainStep");
        int n = optimizer.params().size();
        List<Integer> params = new ArrayList<>(), results = new ArrayList<>();
        if (exe instanceof CudaExecutable) {
            for (int i = 0; i < n; i++) {
                stateTensors.add(optimizer.params().get(i));
                results.add(1 + i);
            }
            for (int k = 0; k < stateKeys.size(); k++) {
                stateTensors.add(optimizer.state().get(stateKeys.get(k)));
                results.add(1 + n + k);
            }
            for (int k = 0; k < buffers.size(); k++) {
                stateTensors.add(buffers.get(k));
                results.add(firstBufferResult() + k);
            }
            for (Tensor t : stateTensors) params.add(paramOf(t));
        }
        stateParams = params.stream().mapToInt(Integer::intValue).toArray();
        stateResults = results.stream().mapToInt(Integer::intValue).toArray();
    }

    /// The graph parameter that reads `x` (by identity: optimizers update their tensors in place).
    private int paramOf(Tensor x) {
        for (int j = 0; j < traced.sources().size(); j++)
            if (traced.sources().get(j) instanceof Traced.Source.Named(Tensor named) && named == x) return j;
        throw new IllegalStateException("the train step's graph does not read one of the optimizer's tensors");
    }

    /// Time per kernel over the steps since compiling (or `resetProfile`), as
    /// `CompiledModel.profile()`: forward, backward and update kernels of the one graph.
    public KernelProfile profile() { return Profiling.of(exe, "TrainStep.profile"); }

    /// Starts the profile again from zero (e.g. after the first steps).
    public void resetProfile() { Profiling.enable(exe, "TrainStep.resetProfile"); }

    /// The result that holds the first updated buffer's new value.
    private int firstBufferResult() { return 1 + optimizer.params().size() + stateKeys.size(); }

    /// The whole step as IR: results are the loss, the new parameters, the new optimizer state,
    /// the new values of the buffers the model updates.
    public Graph graph() { return traced.graph(); }

    /// Where it runs: the device of the example input it was compiled with.
    public Device device() { return device; }

    // What Kiln.exportTrainStep needs to store the step's state in a jar.
    Traced traced() { return traced; }
    Optimizer optimizer() { return optimizer; }
    List<String> stateKeys() { return stateKeys; }
    List<Tensor> buffers() { return buffers; }
    int stepParam() { return stepParam; }

    /// Runs one step on a batch; returns the loss (a scalar tensor).
    public Tensor step(Tensor input, Tensor target) {
        if (closed) throw new KilnException("train step: it was closed");
        List<Tensor> inputs = List.of(input, target);
        Traced.checkInputs("train step", traced.graph(), traced.sources(), inputs);
        for (int i = 0; i < 2; i++)
            if (!inputs.get(i).device().equals(device))
                throw new KilnException("train step: the " + (i == 0 ? "input" : "target") + " is on " + inputs.get(i).device()
                        + ", but the step was compiled for " + device + " (move it with to(device))");
        if (stateParams.length > 0) return residentStep(input, target);
        List<NdArray> args = traced.arguments(List.of(input.data(), target.data()));
        args.set(stepParam, stepNumber());
        List<NdArray> out = exe.run(args);
        int n = optimizer.params().size();
        List<Tensor> params = new ArrayList<>();
        for (int i = 0; i < n; i++) params.add(new Tensor(out.get(1 + i), device));
        Map<String, Tensor> state = new LinkedHashMap<>();
        for (int i = 0; i < stateKeys.size(); i++) state.put(stateKeys.get(i), new Tensor(out.get(1 + n + i), device));
        optimizer.commit(new Optimizer.Update(params, state));
        for (int k = 0; k < buffers.size(); k++) buffers.get(k).assign(out.get(firstBufferResult() + k));
        return new Tensor(out.getFirst(), device);
    }

    private NdArray stepNumber() { return NdArray.of(new double[]{optimizer.stepCount() + 1}); }

    private Tensor residentStep(Tensor input, Tensor target) {
        List<NdArray> batch = new ArrayList<>();
        boolean[] state = new boolean[traced.sources().size()];
        for (int p : stateParams) state[p] = true;
        NdArray x = input.data(), y = target.data();
        for (int j = 0; j < state.length; j++)
            if (!state[j]) batch.add(j == stepParam ? stepNumber() : argument(j, x, y));
        if (!current(batch)) {
            List<NdArray> all = new ArrayList<>();
            for (int j = 0, k = 0; j < state.length; j++) all.add(state[j] ? stateTensors.get(indexOf(j)).data() : batch.get(k++));
            if (resident != null) resident.close();
            resident = ((CudaExecutable) exe).resident(all, stateParams, stateResults);
            residentShapes = batch;
        }
        List<NdArray> out = resident.step(batch);
        version++;
        pulled = null;
        installed = new Node[stateTensors.size()];
        for (int k = 0; k < installed.length; k++) {
            Tensor t = stateTensors.get(k);
            int slot = k;
            long v = version;
            installed[k] = Node.onDevice(t.type(), t, () -> pull(slot, v));
            t.assignNode(installed[k]);
        }
        // counts the step: no values to commit, the new ones are on the GPU
        optimizer.commit(new Optimizer.Update(Collections.nCopies(optimizer.params().size(), null), Map.of()));
        return new Tensor(out.getFirst(), device);
    }

    /// Whether the resident copy can run this batch as it is: it exists, it was made for
    /// batches of these shapes, and no state tensor changed since the last step. When it cannot,
    /// the values still on the GPU are first copied back into their tensors.
    private boolean current(List<NdArray> batch) {
        if (resident == null) return false;
        boolean same = installed != null;
        for (int k = 0; same && k < installed.length; k++) same = stateTensors.get(k).node == installed[k];
        for (int i = 0; same && i < batch.size(); i++)
            same = Arrays.equals(batch.get(i).shape(), residentShapes.get(i).shape()) && batch.get(i).dtype() == residentShapes.get(i).dtype();
        if (!same && installed != null) for (Node n : installed) n.fetch();
        return same;
    }

    private int indexOf(int param) {
        for (int k = 0; k < stateParams.length; k++) if (stateParams[k] == param) return k;
        throw new IllegalStateException();
    }

    /// The value of graph parameter `j` that is not state: the batch, a named tensor, a constant, a seed.
    private NdArray argument(int j, NdArray x, NdArray y) {
        return switch (traced.sources().get(j)) {
            case Traced.Source.Input(int k) -> k == 0 ? x : y;
            case Traced.Source.Named n -> n.tensor().data();
            case Traced.Source.Constant c -> c.data();
            case Traced.Source.Seed _ -> NdArray.of(new long[]{Generator.nextSeed()});
        };
    }

    /// Copies the values still on the GPU back into their tensors, then frees the step's GPU
    /// memory (its resident copy, and the compiled program once nothing else uses it). A later
    /// `step` throws. Idempotent.
    @Override public void close() {
        if (closed) return;
        closed = true;
        if (installed != null) for (Node n : installed) n.fetch();
        if (resident != null) resident.close();
        resident = null;
        held.clean();
    }

    /// State tensor `k`'s values after step `v`, copied back from the GPU (all of them at once).
    private NdArray pull(int k, long v) {
        if (v != version)
            throw new KilnException("train step: a parameter's or optimizer slot's values from an earlier step are gone (they stayed "
                    + "on the GPU and the next step replaced them); read them before the next step");
        if (pulled == null) pulled = resident.state();
        return pulled.get(k);
    }
}
