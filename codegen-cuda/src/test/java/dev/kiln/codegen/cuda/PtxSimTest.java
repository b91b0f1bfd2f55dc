package dev.kiln.codegen.cuda;

import dev.kiln.codegen.cuda.PtxGen.Precision;
import dev.kiln.ir.Axes;
import dev.kiln.ir.Builder;
import dev.kiln.ir.Graph;
import dev.kiln.ir.Ints;
import dev.kiln.ir.Value;
import dev.kiln.ir.interp.Interpreter;
import dev.kiln.passes.lower.Lower;
import dev.kiln.runtime.NdArray;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static dev.kiln.ir.TensorType.f32;
import static org.junit.jupiter.api.Assertions.*;

/// The tiled GEMM kernels (matmul in each transpose combination, the three implicit-GEMM
/// convolution forms, split K, a folded epilogue), fp32, tf32 and bf16, and the 4-wide elementwise
/// kernels, run on the CPU by `PtxSim` against the interpreter: shapes past one tile with ragged edges, symbolic batch sizes, stride, padding,
/// dilation and groups. fp32 within 2e-5 of the largest value; tf32 and bf16 within 4 times the
/// rounding error of one input (2^-11, 2^-8) of `sum |a*b|`
/// (the same graph on `|inputs|`), where one misplaced element of a fragment is far outside.
class PtxSimTest {
    record Case(String name, Graph graph, Map<String, Integer> dims) {}

    static List<Case> cases() {
        List<Case> out = new ArrayList<>();
        {
            Builder b = new Builder();
            Value x = b.param("x", f32("B", 45)), w = b.param("w", f32(45, 70)), wt = b.param("wt", f32(70, 45));
            Value xb = b.param("xb", f32(2, 5, 17)), wb = b.param("wb", f32(2, 17, 9));
            out.add(new Case("matmul", b.build("matmul", b.matmul(x, w), b.matmul(x, b.transpose(wt, Axes.of(1, 0))),
                    b.matmul(b.transpose(x, Axes.of(1, 0)), b.matmul(x, w)), b.matmul(xb, wb)), Map.of("B", 67)));
        }
        int i = 0;
        for (Graphs.Conv q : List.of(new Graphs.Conv(2, 4, 9, 7, 70, 3, 1, 1, 1, 1), new Graphs.Conv(2, 6, 9, 8, 4, 3, 2, 1, 1, 2),
                new Graphs.Conv(1, 2, 8, 7, 3, 2, 1, 2, 2, 1), new Graphs.Conv(3, 3, 10, 10, 5, 3, 1, 1, 1, 1)))
            out.add(new Case("conv" + i++ + " " + q, q.graph(dev.kiln.runtime.DType.F32), Map.of("N", q.n())));
        {   // a convolution with a bias + relu epilogue folded into its store
            Builder b = new Builder();
            Value x = b.param("x", f32("N", 3, 9, 9)), w = b.param("w", f32(5, 3, 3, 3)), bias = b.param("b", f32(5));
            Value y = b.conv2d(x, w, Ints.of(1, 1), Ints.of(1, 1), Ints.of(1, 1), 1);
            Value act = b.relu(b.add(y, b.broadcast(bias, Axes.of(1), y.type())));
            out.add(new Case("conv_bias_relu", Graphs.fusedGraph("conv_relu", b.build("conv_relu", act)), Map.of("N", 2)));
        }
        {   // elementwise kernels in groups of 4 with a ragged tail (37*33 % 4 = 1), a broadcast
            // operand read one by one, a max with Java's NaN/-0 rules, an optimizer-style update
            Builder b = new Builder();
            Value x = b.param("x", f32("B", 33)), y = b.param("y", f32("B", 33)), bias = b.param("b", f32(33));
            Value h = b.relu(b.add(b.mul(x, y), b.broadcast(bias, Axes.of(1), x.type())));
            Value upd = b.sub(x, b.div(b.mul(y, b.constant(1e-3, x.type())), b.add(b.sqrt(b.abs(h)), b.constant(1e-8, x.type()))));
            out.add(new Case("elementwise", b.build("elementwise", h, b.max(x, h), upd), Map.of("B", 37)));
        }
        return out;
    }

    @TestFactory List<DynamicTest> tiledGemmsMatchTheInterpreter() {
        List<DynamicTest> tests = new ArrayList<>();
        for (Case c : cases())
            for (Precision precision : Precision.values())
                if (precision == Precision.FP32 || !c.name().equals("elementwise"))
                    tests.add(DynamicTest.dynamicTest(c.name() + " " + precision.label(), () -> check(c, precision)));
        return tests;
    }

    static void check(Case c, Precision precision) {
        PtxProgram p = PtxGen.generate(Lower.lower(c.graph()), PtxGen.Options.DEFAULT.withPrecision(precision));
        assertTrue(p.launches().stream().allMatch(l -> l.mode().matches("sgemm.*|implicit-gemm.*|thread v4") || l.entry().endsWith("_zero")),
                "only GEMM and 4-wide kernels here: " + p.launches().stream().map(Launch::mode).toList());
        List<NdArray> in = GpuParityTest.randomInputs(c.graph(), c.dims(), 5);
        List<NdArray> abs = new ArrayList<>();
        for (NdArray a : in) {
            NdArray m = NdArray.zeros(a.dtype(), a.shape());
            for (int i = 0; i < a.size(); i++) m.setDouble(i, Math.abs(a.getDouble(i)));
            abs.add(m);
        }
        List<NdArray> want = Interpreter.run(c.graph(), in), bound = Interpreter.run(c.graph(), abs), got = PtxSim.run(p, c.dims(), in);
        for (int r = 0; r < want.size(); r++) {
            double scale = 1;
            for (int i = 0; i < want.get(r).size(); i++) scale = Math.max(scale, Math.abs(want.get(r).getDouble(i)));
            for (int i = 0; i < want.get(r).size(); i++) {
                // rounded inputs: each product within 2*inputError (+ its square) of the exact one
                double tol = precision == Precision.FP32 ? 2e-5 * scale : 4 * precision.inputError * bound.get(r).getDouble(i) + 1e-6;
                assertEquals(want.get(r).getDouble(i), got.get(r).getDouble(i), tol, c.name() + " result #" + r + " element " + i);
            }
        }
    }

    /// Every graph of the GPU test catalogue whose buffers are all f32 (the models, layers,
    /// fused regions, random graphs, f32 ops), run by the simulator at each of its bindings up
    /// to 64 and compared with the interpreter under `GpuParityTest`'s tolerances.
    @TestFactory List<DynamicTest> catalogueOnTheCpu() {
        List<DynamicTest> tests = new ArrayList<>();
        for (Graphs.Case c : Graphs.all()) {
            var kp = Lower.lower(c.graph());
            if (kp.buffers().stream().allMatch(b -> b.dtype() == dev.kiln.runtime.DType.F32))
                tests.add(DynamicTest.dynamicTest(c.name(), () -> simulate(c)));
        }
        return tests;
    }

    static void simulate(Graphs.Case c) {
        PtxProgram p = CudaBackend.ptx(c.graph());
        long seed = 1;
        for (Map<String, Integer> b : c.bindings()) {
            if (b.values().stream().anyMatch(v -> v > 64)) continue; // the large bindings are for the GPU
            List<NdArray> in = GpuParityTest.randomInputs(c.graph(), b, seed++);
            List<NdArray> want = Interpreter.run(c.graph(), in), flat = PtxSim.run(p, b, in), got = new ArrayList<>();
            for (int r = 0; r < want.size(); r++) {
                NdArray a = NdArray.zeros(want.get(r).dtype(), want.get(r).shape());
                for (int i = 0; i < a.size(); i++) a.setDouble(i, flat.get(r).getDouble(i));
                got.add(a);
            }
            GpuParityTest.compare(c.name() + " " + b, want, got);
        }
    }

    @Test void tf32RoundsToNearestTiesAway() {
        assertEquals(0x3f800000, PtxSim.tf32(0x3f800fff));               // below half an ulp: down
        assertEquals(0x3f802000, PtxSim.tf32(0x3f801000));               // a tie: away from zero
        assertEquals(0xbf802000, PtxSim.tf32(0xbf801000));
        assertEquals(0x7f800000, PtxSim.tf32(0x7f800000));               // inf stays
    }

    @Test void bf16RoundsToNearestEven() {
        assertEquals(0x3f80, PtxSim.bf16(0x3f807fff));                   // below half an ulp: down
        assertEquals(0x3f80, PtxSim.bf16(0x3f808000));                   // a tie to the even neighbour: down
        assertEquals(0x3f82, PtxSim.bf16(0x3f818000));                   // a tie to the even neighbour: up
        assertEquals(0xbf81, PtxSim.bf16(0xbf808001));                   // above half an ulp: away
        assertEquals(0x7f80, PtxSim.bf16(0x7f7fffff));                   // past the largest bf16: inf
        assertTrue((PtxSim.bf16(0x7fc00001) & 0x7f) != 0 && (PtxSim.bf16(0x7f800001) & 0x7fff) > 0x7f80); // NaN stays NaN
    }

    /// The simulator itself catches what the tests rely on it for: an out-of-bounds access.
    @Test void outOfBoundsAccessIsAnError() {
        String ptx = ".version 8.0\n.target sm_80\n.address_size 64\n\n.visible .entry k(\n\t.param .u64 b0\n)\n{\n\t.reg .b32 %r<3>;\n"
                + "\t.reg .b64 %rd<3>;\n\t.reg .f32 %f<2>;\n\tld.param.u64 %rd1, [b0];\n\tcvta.to.global.u64 %rd2, %rd1;\n"
                + "\tld.global.f32 %f1, [%rd2+4];\n\tret;\n}\n";
        PtxSim sim = new PtxSim(ptx);
        sim.global.add(new byte[4]);
        var e = assertThrows(IllegalStateException.class, () -> sim.launch("k", new int[]{1, 1, 1}, 1, new long[]{1L << 32}));
        assertTrue(e.getMessage().contains("global access outside buffer 0 at byte 4"), e.getMessage());
    }
}
