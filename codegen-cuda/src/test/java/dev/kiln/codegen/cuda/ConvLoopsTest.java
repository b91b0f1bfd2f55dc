package dev.kiln.codegen.cuda;

import dev.kiln.ir.Builder;
import dev.kiln.ir.Graph;
import dev.kiln.ir.Ints;
import dev.kiln.ir.TensorType;
import dev.kiln.ir.Value;
import dev.kiln.ir.interp.Interpreter;
import dev.kiln.ir.kernel.Kir.Call;
import dev.kiln.ir.kernel.Kir.Conv;
import dev.kiln.ir.kernel.Kir.Kernel;
import dev.kiln.ir.kernel.Kir.Stmt;
import dev.kiln.ir.kernel.KernelProgram;
import dev.kiln.passes.lower.Lower;
import dev.kiln.runtime.DType;
import dev.kiln.runtime.NdArray;
import org.junit.jupiter.api.Test;

import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.*;

/// The convolution loop nests of `ConvLoops` and the implicit GEMMs of `ConvGemm` (as their
/// reference loop nests: the same im2col addressing, padding and bounds the tiled kernel
/// emits), evaluated on the CPU, against the reference interpreter: strides, padding,
/// dilation, groups, rectangular images and a batch of 0, for all three forms. (On the GPU
/// the same expressions run through `PtxGen`; `GpuParityTest` checks that end to end.)
class ConvLoopsTest {
    record Geometry(int n, int c, int h, int w, int o, int k, int stride, int pad, int dil, int groups) {}

    static final List<Geometry> GEOMETRIES = List.of(new Geometry(2, 3, 7, 6, 4, 3, 1, 1, 1, 1), new Geometry(3, 4, 9, 9, 6, 3, 2, 0, 1, 2),
            new Geometry(1, 2, 8, 7, 3, 2, 1, 2, 2, 1), new Geometry(2, 4, 5, 5, 4, 1, 1, 0, 1, 1),
            new Geometry(2, 4, 6, 6, 8, 3, 2, 1, 1, 4), new Geometry(1, 1, 9, 8, 2, 3, 3, 2, 2, 1),
            new Geometry(3, 5, 4, 11, 7, 3, 2, 2, 1, 1), new Geometry(0, 2, 5, 5, 3, 3, 1, 1, 1, 1));

    @Test void everyFormMatchesTheInterpreter() {
        for (Geometry q : GEOMETRIES) check(q, cv -> ConvLoops.of(cv, DType.F64));
    }

    @Test void implicitGemmAddressingMatchesTheInterpreter() {
        for (Geometry q : GEOMETRIES) check(q, cv -> ConvGemm.of(cv, DType.F64).reference());
    }

    /// The GEMM sizes of each form, as `ConvGemm` documents them (MNISTNet's second layer).
    @Test void implicitGemmSizes() {
        Builder b = new Builder();
        Value x = b.param("x", TensorType.f32("N", 32, 14, 14)), w = b.param("w", TensorType.f32(64, 32, 3, 3));
        Value y = b.conv2d(x, w, Ints.of(1, 1), Ints.of(1, 1), Ints.of(1, 1), 1);
        Graph graph = b.build("conv", y, b.conv2dGradInput(y, w, Ints.of(1, 1), Ints.of(1, 1), Ints.of(1, 1), 1, x.type()),
                b.conv2dGradWeight(x, y, Ints.of(1, 1), Ints.of(1, 1), Ints.of(1, 1), 1, w.type()));
        List<String> sizes = new java.util.ArrayList<>();
        for (Kernel k : Lower.lower(graph).kernels())
            for (Stmt st : k.body())
                if (st instanceof Call(Conv cv, var _)) {
                    ConvGemm g = ConvGemm.of(cv, DType.F32);
                    Map<String, Integer> n = Map.of("N", 5);
                    sizes.add(cv.form() + " " + eval(g.m(), n) + "x" + eval(g.n(), n) + "x" + eval(g.k(), n) + (g.splitK() ? " split" : ""));
                }
        assertEquals(List.of("FORWARD 64x980x288", "GRAD_INPUT 32x980x576", "GRAD_WEIGHT 64x288x980 split"), sizes);
    }

    static long eval(dev.kiln.ir.kernel.Kir.Expr e, Map<String, Integer> sym) {
        return (Long) new KirEval(Map.of(), sym).eval(e);
    }

    static void check(Geometry q, java.util.function.Function<Conv, dev.kiln.ir.kernel.Kir.Loop> nest) {
        Builder b = new Builder();
        Ints s = Ints.of(q.stride(), q.stride()), p = Ints.of(q.pad(), q.pad()), dl = Ints.of(q.dil(), q.dil());
        Value x = b.param("x", TensorType.of(DType.F64, "N", q.c(), q.h(), q.w()));
        Value w = b.param("w", TensorType.of(DType.F64, q.o(), q.c() / q.groups(), q.k(), q.k()));
        Value y = b.conv2d(x, w, s, p, dl, q.groups());
        Value g = b.param("g", y.type());
        Value gi = b.conv2dGradInput(g, w, s, p, dl, q.groups(), x.type());
        Value gw = b.conv2dGradWeight(x, g, s, p, dl, q.groups(), w.type());
        Graph graph = b.build("conv", y, gi, gw);
        Map<String, Integer> sym = Map.of("N", q.n());
        Random r = new Random(7);
        List<NdArray> in = graph.params().stream().map(v -> {
            NdArray a = NdArray.zeros(DType.F64, v.type().shape().resolve(sym));
            for (int i = 0; i < a.size(); i++) a.setDouble(i, r.nextDouble() * 2 - 1);
            return a;
        }).toList();
        List<NdArray> want = Interpreter.run(graph, in);
        KernelProgram kp = Lower.lower(graph);
        Map<Integer, NdArray> buffers = new HashMap<>();
        for (int i = 0; i < in.size(); i++) buffers.put(kp.params().get(i), in.get(i));
        for (int i = 0; i < kp.results().size(); i++) buffers.put(kp.results().get(i), NdArray.zeros(DType.F64, want.get(i).shape()));
        int convs = 0;
        for (Kernel k : kp.kernels())
            for (Stmt st : k.body())
                if (st instanceof Call(Conv cv, var epilogue)) {
                    assertNull(epilogue);
                    new KirEval(buffers, sym).run(nest.apply(cv));
                    convs++;
                }
        assertEquals(3, convs);
        for (int i = 0; i < want.size(); i++) {
            NdArray got = buffers.get(kp.results().get(i)), exp = want.get(i);
            for (int e = 0; e < exp.size(); e++)
                assertEquals(exp.getDouble(e), got.getDouble(e), 1e-12, q + " result " + i + " element " + e);
        }
    }
}
