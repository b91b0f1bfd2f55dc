package dev.kiln.codegen.cuda;

import dev.kiln.ir.kernel.KernelProgram;
import dev.kiln.passes.lower.Lower;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/// Every kernel the CUDA backend generates for the test graphs compiles to machine code for
/// sm_80 and sm_90 with NVIDIA's PTX compiler (no GPU needed); a failure shows the compiler's
/// log. Also checks that every launch names an entry of the module and no kernel spills.
class PtxValidationTest {
    static final String[] ARCHS = {"sm_80", "sm_90"};

    @TestFactory List<DynamicTest> everyGeneratedKernelCompiles() {
        assertNotNull(PtxCompiler.tool(), "no PTX compiler: " + PtxCompiler.problem());
        List<DynamicTest> tests = new ArrayList<>();
        for (Graphs.Case c : Graphs.all()) tests.add(DynamicTest.dynamicTest(c.name(), () -> check(c)));
        return tests;
    }

    /// The fast-math path (hardware approximations for f32 exp, log, tanh) compiles too.
    @org.junit.jupiter.api.Test void fastMathKernelsCompile() {
        for (Graphs.Case c : Graphs.all()) {
            if (!c.name().matches("(exp|log|tanh)_(f32|f16|bf16)|softmax|fused_xent")) continue;
            PtxProgram p = PtxGen.generate(Lower.lower(c.graph()), PtxGen.Options.DEFAULT.withFastMath());
            assertTrue(p.ptx().contains(".approx"), c.name());
            for (String arch : ARCHS) PtxCompiler.compile(p.ptx(), arch);
        }
    }

    /// The other GEMM and convolution paths compile too: tf32 and bf16 tensor cores for every
    /// graph with a matmul or convolution, and the convolution loop nests.
    @TestFactory List<DynamicTest> tensorCoreAndConvLoopPathsCompile() {
        List<DynamicTest> tests = new ArrayList<>();
        for (Graphs.Case c : Graphs.all()) {
            if (!c.name().matches("matmul_.*|linear_.*|conv.*|fused_(fc|conv|grad|cnn).*|mnist_.*")) continue;
            for (PtxGen.Precision p : List.of(PtxGen.Precision.TF32, PtxGen.Precision.BF16))
                tests.add(DynamicTest.dynamicTest(c.name() + " (" + p.label() + ")", () -> check(c, PtxGen.Options.DEFAULT.withPrecision(p))));
            if (Graphs.hasConv(c))
                tests.add(DynamicTest.dynamicTest(c.name() + " (conv loops)", () -> check(c, PtxGen.Options.DEFAULT.withConvLoops())));
        }
        return tests;
    }

    static void check(Graphs.Case c) { check(c, PtxGen.Options.DEFAULT); }

    static void check(Graphs.Case c, PtxGen.Options options) {
        KernelProgram kp = Lower.lower(c.graph());
        PtxProgram p = PtxGen.generate(kp, options);
        for (Launch l : p.launches()) assertTrue(p.ptx().contains(".entry " + l.entry() + "("), "launch of missing entry " + l.entry());
        for (String arch : ARCHS) {
            PtxCompiler.Result r;
            try {
                r = PtxCompiler.compile(p.ptx(), arch);
            } catch (PtxCompiler.PtxException e) {
                fail(c.name() + ": " + e.getMessage() + "\n---- PTX ----\n" + numbered(p.ptx()));
                return;
            }
            assertTrue(r.cubin().length > 0);
            for (Launch l : p.launches()) {
                PtxCompiler.Resources res = r.resources().get(l.entry());
                assertNotNull(res, "no resource line for " + l.entry() + " in\n" + r.infoLog());
                assertEquals(0, res.spillStores(), c.name() + " " + arch + ": " + res);
            }
        }
    }

    static String numbered(String text) {
        StringBuilder s = new StringBuilder();
        String[] lines = text.split("\n");
        for (int i = 0; i < lines.length; i++) s.append(String.format("%5d  %s%n", i + 1, lines[i]));
        return s.toString();
    }
}
