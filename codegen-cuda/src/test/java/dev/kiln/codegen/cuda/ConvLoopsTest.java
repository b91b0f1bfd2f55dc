package dev.kiln.codegen.cuda;

import dev.kiln.ir.Builder;
import dev.kiln.ir.Graph;
import dev.kiln.ir.Ints;
import dev.kiln.ir.TensorType;
import dev.kiln.ir.Value;
import dev.kiln.ir.interp.Interpreter;
import dev.kiln.passes.lower.Kir.Call;
import dev.kiln.passes.lower.Kir.Conv;
import dev.kiln.passes.lower.Kir.Kernel;
import dev.kiln.passes.lower.Kir.Stmt;
import dev.kiln.passes.lower.KernelProgram;
import dev.kiln.passes.lower.Lower;
import dev.kiln.runtime.DType;
import dev.kiln.runtime.NdArray;
import org.junit.jupiter.api.Test;

import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.*;

/// The convolution loop nests of `ConvLoops`, evaluated on the CPU, against the reference
/// interpreter: strides, padding, dilation and groups, for all three forms. (On the GPU the
/// same nests run through `PtxGen`; `GpuParityTest` checks that end to end.)
class ConvLoopsTest {
    record Geometry(int n, int c, int h, int w, int o, int k, int stride, int pad, int dil, int groups) {}

    @Test void everyFormMatchesTheInterpreter() {
        for (Geometry q : List.of(new Geometry(2, 3, 7, 6, 4, 3, 1, 1, 1, 1), new Geometry(3, 4, 9, 9, 6, 3, 2, 0, 1, 2),
                new Geometry(1, 2, 8, 7, 3, 2, 1, 2, 2, 1), new Geometry(2, 4, 5, 5, 4, 1, 1, 0, 1, 1),
                new Geometry(2, 4, 6, 6, 8, 3, 2, 1, 1, 4), new Geometry(1, 1, 9, 8, 2, 3, 3, 2, 2, 1)))
            check(q);
    }

    static void check(Geometry q) {
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
                    new KirEval(buffers, sym).run(ConvLoops.of(cv, DType.F64));
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
