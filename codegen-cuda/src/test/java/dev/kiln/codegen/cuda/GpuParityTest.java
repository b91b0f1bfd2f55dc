package dev.kiln.codegen.cuda;

import dev.kiln.ir.Graph;
import dev.kiln.ir.Value;
import dev.kiln.ir.interp.Interpreter;
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
/// with graphs off. Tolerances per dtype:
/// - bool, i32, i64: exact;
/// - f64: 1e-12 * max(1, max|want|);
/// - f32: 2e-5 * max(1, max|want|) (elementwise math rounds like the interpreter up to one
///   f32 ulp, see `PtxMath`; matmul and convolutions accumulate in f32 in another order);
/// - f16, bf16: one unit in the last place of max|want|.
/// NaN matches NaN. Skipped, with the reason, where there is no GPU.
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

    /// Three train steps with weights and Adam moments resident on the GPU agree with three
    /// interpreter steps that feed the new state back by hand: losses, then the final state.
    @Test void residentTrainStepMatchesTheInterpreterStepByStep() {
        assumeGpu();
        Graph g = Graphs.fuse(Models.trainStep());
        int np = Models.PARAMS.length, batch = 4;
        List<NdArray> all = new ArrayList<>(randomInputs(g, Map.of("B", batch), 9));
        for (int i = 0; i < np; i++) { // small weights, zero moments, as at the start of training
            NdArray p = all.get(2 + i);
            for (int e = 0; e < p.size(); e++) p.setDouble(e, p.getDouble(e) * 0.05);
            all.set(2 + np + i, NdArray.zeros(p.dtype(), p.shape()));
            all.set(2 + 2 * np + i, NdArray.zeros(p.dtype(), p.shape()));
        }
        int[] stateParams = new int[3 * np], stateResults = new int[3 * np];
        for (int i = 0; i < 3 * np; i++) { stateParams[i] = 2 + i; stateResults[i] = 1 + i; }
        try (CudaExecutable exe = CudaBackend.compile(g); CudaExecutable.Resident loop = exe.resident(all, stateParams, stateResults)) {
            List<NdArray> ref = new ArrayList<>(all);
            for (int step = 0; step < 3; step++) {
                List<NdArray> batchIn = randomInputs(g, Map.of("B", batch), 100 + step).subList(0, 2);
                ref.set(0, batchIn.get(0));
                ref.set(1, batchIn.get(1));
                List<NdArray> want = Interpreter.run(g, ref);
                List<NdArray> got = loop.step(batchIn);
                assertEquals(1, got.size());
                compare("resident step " + step + " loss", want.getFirst(), got.getFirst());
                for (int i = 0; i < 3 * np; i++) ref.set(2 + i, want.get(1 + i));
            }
            List<NdArray> state = loop.state();
            for (int i = 0; i < 3 * np; i++) compare("state " + i, ref.get(2 + i), state.get(i));
        }
    }

    static void check(Graph g, List<Map<String, Integer>> bindings) {
        try (CudaExecutable exe = CudaBackend.compile(g)) {
            long seed = 1;
            for (Map<String, Integer> b : bindings)
                for (int rep = 0; rep < 2; rep++) {
                    List<NdArray> in = randomInputs(g, b, seed++);
                    compare(g.name() + " " + b + " call " + rep, Interpreter.run(g, in), exe.run(in));
                }
        }
    }

    static List<NdArray> randomInputs(Graph g, Map<String, Integer> bind, long seed) {
        Random r = new Random(seed);
        List<NdArray> out = new ArrayList<>();
        for (Value p : g.params()) out.add(random(p.type().dtype(), p.type().shape().resolve(bind), r));
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

    static void compare(String what, List<NdArray> want, List<NdArray> got) {
        assertEquals(want.size(), got.size(), what + ": result count");
        for (int r = 0; r < want.size(); r++) compare(what + " result #" + r, want.get(r), got.get(r));
    }

    static void compare(String what, NdArray want, NdArray got) {
        assertEquals(want.dtype(), got.dtype(), what + ": dtype");
        assertArrayEquals(want.shape(), got.shape(), what + ": shape");
        DType d = want.dtype();
        double scale = 1;
        for (int i = 0; i < want.size(); i++) if (Double.isFinite(want.getDouble(i))) scale = Math.max(scale, Math.abs(want.getDouble(i)));
        double tol = switch (d) {
            case BOOL, I32, I64 -> 0;
            case F64 -> 1e-12 * scale;
            case F32 -> 2e-5 * scale;
            case F16 -> 0x1p-10 * scale;
            case BF16 -> 0x1p-7 * scale;
        };
        for (int i = 0; i < want.size(); i++) {
            if (!d.isFloat()) {
                assertEquals(want.getLong(i), got.getLong(i), what + ": element " + i);
                continue;
            }
            double w = want.getDouble(i), x = got.getDouble(i);
            if (Double.isNaN(w) || Double.isNaN(x)) {
                assertTrue(Double.isNaN(w) && Double.isNaN(x), what + ": element " + i + " want " + w + " got " + x);
                continue;
            }
            if (Double.isInfinite(w) || Double.isInfinite(x)) {
                assertEquals(w, x, what + ": element " + i);
                continue;
            }
            assertEquals(w, x, tol, what + ": element " + i);
        }
    }
}
