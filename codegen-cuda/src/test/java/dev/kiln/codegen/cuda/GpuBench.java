package dev.kiln.codegen.cuda;

import dev.kiln.ir.Axes;
import dev.kiln.ir.Builder;
import dev.kiln.ir.Graph;
import dev.kiln.ir.Value;
import dev.kiln.runtime.NdArray;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

import static dev.kiln.ir.TensorType.f32;

/// GPU benchmarks, run by scripts/gpu-check.sh on the lent machine (a plain main: that machine
/// has a JRE and no Maven). For each workload: the median wall time of a whole `run` call
/// (inputs copied in from Java arrays, the captured CUDA graph, results copied out) and the
/// mean time of back-to-back graph replays without host copies (the device-side step).
/// Prints one table, with PERF.md's targets beside the MNISTNet rows.
public final class GpuBench {
    private GpuBench() {}

    record Row(String name, double callMicros, double replayMicros, String note) {}

    public static void main(String[] args) {
        String why = CudaBackend.unavailableReason();
        if (why != null) {
            System.out.println("gpu-bench: no GPU: " + why);
            System.exit(2);
        }
        List<Row> rows = new ArrayList<>();
        // MNISTNet (PERF.md), built with the IR builder; the frontend's own step, traced by
        // Kiln.compileTrainStep, is timed by GpuTrainBench and trained by `kiln demo --device cuda`.
        Graph inference = Graphs.fuse(Models.inference()), step = Graphs.fuse(Models.trainStep());
        rows.add(measure("MNISTNet inference b1", inference, Map.of("B", 1), 300, "target <= 25 us (PyTorch 198 eager, 101 compiled)"));
        rows.add(measure("MNISTNet train step b64", step, Map.of("B", 64), 200, "target <= 150 us (PyTorch 2620 eager, 1560 graphs)"));
        rows.add(measure("  same, unfused", Models.trainStep(), Map.of("B", 64), 100, "kernels: " + CudaBackend.ptx(Models.trainStep()).launches().size()
                + " unfused, " + CudaBackend.ptx(step).launches().size() + " fused"));
        // convolutions: implicit GEMMs (the default) against the loop nests, and fp32 against tensor cores
        PtxGen.Options loops = PtxGen.Options.DEFAULT.withConvLoops(), tf32 = PtxGen.Options.DEFAULT.withPrecision(PtxGen.Precision.TF32),
                bf16 = PtxGen.Options.DEFAULT.withPrecision(PtxGen.Precision.BF16);
        rows.add(measure("  same, conv loops", step, Map.of("B", 64), 50, "-Dkiln.cuda.conv=loops", loops));
        rows.add(measure("  same, tf32", step, Map.of("B", 64), 50, "-Dkiln.cuda.precision=tf32", tf32));
        rows.add(measure("  same, bf16", step, Map.of("B", 64), 50, "-Dkiln.cuda.precision=bf16", bf16));
        for (var v : List.of(Map.entry("", PtxGen.Options.DEFAULT), Map.entry(", conv loops", loops), Map.entry(", tf32", tf32),
                Map.entry(", bf16", bf16))) {
            Row big = measure("MNISTNet train step b4096" + v.getKey(), step, Map.of("B", 4096), 10, "", v.getValue());
            double tflops = 4096 * 23.6e6 / (big.replayMicros() * 1e-6) / 1e12;
            rows.add(new Row(big.name(), big.callMicros(), big.replayMicros(),
                    String.format("target <= 4667 us; %.2f TFLOP/s (fp32 peak 51, tf32 353)", tflops)));
        }
        for (int n : new int[]{1024, 4096})
            for (var v : List.of(Map.entry("", PtxGen.Options.DEFAULT), Map.entry(" tf32", tf32), Map.entry(" bf16", bf16))) {
                Builder b = new Builder();
                Value x = b.param("a", f32(n, n)), w = b.param("b", f32(n, n));
                Row r = measure("sgemm " + n + "^3" + v.getKey(), b.build("sgemm", b.matmul(x, w)), Map.of(), n > 2048 ? 5 : 20, "", v.getValue());
                double tf = 2.0 * n * n * n / (r.replayMicros() * 1e-6) / 1e12;
                rows.add(new Row(r.name(), r.callMicros(), r.replayMicros(), String.format("%.2f TFLOP/s (card's peak: %s)", tf,
                        switch (v.getValue().precision()) { case FP32 -> "fp32 51"; case TF32 -> "tf32 353"; case BF16 -> "bf16 707"; })));
            }
        // MNISTNet's second convolution alone at batch 4096, each form: implicit GEMM, loops, tf32
        for (var v : List.of(Map.entry("", PtxGen.Options.DEFAULT), Map.entry(", loops", loops), Map.entry(", tf32", tf32),
                Map.entry(", bf16", bf16))) {
            Builder b = new Builder();
            Value x = b.param("x", f32("B", 32, 14, 14)), w = b.param("w", f32(64, 32, 3, 3)), g = b.param("g", f32("B", 64, 14, 14));
            Graph conv = b.build("conv2", b.conv2d(x, w, Models.ONE, Models.ONE, Models.ONE, 1),
                    b.conv2dGradInput(g, w, Models.ONE, Models.ONE, Models.ONE, 1, x.type()),
                    b.conv2dGradWeight(x, g, Models.ONE, Models.ONE, Models.ONE, 1, w.type()));
            Row r = measure("conv2 fwd+bwd b4096" + v.getKey(), conv, Map.of("B", 4096), 10, "", v.getValue());
            double tf = 3 * 2.0 * 4096 * 64 * 196 * 288 / (r.replayMicros() * 1e-6) / 1e12;
            rows.add(new Row(r.name(), r.callMicros(), r.replayMicros(), String.format("%.2f TFLOP/s", tf)));
        }
        for (int batch : new int[]{64, 4096}) {
            Builder b = new Builder();
            Value x = b.param("x", f32("B", 10));
            Value m = b.broadcast(b.reduceMax(x, Axes.of(1)), Axes.of(0), f32("B", 10));
            Value e = b.exp(b.sub(x, m));
            Value sm = b.div(e, b.broadcast(b.reduceSum(e, Axes.of(1)), Axes.of(0), f32("B", 10)));
            rows.add(measure("softmax b" + batch + " (unfused)", b.build("softmax", sm), Map.of("B", batch), 300, ""));
        }
        for (int batch : new int[]{64, 4096}) rows.add(resident("MNISTNet train step b" + batch + " resident", step, batch,
                batch == 64 ? "weights + Adam state stay on the GPU (as in PyTorch); target <= 150 us" : "target <= 4667 us"));
        profile("MNISTNet train step b64", step, Map.of("B", 64));
        profile("MNISTNet train step b4096", step, Map.of("B", 4096));
        System.out.println();
        System.out.println("device: " + CudaBackend.deviceName());
        System.out.printf("%-30s %14s %14s  %s%n", "workload", "call (us)", "replay (us)", "note");
        for (Row r : rows) System.out.printf("%-30s %14.1f %14.1f  %s%n", r.name(), r.callMicros(), r.replayMicros(), r.note());
    }

    /// A train step with the weights and Adam moments resident on the GPU: a call sends a batch
    /// (images, one-hot targets) and gets the loss back.
    static Row resident(String name, Graph g, int batch, String note) {
        int np = Models.PARAMS.length;
        int[] stateParams = new int[3 * np], stateResults = new int[3 * np];
        for (int i = 0; i < 3 * np; i++) { stateParams[i] = 2 + i; stateResults[i] = 1 + i; }
        try (CudaExecutable exe = CudaBackend.compile(g)) {
            List<NdArray> all = GpuParityTest.randomInputs(g, Map.of("B", batch), 12);
            try (CudaExecutable.Resident loop = exe.resident(all, stateParams, stateResults)) {
                List<NdArray> b = all.subList(0, 2);
                for (int i = 0; i < 5; i++) loop.step(b);
                int iterations = batch > 1000 ? 20 : 300;
                double[] t = new double[iterations];
                for (int i = 0; i < iterations; i++) {
                    long t0 = System.nanoTime();
                    loop.step(b);
                    t[i] = (System.nanoTime() - t0) / 1e3;
                }
                Arrays.sort(t);
                double replay = loop.replayMicros(iterations);
                System.out.printf("measured %-30s call %10.1f us  replay %10.1f us%n", name, t[t.length / 2], replay);
                return new Row(name, t[t.length / 2], replay, note);
            }
        }
    }

    /// The ten slowest kernels of one step, launched one by one with events around each.
    static void profile(String name, Graph g, Map<String, Integer> bind) {
        try (CudaExecutable exe = CudaBackend.compile(g)) {
            List<NdArray> in = GpuParityTest.randomInputs(g, bind, 11);
            exe.run(in);
            exe.profileMicros(in);
            double[] t = exe.profileMicros(in);
            List<Launch> launches = exe.ptx().launches();
            Integer[] order = new Integer[t.length];
            for (int i = 0; i < t.length; i++) order[i] = i;
            Arrays.sort(order, (a, b) -> Double.compare(t[b], t[a]));
            double total = Arrays.stream(t).sum();
            System.out.printf("profile %s: %d launches, %.1f us of kernels (launched one by one)%n", name, t.length, total);
            for (int k = 0; k < Math.min(10, t.length); k++) {
                Launch l = launches.get(order[k]);
                System.out.printf("  %9.1f us  %-40s %s%n", t[order[k]], l.entry(), l.mode());
            }
        }
    }

    static Row measure(String name, Graph g, Map<String, Integer> bind, int iterations, String note) {
        return measure(name, g, bind, iterations, note, PtxGen.Options.DEFAULT);
    }

    static Row measure(String name, Graph g, Map<String, Integer> bind, int iterations, String note, PtxGen.Options options) {
        try (CudaExecutable exe = CudaBackend.compile(g, options, null)) {
            List<NdArray> in = GpuParityTest.randomInputs(g, bind, 11);
            for (int i = 0; i < 5; i++) exe.run(in); // capture, JIT, caches
            double[] t = new double[iterations];
            for (int i = 0; i < iterations; i++) {
                long t0 = System.nanoTime();
                exe.run(in);
                t[i] = (System.nanoTime() - t0) / 1e3;
            }
            Arrays.sort(t);
            double replay = exe.replayMicros(in, iterations);
            System.out.printf("measured %-30s call %10.1f us  replay %10.1f us%n", name, t[t.length / 2], replay);
            return new Row(name, t[t.length / 2], replay, note);
        }
    }
}
