package dev.kiln;

import dev.kiln.codegen.jvm.jar.JarExporter;
import dev.kiln.ir.Graph;
import dev.kiln.ir.Ops;
import dev.kiln.ir.Value;
import dev.kiln.nn.Module;
import dev.kiln.optim.Optimizer;
import dev.kiln.passes.autodiff.Differentiate;
import dev.kiln.runtime.NdArray;
import dev.kiln.runtime.SafeTensors;
import dev.kiln.runtime.TensorFileException;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/// Entry points that are not tensor methods: seeding, gradient mode, realization, the compile
/// cache, tracing and compiling modules, saving and loading state dicts.
public final class Kiln {
    private Kiln() {}

    private static final ThreadLocal<Boolean> GRAD_ENABLED = ThreadLocal.withInitial(() -> true);

    /// Seeds the generator behind `Tensor.rand`, `randn`, parameter initialization and dropout.
    public static void manualSeed(long seed) { Generator.manualSeed(seed); }

    /// Disables gradient recording until closed: `try (var _ = Kiln.noGrad()) { ... }`.
    public static GradMode noGrad() { return new GradMode(false); }

    /// Re-enables gradient recording until closed (inside a `noGrad` scope).
    public static GradMode enableGrad() { return new GradMode(true); }

    public static boolean isGradEnabled() { return GRAD_ENABLED.get(); }

    /// A scope that sets gradient mode and restores the previous mode when closed.
    public static final class GradMode implements AutoCloseable {
        private final boolean previous;

        private GradMode(boolean enabled) {
            previous = GRAD_ENABLED.get();
            GRAD_ENABLED.set(enabled);
        }

        @Override public void close() { GRAD_ENABLED.set(previous); }
    }

    /// Computes every pending tensor given, together, in one graph.
    public static void realize(Tensor... tensors) { realize(Arrays.asList(tensors)); }

    /// Tensors on different devices are computed in one graph per device.
    public static void realize(Collection<Tensor> tensors) {
        Map<Device, List<Node>> nodes = new LinkedHashMap<>();
        for (Tensor t : tensors) if (t != null) nodes.computeIfAbsent(t.device(), _ -> new ArrayList<>()).add(t.node);
        nodes.forEach((device, list) -> Realizer.realize(list, device));
    }

    /// How many graphs have been compiled (compile-cache misses) since the start or `clearCache`.
    public static long compileCount() { return Compiler.misses(); }

    /// How many times a compiled graph was reused (compile-cache hits).
    public static long cacheHits() { return Compiler.hits(); }

    /// Empties the compile cache and resets its counters.
    public static void clearCache() { Compiler.clear(); }

    /// The backend graphs are compiled with (from `-Dkiln.backend`, default `jvm`).
    public static Backend backend() { return Compiler.backend(); }

    /// Selects the backend (and empties the compile cache).
    public static void setBackend(Backend backend) { Compiler.setBackend(backend); }

    // ---- saving and loading ----------------------------------------------------------------

    /// Writes a state dict to `path` in the safetensors format, keys in map order (PyTorch's
    /// `safetensors.torch.save_file`); the file is written to a temporary name and renamed.
    public static void save(Map<String, Tensor> stateDict, Path path) {
        realize(stateDict.values());
        Map<String, NdArray> arrays = new LinkedHashMap<>();
        stateDict.forEach((k, t) -> arrays.put(k, t.data()));
        try {
            SafeTensors.write(path, arrays);
        } catch (TensorFileException e) {
            throw new KilnException("Kiln.save: " + e.getMessage());
        }
    }

    /// Reads a safetensors file (written by Kiln or by PyTorch) as an ordered state dict.
    public static Map<String, Tensor> load(Path path) {
        Map<String, Tensor> out = new LinkedHashMap<>();
        try {
            SafeTensors.read(path).forEach((k, a) -> out.put(k, new Tensor(a, Device.cpu())));
        } catch (TensorFileException e) {
            throw new KilnException("Kiln.load: " + e.getMessage());
        }
        return out;
    }

    // ---- tracing and compiling -------------------------------------------------------------

    /// The IR of `module.forward` on inputs shaped like `exampleInputs`: parameters are the inputs
    /// (`%x`, with the batch dimension as the symbol `B`) and the module's weights under their
    /// state-dict names; ops carry the source lines and module paths that made them.
    public static Graph trace(Module module, Tensor... exampleInputs) { return traceForward(module, exampleInputs).graph(); }

    /// `module.forward` traced once and compiled: a callable that runs the whole forward pass as
    /// one graph (any batch size).
    public static CompiledModel compile(Module module, Tensor... exampleInputs) {
        return compile(module, CompileOptions.defaults(), exampleInputs);
    }

    /// As `compile(module, exampleInputs)`, with debugging options: a profile per kernel
    /// (`CompiledModel.profile()`) and the IR of every stage written to a directory.
    public static CompiledModel compile(Module module, CompileOptions options, Tensor... exampleInputs) {
        return new CompiledModel(traceForward(module, exampleInputs), exampleInputs[0].device(), options);
    }

    /// What `compile` and `compileTrainStep` do besides compiling, for looking inside:
    ///
    /// - `profile`: time every kernel of the compiled graph (jvm backend), read back with
    ///   `CompiledModel.profile()` / `TrainStep.profile()`, a table like `torch.profiler`'s.
    ///   `KILN_PROFILE=1` or `-Dkiln.profile=true` turns it on for every compiled graph (and
    ///   prints the tables when the JVM exits).
    /// - `dumpDir`: write the graph's stages (traced input, each pass, fusion report, kernel IR,
    ///   generated code) to a numbered subdirectory of this directory; it compiles the graph
    ///   again even when the compile cache has it. Without it, `-Dkiln.dumpDir=DIR` or
    ///   `KILN_DUMP_DIR=DIR` dump every graph compiled.
    ///
    /// `Kiln.CompileOptions.defaults().withProfile(true).withDumpDir(Path.of("build/ir"))`.
    public record CompileOptions(boolean profile, Path dumpDir) {
        public static CompileOptions defaults() { return new CompileOptions(false, null); }

        public CompileOptions withProfile(boolean on) { return new CompileOptions(on, dumpDir); }
        public CompileOptions withDumpDir(Path dir) { return new CompileOptions(profile, dir); }
    }

    static Traced traceForward(Module module, Tensor... examples) {
        if (examples.length == 0) throw new KilnException("trace: needs at least one example input");
        List<String> names = new ArrayList<>();
        for (int i = 0; i < examples.length; i++) names.add(examples.length == 1 ? "x" : "x" + i);
        try (Tracer t = Tracer.begin(); var _ = noGrad()) {
            List<Tensor> ph = Traced.placeholders(t, names, List.of(examples), true);
            Tensor out;
            try (var _ = Locations.enter(module.path())) {
                out = module.forward(ph.toArray(Tensor[]::new));
            }
            if (!t.bufferUpdates().isEmpty()) {
                String who = t.bufferUpdates().values().iterator().next().who();
                throw new KilnException(who + " is in training mode and updates its buffers (running statistics) on every call, "
                        + "which a compiled forward pass does not do; call eval() on the model before compiling, tracing or "
                        + "exporting it, or compile a whole training step with Kiln.compileTrainStep, which updates them");
            }
            return Traced.extract("forward", ph, module.stateDict(), List.of(out.node));
        }
    }

    /// One training step as one compiled graph: `model` forward on the input, `loss` against the
    /// target, gradients of the loss for the optimizer's parameters (the autodiff pass), and the
    /// optimizer's update. See `TrainStep`.
    public static TrainStep compileTrainStep(Module model, Module loss, Optimizer optimizer, Tensor exampleInput, Tensor exampleTarget) {
        return compileTrainStep(model, loss, optimizer, exampleInput, exampleTarget, CompileOptions.defaults());
    }

    /// As `compileTrainStep(model, loss, optimizer, exampleInput, exampleTarget)`, with debugging
    /// options (`CompileOptions`): a profile per kernel (`TrainStep.profile()`), IR dumps.
    public static TrainStep compileTrainStep(Module model, Module loss, Optimizer optimizer, Tensor exampleInput, Tensor exampleTarget,
                                             CompileOptions options) {
        try (Tracer t = Tracer.begin()) {
            List<Tensor> ph = Traced.placeholders(t, List.of("x", "y"), List.of(exampleInput, exampleTarget), true);
            Tensor out, l;
            try (var _ = Locations.enter(model.path())) {
                out = model.forward(ph.get(0));
            }
            try (var _ = Locations.enter(loss.path())) {
                l = loss.forward(out, ph.get(1));
            }
            if (l.dim() != 0 || !l.dtype().isFloat())
                throw new KilnException("compileTrainStep: the loss must be a float scalar, got " + l.type());

            Map<Tensor, String> stateNames = new IdentityHashMap<>();
            model.stateDict().forEach((n, v) -> stateNames.putIfAbsent(v, n));
            Map<String, Tensor> named = new LinkedHashMap<>();
            for (int i = 0; i < optimizer.params().size(); i++) {
                Tensor p = optimizer.params().get(i);
                named.put(stateNames.getOrDefault(p, "param" + i), p);
            }
            List<String> wrt = List.copyOf(named.keySet());
            model.stateDict().forEach(named::putIfAbsent);
            // Buffers updated in forward (BatchNorm's running statistics): their new values are
            // results of the forward graph, and so of the step.
            List<Tensor> buffers = new ArrayList<>();
            List<Node> fwdResults = new ArrayList<>(List.of(l.node));
            t.bufferUpdates().forEach((buffer, u) -> {
                if (!stateNames.containsKey(buffer))
                    throw new KilnException("compileTrainStep: " + u.who() + " updates a buffer that is not in the model's state dict "
                            + "(register the module in the model)");
                buffers.add(buffer);
                fwdResults.add(u.value().node);
            });
            Traced fwd = Traced.extract("train_step", ph, named, fwdResults);

            // Differentiate, then bring the joint graph back as nodes so that the optimizer's rule,
            // written in tensor ops, records on top of it.
            Graph joint = Differentiate.joint(fwd.graph(), wrt);
            Map<Value, Node> nodes = new IdentityHashMap<>();
            for (int i = 0; i < joint.params().size(); i++) nodes.put(joint.params().get(i), fwd.nodes().get(i));
            for (Value v : joint.body()) nodes.put(v, Node.imported(v, Ops.operands(v.op()).stream().map(nodes::get).toList()));
            List<Tensor> grads = new ArrayList<>();
            for (int i = 0; i < wrt.size(); i++)
                grads.add(new Tensor(nodes.get(joint.results().get(fwdResults.size() + i)), exampleInput.device()));

            Tensor stepNumber = Tensor.scalar(1.0);
            Optimizer.Update u;
            try (var _ = noGrad()) {
                u = optimizer.plan(grads, stepNumber);
            }
            optimizer.state().forEach((k, v) -> named.put("optim." + k, v));
            named.put("optim.step", stepNumber);
            named.put("optim.lr", optimizer.lrTensor()); // an input, so that setLr and schedulers reach compiled steps
            List<Node> results = new ArrayList<>();
            results.add(nodes.get(joint.results().getFirst()));
            for (Tensor p : u.params()) results.add(p.node);
            for (Tensor s : u.state().values()) results.add(s.node);
            for (int k = 0; k < buffers.size(); k++) results.add(nodes.get(joint.results().get(1 + k)));
            Traced step = Traced.extract("train_step", ph, named, results);
            int stepParam = step.graph().paramNames().indexOf("optim.step");
            return new TrainStep(step, optimizer, List.copyOf(u.state().keySet()), buffers, stepParam, exampleInput.device(), options);
        }
    }

    // ---- standalone jars -------------------------------------------------------------------

    /// Writes `module.forward`, traced on an input shaped like `exampleInput` and compiled for the
    /// JVM, with the module's current weights, as a standalone jar: `java -jar` runs it on `.npy`
    /// files, and Java code calls its typed entry class (`kiln.model.<the jar's name in
    /// CamelCase>`). The jar holds the generated classes, the weights and Kiln's runtime only.
    public static JarExporter.Exported export(Module module, Tensor exampleInput, Path jar) {
        return export(module, List.of(exampleInput), jar, null);
    }

    /// As `export(module, exampleInput, jar)`, for a forward pass of several inputs (named `x0`,
    /// `x1`, ... in the jar), with the entry class named `className` (null: from the jar's name).
    public static JarExporter.Exported export(Module module, List<Tensor> exampleInputs, Path jar, String className) {
        return Export.model(module, exampleInputs, jar, className);
    }

    /// What an exported jar's code runs on.
    public enum Target {
        /// JVM bytecode: runs on any Java 25 runtime (`export(module, input, jar)`).
        JVM,
        /// PTX for NVIDIA GPUs (sm_80 and later), run through the CUDA driver with JCuda; the jar
        /// carries JCuda and its driver binding, and needs a GPU and its driver where it runs.
        CUDA
    }

    /// As `export(module, exampleInput, jar)` for `target`; returns the jar's size in bytes.
    /// Writing a `CUDA` jar needs no GPU. See `CudaJar` for what the jar holds.
    public static long export(Module module, Tensor exampleInput, Path jar, Target target) {
        return switch (target) {
            case JVM -> export(module, exampleInput, jar).bytes();
            case CUDA -> Export.cuda(module, List.of(exampleInput), jar).bytes();
        };
    }

    /// Writes a compiled training step as a standalone jar that continues training from the
    /// current weights and optimizer state (`java -jar step.jar --input x.npy --target y.npy
    /// --steps N --save out.safetensors`), without the compiler.
    public static JarExporter.Exported exportTrainStep(TrainStep step, Path jar) { return exportTrainStep(step, jar, null); }

    public static JarExporter.Exported exportTrainStep(TrainStep step, Path jar, String className) {
        return Export.trainStep(step, jar, className);
    }

    /// Traces `module.forward` and saves it for the command line: `dir/model.kir` (the graph,
    /// with the source lines that made each op) and `dir/weights.safetensors` (its weights), so
    /// that `kiln compile|run|bench|dump dir/model.kir --weights dir/weights.safetensors` work on it.
    public static void saveTraced(Module module, Path dir, Tensor... exampleInputs) {
        traceForward(module, exampleInputs).save(dir);
    }
}
