package dev.kiln.codegen.jvm;

import dev.kiln.ir.TensorType;
import dev.kiln.ir.kernel.KernelProgram;
import dev.kiln.ir.kernel.KirParser;
import dev.kiln.ir.kernel.KirPrinter;
import dev.kiln.runtime.NdArray;
import org.junit.jupiter.api.Test;

import java.util.List;

import static dev.kiln.ir.TensorType.f32;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/// Kernel IR written by hand, read by `KirParser`, compiled by the JVM backend and run: the
/// parsed program is a program like a lowered one. Expected values are worked out by hand or
/// by a plain loop over the inputs.
class KernelTextTest {
    static float[] run(String text, List<TensorType> params, List<TensorType> results, NdArray... inputs) {
        KernelProgram p = KirParser.parse(text, "hand.txt");
        assertEquals(text, KirPrinter.print(p), "the hand-written text is in printed form");
        List<NdArray> out = JvmBackend.compile(p, params, results).run(List.of(inputs));
        assertEquals(1, out.size());
        assertArrayEquals(results.getFirst().shape().resolve(java.util.Map.of("B", inputs[0].shape()[0])), out.getFirst().shape());
        float[] values = new float[out.getFirst().size()];
        for (int i = 0; i < values.length; i++) values[i] = (float) out.getFirst().getDouble(i);
        return values;
    }

    @Test void reluLoop() {
        String text = """
                program @relu
                  b0: f32[6] param 0 "x"
                  b1: f32[6] temp "y" result 0
                kernel k0_relu
                  for i0 < 6 {
                    b1[i0] = relu(b0[i0])
                  }
                """;
        float[] y = run(text, List.of(f32(6)), List.of(f32(6)), NdArray.of(new float[]{-1.5f, 2f, 0f, -0.25f, 3.5f, -4f}, 6));
        assertArrayEquals(new float[]{0f, 2f, 0f, 0f, 3.5f, 0f}, y);
    }

    /// Two kernels over a symbolic batch: a scaled copy into a temp buffer (in slot 0), then a
    /// row sum accumulated in an f64 local (`Let`, then `Set` per element).
    @Test void reductionWithLetAndSet() {
        String text = """
                program @row_sum symbols [B]
                  b0: f32[(B * 3)] param 0 "x" (B = axis 0)
                  b1: f32[(B * 3)] temp "%0" slot 0
                  b2: f32[B] temp "%1" result 0
                kernel k0_scale
                  for i0 < (B * 3) {
                    b1[i0] = (b0[i0] * 2.0f)
                  }
                kernel k1_reduce_sum
                  for i1 < B {
                    f64 acc = 0.0d
                    for r2 < 3 {
                      acc = (acc + (f64) b1[((i1 * 3) + r2)])
                    }
                    b2[i1] = (f32) acc
                  }
                """;
        NdArray x = NdArray.of(new float[]{1f, 2f, 3f, 4f, 5f, 6.5f}, 2, 3);
        // rows [1,2,3] and [4,5,6.5], doubled: 2*(1+2+3) = 12, 2*(4+5+6.5) = 31
        assertArrayEquals(new float[]{12f, 31f}, run(text, List.of(f32("B", 3)), List.of(f32("B")), x));
    }

    /// A library matrix product with an epilogue that adds a bias and applies relu in place.
    @Test void gemmWithEpilogue() {
        String text = """
                program @dense
                  b0: f32[6] param 0 "x"
                  b1: f32[12] param 1 "w"
                  b2: f32[4] param 2 "b"
                  b3: f32[8] temp "%0" result 0
                kernel k0_matmul_add_relu
                  b3 = gemmNN(b0, b1) batch=1 m=2 n=4 k=3 f32
                  epilogue:
                    for i0 < 8 {
                      b3[i0] = relu((b3[i0] + b2[(i0 % 4)]))
                    }
                """;
        float[] x = {1, -2, 0.5f, 3, 0, -1}, w = {1, 0, -1, 2, 0.5f, 1, 0, -1, 2, -2, 1, 0}, b = {0.25f, -0.5f, 1, 0};
        float[] want = new float[8];
        for (int i = 0; i < 2; i++)
            for (int j = 0; j < 4; j++) {
                float acc = b[j];
                for (int k = 0; k < 3; k++) acc += x[i * 3 + k] * w[k * 4 + j];
                want[i * 4 + j] = Math.max(acc, 0);
            }
        float[] y = run(text, List.of(f32(2, 3), f32(3, 4), f32(4)), List.of(f32(2, 4)),
                NdArray.of(x, 2, 3), NdArray.of(w, 3, 4), NdArray.of(b, 4));
        assertArrayEquals(want, y, 1e-6f);
    }
}
