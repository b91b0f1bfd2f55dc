package dev.kiln.codegen.cuda;

import dev.kiln.ir.Builder;
import dev.kiln.ir.Graph;
import dev.kiln.ir.Ints;
import dev.kiln.ir.Value;
import dev.kiln.passes.lower.Lower;
import org.junit.jupiter.api.Test;

import java.util.List;

import static dev.kiln.ir.TensorType.f32;
import static org.junit.jupiter.api.Assertions.*;

/// Which kernel each option selects, and what it is made of: implicit GEMMs for convolutions
/// (fp32 exact by default, tensor cores only with tf32, atomics only in the split-K weight
/// gradient, epilogues folded into the store), 4-wide loads and stores in large elementwise
/// kernels, the fallbacks, and the system properties that select them (`PtxGoldenTest` has a
/// golden of the tf32 sgemm entry, `PtxSimTest` runs these kernels).
class KernelPathsTest {
    static final Ints ONE = Ints.of(1, 1);

    /// A conv with all three forms and a matmul.
    static Graph convAndMatmul() {
        Builder b = new Builder();
        Value x = b.param("x", f32("N", 8, 10, 10)), w = b.param("w", f32(16, 8, 3, 3)), g = b.param("g", f32("N", 16, 10, 10));
        Value p = b.param("p", f32("N", 40)), q = b.param("q", f32(40, 24));
        return b.build("gemms", b.conv2d(x, w, ONE, ONE, ONE, 1), b.conv2dGradInput(g, w, ONE, ONE, ONE, 1, x.type()),
                b.conv2dGradWeight(x, g, ONE, ONE, ONE, 1, w.type()), b.matmul(p, q));
    }

    static List<String> modes(PtxProgram p) { return p.launches().stream().map(Launch::mode).toList(); }

    @Test void fp32ImplicitGemmsByDefault() {
        PtxProgram p = PtxGen.generate(Lower.lower(convAndMatmul()));
        assertEquals(List.of("implicit-gemm", "implicit-gemm", "thread v4", "implicit-gemm split-k", "sgemm"), modes(p));
        assertTrue(p.launches().get(2).entry().endsWith("_zero"), "the split-K output is zeroed first");
        assertTrue(p.ptx().contains("red.global.add.f32"));
        assertTrue(p.ptx().contains("fma.rn.f32"));
        assertFalse(p.ptx().contains("mma.sync"), "tensor cores only with tf32");
        assertFalse(p.ptx().contains("tf32"));
    }

    @Test void tf32OnTensorCores() {
        PtxProgram p = PtxGen.generate(Lower.lower(convAndMatmul()), PtxGen.Options.DEFAULT.withPrecision(PtxGen.Precision.TF32));
        assertEquals(List.of("implicit-gemm-tf32", "implicit-gemm-tf32", "thread v4", "implicit-gemm-tf32 split-k", "sgemm-tf32"), modes(p));
        assertEquals("kiln_sgemm_tf32_nn", p.launches().get(4).entry());
        assertTrue(p.ptx().contains("cvt.rna.tf32.f32"));
        // 4 entries x 2 k8 steps x 4 tiles of m16n8 per warp
        assertEquals(4 * 2 * 4, p.ptx().split("mma\\.sync\\.aligned\\.m16n8k8\\.row\\.col\\.f32\\.tf32\\.tf32\\.f32", -1).length - 1);
        assertFalse(p.ptx().contains("fma.rn.f32"));
    }

    @Test void bf16OnTensorCores() {
        PtxProgram p = PtxGen.generate(Lower.lower(convAndMatmul()), PtxGen.Options.DEFAULT.withPrecision(PtxGen.Precision.BF16));
        assertEquals(List.of("implicit-gemm-bf16", "implicit-gemm-bf16", "thread v4", "implicit-gemm-bf16 split-k", "sgemm-bf16"), modes(p));
        assertEquals("kiln_sgemm_bf16_nn", p.launches().get(4).entry());
        // each of 4 entries x 2 k8 steps: 2 A fragments of 2 registers and 2 B fragments of 1, each packing 2 values
        assertEquals(4 * 2 * 6, p.ptx().split("cvt\\.rn\\.bf16x2\\.f32", -1).length - 1);
        assertEquals(4 * 2 * 4, p.ptx().split("mma\\.sync\\.aligned\\.m16n8k8\\.row\\.col\\.f32\\.bf16\\.bf16\\.f32", -1).length - 1);
        assertFalse(p.ptx().contains("tf32") || p.ptx().contains("fma.rn.f32"));
    }

    /// An elementwise epilogue on a convolution (bias, relu) is applied as the GEMM stores each
    /// element: one launch, no second pass over the output.
    @Test void convEpilogueFoldedIntoTheStore() {
        Builder b = new Builder();
        Value x = b.param("x", f32("N", 8, 10, 10)), w = b.param("w", f32(16, 8, 3, 3)), bias = b.param("b", f32(16));
        Value y = b.conv2d(x, w, ONE, ONE, ONE, 1);
        Value act = b.relu(b.add(y, b.broadcast(bias, dev.kiln.ir.Axes.of(1), y.type())));
        Graph g = Graphs.fusedGraph("conv_relu", b.build("conv_relu", act));
        assertEquals(List.of("implicit-gemm +epilogue"), modes(PtxGen.generate(Lower.lower(g))));
        assertEquals(List.of("thread", "thread v4"), modes(PtxGen.generate(Lower.lower(g), PtxGen.Options.DEFAULT.withConvLoops())));
    }

    /// MNISTNet's fused train step: both forward convolutions carry their bias epilogue, both
    /// weight gradients split K, the input gradient of the second is a plain implicit GEMM.
    @Test void mnistTrainStepConvolutions() {
        List<String> convs = modes(CudaBackend.ptx(Graphs.fuse(Models.trainStep()))).stream().filter(m -> m.startsWith("implicit")).toList();
        assertEquals(List.of("implicit-gemm +epilogue", "implicit-gemm +epilogue", "implicit-gemm split-k", "implicit-gemm",
                "implicit-gemm split-k"), convs);
    }

    @Test void convLoopsAsFallback() {
        PtxProgram p = PtxGen.generate(Lower.lower(convAndMatmul()), PtxGen.Options.DEFAULT.withConvLoops());
        assertEquals(List.of("thread", "thread", "block", "sgemm"), modes(p));
        assertFalse(p.ptx().contains("red.global"));
    }

    /// Elementwise kernels over many elements load and store 16 bytes at a time (a transpose
    /// stores so, and gathers its operand one by one); small ones stay one by one.
    @Test void fourWideElementwiseKernels() {
        Builder b = new Builder();
        Value x = b.param("x", f32("B", 33)), y = b.param("y", f32("B", 33)), s = b.param("s", f32(3, 5));
        Graph g = b.build("ew", b.relu(b.add(x, y)), b.neg(s), b.transpose(x, dev.kiln.ir.Axes.of(1, 0)));
        PtxProgram p = PtxGen.generate(Lower.lower(g));
        assertEquals(List.of("thread v4", "thread v4", "thread", "thread v4"), modes(p)); // add, relu, neg, transpose
        assertTrue(p.ptx().contains("ld.global.v4.f32") && p.ptx().contains("st.global.v4.f32"));
        assertEquals(List.of("thread", "thread", "thread", "thread"), modes(PtxGen.generate(Lower.lower(g), PtxGen.Options.DEFAULT.withScalarLoads())));
    }

    @Test void systemPropertiesSelectThePaths() {
        Graph g = convAndMatmul();
        try {
            System.setProperty("kiln.cuda.conv", "loops");
            System.setProperty("kiln.cuda.precision", "tf32");
            assertEquals(List.of("thread", "thread", "block", "sgemm-tf32"), modes(PtxGen.generate(Lower.lower(g))));
            System.setProperty("kiln.cuda.vectorize", "false");
            System.clearProperty("kiln.cuda.conv");
            assertEquals(List.of("implicit-gemm-tf32", "implicit-gemm-tf32", "thread", "implicit-gemm-tf32 split-k", "sgemm-tf32"),
                    modes(PtxGen.generate(Lower.lower(g))));
            System.clearProperty("kiln.cuda.vectorize");
            System.setProperty("kiln.cuda.precision", "bf16");
            assertEquals(List.of("implicit-gemm-bf16", "implicit-gemm-bf16", "thread v4", "implicit-gemm-bf16 split-k", "sgemm-bf16"),
                    modes(PtxGen.generate(Lower.lower(g))));
            System.setProperty("kiln.cuda.precision", "fp16");
            var e = assertThrows(IllegalArgumentException.class, () -> PtxGen.generate(Lower.lower(g)));
            assertEquals("-Dkiln.cuda.precision=fp16: expected fp32, tf32 or bf16", e.getMessage());
            System.clearProperty("kiln.cuda.precision");
            System.setProperty("kiln.cuda.conv", "direct");
            e = assertThrows(IllegalArgumentException.class, () -> PtxGen.generate(Lower.lower(g)));
            assertEquals("-Dkiln.cuda.conv=direct: expected gemm or loops", e.getMessage());
        } finally {
            System.clearProperty("kiln.cuda.conv");
            System.clearProperty("kiln.cuda.precision");
            System.clearProperty("kiln.cuda.vectorize");
        }
    }
}
