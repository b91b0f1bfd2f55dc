package dev.kiln.cli;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;

import dev.kiln.codegen.cuda.CudaBackend;
import dev.kiln.codegen.jvm.JvmBackend;
import dev.kiln.codegen.jvm.rt.Gemm;
import dev.kiln.codegen.jvm.rt.PlanExecutable;
import dev.kiln.codegen.jvm.rt.Pool;
import dev.kiln.ir.Graph;
import dev.kiln.ir.IrError;
import dev.kiln.ir.interp.Interpreter;
import dev.kiln.passes.GraphDump;
import dev.kiln.runtime.Executable;
import dev.kiln.runtime.NdArray;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/// `kiln bench MODEL.kir [--weights W] [--dim B=64] [--iters N] [--profile]`: times a model on a
/// backend: compile time, the first run, then the median, minimum and 90th percentile of
/// `--iters` runs after `--warmup` runs, and the throughput. Inputs not given are drawn at random
/// (as `kiln ir run --random-inputs` draws them). `--profile` then runs the same kernels again
/// with a timer around each and prints a table per kernel: calls, time, share, GFLOP/s, GB/s.
/// Invariant: timed runs use the same inputs and the same compiled code; nothing is written.
@Command(name = "bench", description = {"Time a model: compile time, latency (median, min, p90) and throughput.",
        "Inputs not given with --input are random; --dim sets the size of a dimension symbol."})
final class BenchCommand implements Callable<Integer> {
    @Spec CommandSpec spec;

    @Parameters(paramLabel = "MODEL.kir", description = "The model's graph.")
    String file;

    @Option(names = "--weights", paramLabel = "FILE.safetensors", description = "Weights by parameter name (the rest are random).")
    Path weights;

    @Option(names = "--input", paramLabel = "[NAME=]FILE.npy", description = "An input, by name or the next in order.")
    List<String> inputs = new ArrayList<>();

    @Option(names = "--backend", paramLabel = "jvm|interp|cuda", defaultValue = "jvm", description = "jvm (default), interp or cuda (the GPU).")
    String backend;

    @Option(names = "--dim", paramLabel = "SYM=N", description = "Size of a dimension symbol, e.g. --dim B=64 (default 1).")
    List<String> dims = new ArrayList<>();

    @Option(names = "--iters", paramLabel = "N", defaultValue = "100", description = "Timed runs (default 100).")
    int iters;

    @Option(names = "--warmup", paramLabel = "N", defaultValue = "20", description = "Untimed runs first, for the JIT (default 20).")
    int warmup;

    @Option(names = "--profile", description = "Also time each kernel (jvm backend) and print a table.")
    boolean profile;

    @Option(names = "--seed", paramLabel = "N", defaultValue = "0", description = "Seed of the random inputs (default 0).")
    long seed;

    @Option(names = "--graph", paramLabel = "NAME", description = "The graph to time, in a file that holds several.")
    String graph;

    @Option(names = "--dump-dir", paramLabel = "DIR", description = ModelFiles.DUMP_DIR_HELP)
    Path dumpDir;

    @Override public Integer call() {
        Backends.check(spec.commandLine(), backend);
        if (iters < 1 || warmup < 0) throw new ParameterException(spec.commandLine(), "--iters must be >= 1 and --warmup >= 0");
        if (profile && !backend.equals("jvm")) throw new ParameterException(spec.commandLine(), "--profile times the kernels of --backend jvm");
        if (dumpDir != null && !backend.equals("jvm"))
            throw new ParameterException(spec.commandLine(), "--dump-dir shows the stages of a compile: it needs --backend jvm");
        Graph g = KirFile.read(file).graph(graph);
        Map<String, NdArray> w = ModelFiles.weights(weights);
        Map<String, Path> files = ModelFiles.inputFiles(g, ModelFiles.inputs(g, w), inputs);
        Map<String, Integer> sizes = Inputs.parseDims(spec.commandLine(), dims);
        for (String s : Inputs.symbols(g)) if (!sizes.containsKey(s) && files.isEmpty()) sizes.put(s, 1);
        Inputs in = Inputs.bind(g, new Inputs.Sources(files, weights, null), sizes, true, seed);
        PrintWriter out = spec.commandLine().getOut();

        String sizesText = in.symbols().isEmpty() ? "" : " " + String.join(", ", in.symbols().entrySet().stream()
                .map(e -> e.getKey() + "=" + e.getValue()).toList()) + ",";
        if (backend.equals("cuda")) out.printf(Locale.ROOT, "bench @%s on cuda:%s %s%n", g.name(), sizesText, CudaBackend.deviceName());
        else out.printf(Locale.ROOT, "bench @%s on %s:%s %d threads%s%n", g.name(), backend, sizesText, Pool.shared().size(),
                !backend.equals("jvm") ? "" : Gemm.kernelName().equals("vector") ? ", vector matrix kernel"
                        : ", scalar matrix kernel (KILN_JAVA_OPTS='--add-modules jdk.incubator.vector' for the vector one)");

        GraphDump dump = backend.equals("jvm") ? ModelFiles.dump(g, dumpDir) : null;
        Executable exe;
        long t0 = System.nanoTime();
        try {
            if (!backend.equals("interp")) {
                Graph opt = ModelFiles.optimize(g, dump);
                long t1 = System.nanoTime();
                exe = Backends.compile(backend, opt, dump);
                long t2 = System.nanoTime();
                out.printf(Locale.ROOT, "compile     %9.1f ms  (passes %.1f ms, code generation %.1f ms)%n", (t2 - t0) / 1e6,
                        (t1 - t0) / 1e6, (t2 - t1) / 1e6);
            } else {
                Graph fixed = g;
                exe = args -> Interpreter.run(fixed, args);
            }
        } catch (IrError e) {
            throw new CliException(e.getMessage());
        }
        List<NdArray> args = in.arrays();
        long f0 = System.nanoTime();
        exe.run(args);
        out.printf(Locale.ROOT, "first run   %9.3f ms%n", (System.nanoTime() - f0) / 1e6);
        for (int i = 0; i < warmup; i++) exe.run(args);
        long[] times = new long[iters];
        for (int i = 0; i < iters; i++) {
            long s = System.nanoTime();
            exe.run(args);
            times[i] = System.nanoTime() - s;
        }
        Arrays.sort(times);
        double median = percentile(times, 0.5) / 1e6;
        out.printf(Locale.ROOT, "latency     %9.3f ms median, %.3f min, %.3f p90  (%d runs after %d warm-up)%n", median, times[0] / 1e6,
                percentile(times, 0.9) / 1e6, iters, warmup);
        double runsPerSec = 1e3 / median;
        String batch = in.symbols().isEmpty() ? null : in.symbols().keySet().iterator().next();
        if (batch != null && in.symbols().get(batch) > 0)
            out.printf(Locale.ROOT, "throughput  %,9.0f items/s  (%,.1f runs/s of %s=%d)%n", runsPerSec * in.symbols().get(batch), runsPerSec,
                    batch, in.symbols().get(batch));
        else out.printf(Locale.ROOT, "throughput  %,9.1f runs/s%n", runsPerSec);

        if (profile) { // the same compiled code again, with a timer around each kernel
            PlanExecutable jvm = (PlanExecutable) exe;
            jvm.enableProfile();
            for (int i = 0; i < iters; i++) jvm.run(args);
            out.println();
            out.println("profile: " + iters + " runs, wall time per kernel (a call includes its epilogue); GB/s counts each buffer a "
                    + "kernel touches once");
            out.print(jvm.profile().table());
        }
        out.flush();
        return 0;
    }

    private static double percentile(long[] sorted, double q) {
        int i = (int) Math.ceil(q * sorted.length) - 1;
        return sorted[Math.max(0, Math.min(sorted.length - 1, i))];
    }
}
