package dev.kiln.codegen.cuda;

import dev.kiln.ir.Axes;
import dev.kiln.ir.Builder;
import dev.kiln.ir.Graph;
import dev.kiln.ir.TensorType;
import dev.kiln.ir.Value;
import dev.kiln.ir.kernel.Kir.BinOp;
import dev.kiln.ir.kernel.Kir.UnOp;
import dev.kiln.runtime.DType;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;

import static dev.kiln.ir.TensorType.f32;
import static org.junit.jupiter.api.Assertions.*;

/// Whole-module PTX goldens for a few small kernels (files in `src/test/resources/ptx/`;
/// `-Dgolden.update=true` rewrites them for review in the diff), and the op table's lines
/// that carry semantics: no contraction, NaN-aware comparisons.
class PtxGoldenTest {
    static void golden(String file, Graph g) throws Exception { golden(file, CudaBackend.ptx(g).ptx()); }

    static void golden(String file, String ptx) throws Exception {
        Path path = Path.of("src/test/resources/ptx", file);
        if (Boolean.getBoolean("golden.update")) {
            Files.createDirectories(path.getParent());
            dev.kiln.runtime.AtomicFiles.write(path, ptx.getBytes(java.nio.charset.StandardCharsets.UTF_8));
        }
        assertTrue(Files.exists(path), path + " is missing; run with -Dgolden.update=true");
        assertEquals(Files.readString(path), ptx, file);
    }

    @Test void biasReluF32() throws Exception {
        Builder b = new Builder();
        Value x = b.param("x", f32("B", 16)), bias = b.param("bias", f32(16));
        golden("bias_relu_f32.ptx", b.build("bias_relu", b.relu(b.add(x, b.broadcast(bias, Axes.of(1), f32("B", 16))))));
    }

    @Test void mulF16() throws Exception {
        Builder b = new Builder();
        Value x = b.param("x", TensorType.of(DType.F16, 8)), y = b.param("y", TensorType.of(DType.F16, 8));
        golden("mul_f16.ptx", b.build("mul_f16", b.mul(x, y)));
    }

    @Test void rowSumBlockReduction() throws Exception {
        Builder b = new Builder();
        Value x = b.param("x", f32("B", 10));
        golden("sum_over_batch.ptx", b.build("sum_over_batch", b.reduceSum(x, Axes.of(0))));
    }

    /// The tensor-core path of the tiled GEMM: staging with tf32 rounding, fragment loads and
    /// `mma.sync` (its layout is the PTX ISA's m16n8k8 one, see `Sgemm.TensorCores`).
    @Test void sgemmTf32() throws Exception {
        golden("sgemm_tf32_nn.ptx", Sgemm.entry(false, false, PtxGen.Precision.TF32));
    }

    /// The bf16 form: staged as f32, rounded in pairs along K into the packed fragments.
    @Test void sgemmBf16() throws Exception {
        golden("sgemm_bf16_nn.ptx", Sgemm.entry(false, false, PtxGen.Precision.BF16));
    }

    @Test void tableLinesThatCarrySemantics() {
        assertEquals("add.rn.f32 $d, $a, $b;", Ptx.bin(BinOp.ADD, DType.F32));       // .rn: never fused into an fma
        assertEquals("mul.rn.f64 $d, $a, $b;", Ptx.bin(BinOp.MUL, DType.F64));
        assertEquals("setp.neu.f32 $d, $a, $b;", Ptx.bin(BinOp.NE, DType.F32));     // NaN != x is true
        assertEquals("setp.lt.f32 $d, $a, $b;", Ptx.bin(BinOp.LT, DType.F16));      // f16 computes in f32
        assertEquals("mul.lo.s64 $d, $a, $b;", Ptx.bin(BinOp.MUL, DType.I64));
        assertNull(Ptx.bin(BinOp.DIV, DType.I32));                                    // needs the zero check
        assertNull(Ptx.bin(BinOp.MAX, DType.F32));                                    // Java's NaN and -0 rules
        assertEquals("sqrt.rn.f32 $d, $a;", Ptx.un(UnOp.SQRT, DType.F32));
        assertEquals("0f3F800000", Ptx.floatLit(1, DType.F32));
        assertEquals("0dBFF0000000000000", Ptx.floatLit(-1, DType.F64));
    }
}
