package dev.kiln.codegen.cuda;

import dev.kiln.ir.Graph;
import dev.kiln.ir.Value;
import dev.kiln.ir.interp.Interpreter;
import dev.kiln.ir.interp.Tolerance;
import dev.kiln.runtime.DType;
import dev.kiln.runtime.NdArray;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.*;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/// Every graph of `Graphs` run on the GPU against the interpreter, twice per binding with
/// different inputs (the second call replays the captured CUDA graph on new data), once more
/// with graphs off, within `Tolerance`'s bound (elementwise math rounds like the interpreter up
/// to one f32 ulp, see `PtxMath`; matmul and convolutions accumulate in f32 in another order).
/// Convolutions run as implicit GEMMs (the default), a few again as loop nests;
/// matmuls and convolutions once more on tf32 and bf16 tensor cores, against an error bound. Skipped,
/// with the reason, where there is no GPU.
@Tag("gpu")
class GpuParityTest {
    private static boolean told;

    static void assumeGpu() {
        if (!CudaBackend.available() && !told) {
            told = true;
            System.out.println("[gpu tests skipped] " + CudaBackend.unavailableReason());
        }
        assumeTrue(CudaBackend.available(), () -> "GPU tests skipped: " + CudaBackend.unavailableReason());
    }

    @TestFactory List<DynamicTest> everyGraphMatchesTheInterpreter() {
        assumeGpu();
        List<DynamicTest> tests = new ArrayList<>();
        for (Graphs.Case c : Graphs.all()) tests.add(DynamicTest.dynamicTest(c.name(), () -> check(c.graph(), c.bindings())));
        return tests;
    }

    @Test void withoutCudaGraphsToo() {
        assumeGpu();
        String old = System.getProperty("kiln.cuda.graphs");
        System.setProperty("kiln.cuda.graphs", "false");
        try {
            for (Graphs.Case c : Graphs.all()) if (c.name().startsWith("softmax") || c.name().startsWith("conv_block")) check(c.graph(), c.bindings());
        } finally {
            if (old == null) System.clearProperty("kiln.cuda.graphs"); else System.setProperty("kiln.cuda.graphs", old);
        }
    }

    /// The implicit GEMMs run by default; this runs a few graphs with convolutions through the
    /// older loop nests (`-Dkiln.cuda.conv=loops`): strided and grouped, dilated, a fused CNN,
    /// the fused train step (`PtxSimTest` runs them all on the CPU; GPU time is short).
    @TestFactory List<DynamicTest> convolutionLoopNestsToo() {
        assumeGpu();
        List<DynamicTest> tests = new ArrayList<>();
        for (Graphs.Case c : Graphs.all())
            if (c.name().matches("conv[12]_F32|fused_cnn|mnist_train_step_fused")) tests.add(DynamicTest.dynamicTest(c.name() + " (conv loops)",
                    () -> check(c.graph(), c.bindings(), PtxGen.Options.DEFAULT.withConvLoops())));
        return tests;
    }

    /// The tensor-core paths (tf32, bf16) on every f32 matmul and convolution graph. Each output
    /// of these graphs is a sum of products `a*b`; with inputs rounded to relative error `e`
    /// (2^-11 for tf32, 2^-8 for bf16) and f32 sums, its error is about `2e * sum |a*b|`, which
    /// is the same graph run on `|inputs|`. The bound checked is `8e` times that (one matmul
    /// feeds another in `matmul_F32`), plus 1e-5: far below what a misplaced fragment element
    /// would give.
    @TestFactory List<DynamicTest> tensorCoresWithinTheirErrorBound() {
        assumeGpu();
        List<DynamicTest> tests = new ArrayList<>();
        for (Graphs.Case c : Graphs.all())
            if (c.name().matches("matmul_(F32|big)|conv1_F32|conv_tiles\\d+"))
                for (PtxGen.Precision p : List.of(PtxGen.Precision.TF32, PtxGen.Precision.BF16))
                    tests.add(DynamicTest.dynamicTest(c.name() + " (" + p.label() + ")", () -> checkTensorCores(c.graph(), c.bindings(), p)));
        return tests;
    }

    static void checkTensorCores(Graph g, List<Map<String, Integer>> bindings, PtxGen.Precision precision) {
        try (CudaExecutable exe = CudaBackend.compile(g, PtxGen.Options.DEFAULT.withPrecision(precision), null)) {
            assertTrue(exe.ptx().ptx().contains("mma.sync.aligned.m16n8k8"), g.name() + ": no tensor-core instruction");
            long seed = 1;
            for (Map<String, Integer> b : bindings) {
                List<NdArray> in = randomInputs(g, b, seed++);
                List<NdArray> abs = new ArrayList<>();
                for (NdArray a : in) {
                    NdArray m = NdArray.zeros(a.dtype(), a.shape());
                    for (int i = 0; i < a.size(); i++) m.setDouble(i, Math.abs(a.getDouble(i)));
                    abs.add(m);
                }
                List<NdArray> want = Interpreter.run(g, in), bound = Interpreter.run(g, abs), got = exe.run(in);
                for (int r = 0; r < want.size(); r++)
                    for (int i = 0; i < want.get(r).size(); i++) {
                        double tol = 8 * precision.inputError * bound.get(r).getDouble(i) + 1e-5;
                        assertEquals(want.get(r).getDouble(i), got.get(r).getDouble(i), tol,
                                g.name() + " " + b + " " + precision.label() + " result #" + r + ": element " + i);
                    }
            }
        }
    }

    /// Least squares by gradient descent with the weights and a momentum buffer resident on
    /// the GPU: three steps agree with three interpreter steps that feed the new state back by
    /// hand (losses, then the final state). Plain SGD with momentum keeps the state a smooth
    /// function of the inputs, so the comparison is well conditioned.
    @Test void residentStateMatchesTheInterpreterStepByStep() {
        assumeGpu();
        dev.kiln.ir.Builder b = new dev.kiln.ir.Builder();
        Value x = b.param("x", dev.kiln.ir.TensorType.f32("B", 16)), y = b.param("y", dev.kiln.ir.TensorType.f32("B", 3));
        Value w = b.param("w", dev.kiln.ir.TensorType.f32(16, 3)), mom = b.param("m", dev.kiln.ir.TensorType.f32(16, 3));
        Value d = b.sub(b.matmul(x, w), y);
        Value loss = b.reduceSum(b.mul(d, d), dev.kiln.ir.Axes.of(0, 1));
        Value g = b.matmul(b.transpose(x, dev.kiln.ir.Axes.of(1, 0)), d);
        Value m2 = b.add(b.mul(mom, b.constant(0.5, mom.type())), g);
        Value w2 = b.sub(w, b.mul(m2, b.constant(0.01, w.type())));
        Graph graph = b.build("sgd", loss, w2, m2);
        List<NdArray> all = randomInputs(graph, Map.of("B", 40), 9);
        try (CudaExecutable exe = CudaBackend.compile(graph); CudaExecutable.Resident loop = exe.resident(all, new int[]{2, 3}, new int[]{1, 2})) {
            List<NdArray> ref = new ArrayList<>(all);
            for (int step = 0; step < 3; step++) {
                List<NdArray> batch = randomInputs(graph, Map.of("B", 40), 100 + step).subList(0, 2);
                ref.set(0, batch.get(0));
                ref.set(1, batch.get(1));
                List<NdArray> want = Interpreter.run(graph, ref);
                List<NdArray> got = loop.step(batch);
                assertEquals(1, got.size());
                compare("resident step " + step + " loss", want.getFirst(), got.getFirst());
                ref.set(2, want.get(1));
                ref.set(3, want.get(2));
            }
            List<NdArray> state = loop.state();
            compare("final w", ref.get(2), state.get(0));
            compare("final momentum", ref.get(3), state.get(1));
        }
    }

    static void check(Graph g, List<Map<String, Integer>> bindings) { check(g, bindings, PtxGen.Options.DEFAULT); }

    static void check(Graph g, List<Map<String, Integer>> bindings, PtxGen.Options options) {
        try (CudaExecutable exe = CudaBackend.compile(g, options, null)) {
            long seed = 1;
            for (Map<String, Integer> b : bindings)
                for (int rep = 0; rep < 2; rep++) {
                    List<NdArray> in = randomInputs(g, b, seed++);
                    compare(g.name() + " " + b + " call " + rep, Interpreter.run(g, in), exe.run(in));
                }
        }
    }

    /// Uniform inputs in [-2, 2), except Adam's second moments (`v.*` in `Models`), which are
    /// non-negative as in training: a negative one puts `sqrt(v)` near 0 and the update
    /// `m / (sqrt(v) + eps)` then amplifies f32 rounding differences past any tolerance.
    static List<NdArray> randomInputs(Graph g, Map<String, Integer> bind, long seed) {
        Random r = new Random(seed);
        List<NdArray> out = new ArrayList<>();
        for (Value p : g.params()) {
            NdArray a = random(p.type().dtype(), p.type().shape().resolve(bind), r);
            if (((dev.kiln.ir.Op.Param) p.op()).name().startsWith("v.") && p.type().dtype().isFloat())
                for (int i = 0; i < a.size(); i++) a.setDouble(i, Math.abs(a.getDouble(i)));
            out.add(a);
        }
        return out;
    }

    static NdArray random(DType d, int[] shape, Random r) {
        NdArray a = NdArray.zeros(d, shape);
        for (int i = 0; i < a.size(); i++) {
            switch (d) {
                case BOOL -> a.setBool(i, r.nextBoolean());
                case I32, I64 -> a.setLong(i, r.nextInt(41) - 20);
                default -> a.setDouble(i, r.nextDouble() * 4 - 2);
            }
        }
        return a;
    }

    /// Fails with the first place where `got` leaves `Tolerance`'s bound around `want`.
    static void compare(String what, List<NdArray> want, List<NdArray> got) {
        String m = Tolerance.mismatch(want, got);
        if (m != null) fail(what + ": " + m);
    }

    static void compare(String what, NdArray want, NdArray got) {
        String m = Tolerance.mismatch(want, got);
        if (m != null) fail(what + ": " + m);
    }
}
