package dev.kiln;

import dev.kiln.codegen.cuda.CudaJar;
import dev.kiln.codegen.jvm.jar.JarExporter;
import dev.kiln.ir.Graph;
import dev.kiln.ir.IrError;
import dev.kiln.ir.text.Printer;
import dev.kiln.nn.Module;
import dev.kiln.optim.Optimizer;
import dev.kiln.passes.GraphDump;
import dev.kiln.runtime.AtomicFiles;
import dev.kiln.runtime.NdArray;
import dev.kiln.runtime.SafeTensors;
import dev.kiln.runtime.TensorFileException;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/// What `Kiln.export`, `Kiln.exportTrainStep` and `Kiln.saveTraced` do with a traced graph: map
/// each parameter's source to what the jar (or the saved files) hold for it. Named tensors and
/// captured constants are stored with their current values, seeds are drawn by the jar per run,
/// and traced inputs stay inputs. The graph goes through the same passes as an in-process
/// compile on the JVM backend, so the jar computes what `Kiln.compile` computes there.
final class Export {
    private Export() {}

    static JarExporter.Exported model(Module module, List<Tensor> examples, Path jar, String className) {
        Traced t = Kiln.traceForward(module, examples.toArray(Tensor[]::new));
        return write(t, jar, className, null);
    }

    /// `module.forward` as a CUDA jar (see `CudaJar`): the graph through the passes and fusion
    /// the CUDA backend gets, its PTX, and the module's current weights.
    static CudaJar.Exported cuda(Module module, List<Tensor> examples, Path jar) {
        Traced t = Kiln.traceForward(module, examples.toArray(Tensor[]::new));
        Map<String, NdArray> tensors = storedTensors(t, "export", "a CUDA jar cannot draw yet");
        try {
            return CudaJar.export(Pipeline.optimize(t.graph(), "cuda", null), tensors, jar);
        } catch (IrError | IllegalArgumentException | TensorFileException e) {
            throw new KilnException("export: " + e.getMessage());
        } catch (UncheckedIOException e) {
            throw new KilnException("export: cannot write " + jar + ": " + e.getCause().getMessage());
        }
    }

    static JarExporter.Exported trainStep(TrainStep step, Path jar, String className) {
        Traced t = step.traced();
        Optimizer opt = step.optimizer();
        int n = opt.params().size();
        Map<String, Integer> updates = new LinkedHashMap<>();
        for (int i = 0; i < n; i++) updates.put(nameOf(t, opt.params().get(i), "parameter " + i), 1 + i);
        for (int k = 0; k < step.stateKeys().size(); k++) {
            String key = step.stateKeys().get(k);
            updates.put(nameOf(t, opt.state().get(key), "optimizer slot " + key), 1 + n + k);
        }
        for (int k = 0; k < step.buffers().size(); k++)
            updates.put(nameOf(t, step.buffers().get(k), "an updated buffer"), 1 + n + step.stateKeys().size() + k);
        String stepParam = t.graph().paramNames().get(step.stepParam());
        return write(t, jar, className, new JarExporter.Train(updates, stepParam, opt.stepCount()));
    }

    /// The graph parameter that reads tensor `x` (compared by identity: the optimizer updates
    /// its tensors in place, so they are the ones the trace saw).
    private static String nameOf(Traced t, Tensor x, String what) {
        for (int j = 0; j < t.sources().size(); j++)
            if (t.sources().get(j) instanceof Traced.Source.Named(Tensor named) && named == x) return t.graph().paramNames().get(j);
        throw new KilnException("exportTrainStep: the step's graph does not read " + what);
    }

    private static JarExporter.Exported write(Traced t, Path jar, String className, JarExporter.Train train) {
        Map<String, NdArray> tensors = new LinkedHashMap<>();
        Set<String> seeds = new HashSet<>(), constants = new HashSet<>();
        collect(t, tensors, seeds, constants);
        Backend jvm = Backend.named("jvm");
        String what = train == null ? "export" : "exportTrainStep";
        try {
            GraphDump dump = Compiler.dump(t.graph(), null);
            Graph g = Pipeline.optimize(t.graph(), jvm, dump);
            JarExporter.Options o = JarExporter.Options.named(className == null ? JarExporter.defaultClassName(jar) : className)
                    .withOptimize(false).withSeeds(seeds).withConstants(constants).withTrain(train).withDump(dump);
            return JarExporter.export(g, tensors, jar, o);
        } catch (IrError | IllegalArgumentException | TensorFileException e) {
            throw new KilnException(what + ": " + e.getMessage());
        } catch (UncheckedIOException e) {
            throw new KilnException(what + ": cannot write " + jar + ": " + e.getCause().getMessage());
        }
    }

    /// The tensors `collect` finds, for a graph that must not draw random numbers (`what` says
    /// who asks, `why` why it cannot).
    private static Map<String, NdArray> storedTensors(Traced t, String what, String why) {
        Map<String, NdArray> tensors = new LinkedHashMap<>();
        Set<String> seeds = new HashSet<>();
        collect(t, tensors, seeds, new HashSet<>());
        if (!seeds.isEmpty())
            throw new KilnException(what + ": the model draws random numbers (" + String.join(", ", seeds) + "), which " + why
                    + "; call model.eval() before " + (what.equals("saveTraced") ? "saving" : "exporting"));
        return tensors;
    }

    private static void collect(Traced t, Map<String, NdArray> tensors, Set<String> seeds, Set<String> constants) {
        List<Tensor> named = new ArrayList<>();
        for (Traced.Source s : t.sources()) if (s instanceof Traced.Source.Named(Tensor x)) named.add(x);
        Kiln.realize(named);
        for (int j = 0; j < t.sources().size(); j++) {
            String name = t.graph().paramNames().get(j);
            switch (t.sources().get(j)) {
                case Traced.Source.Input _ -> {}
                case Traced.Source.Named(Tensor x) -> tensors.put(name, x.data());
                case Traced.Source.Constant(NdArray data) -> {
                    tensors.put(name, data);
                    constants.add(name);
                }
                case Traced.Source.Seed() -> seeds.add(name);
            }
        }
    }

    /// `dir/model.kir` (the graph, with source locations) and `dir/weights.safetensors` (every
    /// parameter that is not a traced input), each written atomically.
    static void save(Traced t, Path dir) {
        Map<String, NdArray> tensors = storedTensors(t, "saveTraced", "a saved graph would take as inputs");
        try {
            Files.createDirectories(dir);
            AtomicFiles.write(dir.resolve("model.kir"), Printer.print(t.graph(), true).getBytes(StandardCharsets.UTF_8));
            SafeTensors.write(dir.resolve("weights.safetensors"), tensors);
        } catch (IOException e) {
            throw new KilnException("saveTraced: cannot write to " + dir + ": " + e.getMessage());
        } catch (TensorFileException e) {
            throw new KilnException("saveTraced: " + e.getMessage());
        }
    }
}
