package dev.kiln.codegen.jvm.rt;

import dev.kiln.runtime.NdArray;
import dev.kiln.runtime.SafeTensors;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/// A model inside a standalone jar: its plan, its generated kernels and the tensors it was
/// exported with (weights, and for a training step the optimizer's state and step count), read
/// from resources next to the jar's entry class (`<base>.plan`, `<base>.safetensors`, and
/// `<base>.constants.safetensors` when the graph has dense constants).
///
/// `run` evaluates the graph on the caller's inputs (the INPUT parameters, in order) with the
/// stored tensors for the rest. `step` does the same and then keeps the results that update
/// STATE parameters, so the next step continues from them (a training step).
///
/// Thread-safety: `run` may be called from several threads at once; `step` and `save` are
/// serialized with each other (they read and replace the stored state).
public final class ExportedModel {
    private final Plan plan;
    private final PlanExecutable exe;
    private final NdArray[] values;          // per parameter: the stored tensor, null for INPUT and SEED
    private final int[] inputs;              // parameter indices of the INPUT parameters, in order
    private final SplittableRandom seeds = new SplittableRandom();
    private long stepCount;

    public ExportedModel(Plan plan, KernelSet kernels, Map<String, NdArray> tensors, List<NdArray> constants, Pool pool) {
        this.plan = plan;
        this.exe = new PlanExecutable(plan, kernels, constants, pool);
        this.values = new NdArray[plan.params().size()];
        List<Integer> in = new ArrayList<>();
        for (int i = 0; i < values.length; i++) {
            Plan.Param p = plan.params().get(i);
            switch (p.role()) {
                case INPUT -> in.add(i);
                case SEED -> {}
                case WEIGHT, CONST, STATE, STEP -> {
                    NdArray a = tensors.get(p.name());
                    if (a == null) throw new IllegalArgumentException("the model's tensors lack '" + p.name() + "' (" + plan.paramType(i) + ")");
                    if (a.dtype() != p.dtype() || !fits(p.dims(), a.shape()))
                        throw new IllegalArgumentException("tensor '" + p.name() + "' is " + describe(a) + ", expected " + plan.paramType(i));
                    values[i] = a;
                    if (p.role() == Plan.Role.STEP) stepCount = Math.round(a.getDouble(0));
                }
            }
        }
        this.inputs = in.stream().mapToInt(Integer::intValue).toArray();
    }

    /// Reads the plan and tensors stored next to `anchor` under the name `base`.
    public static ExportedModel load(Class<?> anchor, String base, KernelSet kernels, Pool pool) {
        String planText = new String(resource(anchor, base + ".plan", true), StandardCharsets.UTF_8);
        Plan plan = Plan.parse(planText, base + ".plan");
        Map<String, NdArray> tensors = SafeTensors.read(resource(anchor, base + ".safetensors", true), base + ".safetensors");
        byte[] constBytes = resource(anchor, base + ".constants.safetensors", false);
        List<NdArray> constants = new ArrayList<>();
        if (constBytes != null) {
            Map<String, NdArray> c = SafeTensors.read(constBytes, base + ".constants.safetensors");
            for (int i = 0; i < c.size(); i++) {
                NdArray a = c.get(Integer.toString(i));
                if (a == null) throw new IllegalArgumentException(base + ".constants.safetensors lacks constant " + i);
                constants.add(a);
            }
        }
        return new ExportedModel(plan, kernels, tensors, constants, pool);
    }

    private static byte[] resource(Class<?> anchor, String name, boolean required) {
        try (InputStream in = anchor.getResourceAsStream(name)) {
            if (in == null) {
                if (required) throw new IllegalStateException("resource " + name + " is missing next to " + anchor.getName());
                return null;
            }
            return in.readAllBytes();
        } catch (IOException e) {
            throw new IllegalStateException("cannot read resource " + name + ": " + e.getMessage(), e);
        }
    }

    public Plan plan() { return plan; }

    /// The profiling hooks of the underlying executor.
    public PlanExecutable executable() { return exe; }

    /// Whether this is a training step: some parameter is updated by a result.
    public boolean isTrainStep() { return plan.params().stream().anyMatch(p -> p.role() == Plan.Role.STATE); }

    public int inputCount() { return inputs.length; }

    public String inputName(int i) { return plan.params().get(inputs[i]).name(); }

    /// The type of input `i` as the IR writes it, e.g. `f32[B,784]`.
    public String inputType(int i) { return plan.paramType(inputs[i]); }

    public List<String> inputNames() {
        List<String> names = new ArrayList<>();
        for (int i = 0; i < inputs.length; i++) names.add(inputName(i));
        return names;
    }

    public List<String> outputNames() { return plan.results().stream().map(Plan.Result::name).toList(); }

    public String outputType(int r) { return plan.resultType(r); }

    /// Completed training steps (the optimizer's step count).
    public synchronized long stepCount() { return stepCount; }

    /// Checks `arrays` (one per input, in order) against the input types, binding dimension
    /// symbols as it goes; `origins` (or null) says where each came from, for the message.
    /// Throws IllegalArgumentException with one line naming the input, what was expected and
    /// what was given.
    public void check(List<NdArray> arrays, List<String> origins) {
        if (arrays.size() != inputs.length)
            throw new IllegalArgumentException("the model takes " + inputs.length + " inputs (" + String.join(", ", inputNames())
                    + "), given " + arrays.size());
        int[] bound = new int[plan.symbols().size()];
        String[] boundBy = new String[bound.length];
        Arrays.fill(bound, -1);
        for (int i = 0; i < inputs.length; i++) {
            NdArray a = arrays.get(i);
            Plan.Param p = plan.params().get(inputs[i]);
            String what = "input '" + p.name() + "'" + (origins == null || origins.get(i) == null ? "" : " (" + origins.get(i) + ")")
                    + " is " + describe(a) + ", expected " + plan.paramType(inputs[i]);
            if (a.dtype() != p.dtype()) throw new IllegalArgumentException(what + ": dtype " + a.dtype() + " instead of " + p.dtype());
            if (a.rank() != p.dims().length)
                throw new IllegalArgumentException(what + ": rank " + a.rank() + " instead of " + p.dims().length);
            for (int d = 0; d < a.rank(); d++) {
                int want = p.dims()[d];
                if (want >= 0) {
                    if (a.dim(d) != want) throw new IllegalArgumentException(what + ": axis " + d + " is " + a.dim(d) + ", not " + want);
                } else if (bound[-want - 1] < 0) {
                    bound[-want - 1] = a.dim(d);
                    boundBy[-want - 1] = p.name();
                } else if (bound[-want - 1] != a.dim(d)) {
                    throw new IllegalArgumentException(what + ": axis " + d + " is " + a.dim(d) + ", but " + plan.symbols().get(-want - 1)
                            + " = " + bound[-want - 1] + " from input '" + boundBy[-want - 1] + "'");
                }
            }
        }
    }

    /// Runs the graph on `inputs` (one per input, in order); returns every result, in order.
    public List<NdArray> run(List<NdArray> inputs) {
        check(inputs, null);
        NdArray[] args;
        synchronized (this) { args = arguments(inputs); }
        return exe.run(Arrays.asList(args));
    }

    /// Inputs and outputs by name.
    public Map<String, NdArray> run(Map<String, NdArray> inputs) {
        List<NdArray> in = new ArrayList<>();
        for (String n : inputNames()) {
            NdArray a = inputs.get(n);
            if (a == null) throw new IllegalArgumentException("missing input '" + n + "'");
            in.add(a);
        }
        for (String n : inputs.keySet())
            if (!inputNames().contains(n)) throw new IllegalArgumentException("the model has no input '" + n + "' (its inputs: "
                    + String.join(", ", inputNames()) + ")");
        List<NdArray> out = run(in);
        Map<String, NdArray> named = new LinkedHashMap<>();
        for (int r = 0; r < out.size(); r++) named.put(plan.results().get(r).name(), out.get(r));
        return named;
    }

    /// One training step on a batch: runs the graph, then replaces each STATE tensor with the
    /// result that updates it and counts the step. Returns every result (the loss first).
    public synchronized List<NdArray> step(List<NdArray> inputs) {
        check(inputs, null);
        List<NdArray> out = exe.run(Arrays.asList(arguments(inputs)));
        for (int i = 0; i < values.length; i++) {
            Plan.Param p = plan.params().get(i);
            if (p.role() == Plan.Role.STATE) values[i] = out.get(p.update());
        }
        stepCount++;
        return out;
    }

    private NdArray[] arguments(List<NdArray> in) {
        NdArray[] args = new NdArray[values.length];
        for (int i = 0; i < inputs.length; i++) args[inputs[i]] = in.get(i);
        for (int i = 0; i < values.length; i++) {
            Plan.Param p = plan.params().get(i);
            switch (p.role()) {
                case INPUT -> {}
                case WEIGHT, CONST, STATE -> args[i] = values[i];
                case STEP -> args[i] = filled(p, stepCount + 1);
                case SEED -> {
                    NdArray s = NdArray.zeros(p.dtype(), fixed(p));
                    for (int e = 0; e < s.size(); e++) s.setLong(e, seeds.nextLong());
                    args[i] = s;
                }
            }
        }
        return args;
    }

    private static NdArray filled(Plan.Param p, double v) {
        NdArray a = NdArray.zeros(p.dtype(), fixed(p));
        for (int e = 0; e < a.size(); e++) a.setDouble(e, v);
        return a;
    }

    private static int[] fixed(Plan.Param p) {
        int[] d = p.dims().clone();
        for (int i = 0; i < d.length; i++) if (d[i] < 0) d[i] = 1;
        return d;
    }

    /// The stored tensors by name (weights, optimizer state, the step counter at the current
    /// count), in parameter order, less constants: what `save` writes.
    public synchronized Map<String, NdArray> state() {
        Map<String, NdArray> out = new LinkedHashMap<>();
        for (int i = 0; i < values.length; i++) {
            Plan.Param p = plan.params().get(i);
            switch (p.role()) {
                case STEP -> out.put(p.name(), filled(p, stepCount));
                case WEIGHT, STATE -> out.put(p.name(), values[i]);
                case INPUT, CONST, SEED -> {}
            }
        }
        return out;
    }

    /// Writes `state()` to a safetensors file (atomically).
    public void save(Path file) { SafeTensors.write(file, state()); }

    static String describe(NdArray a) {
        return a.dtype().text() + Arrays.toString(a.shape()).replace(" ", "");
    }

    private static boolean fits(int[] dims, int[] shape) {
        if (dims.length != shape.length) return false;
        for (int d = 0; d < dims.length; d++) if (dims[d] >= 0 && dims[d] != shape[d]) return false;
        return true;
    }
}
