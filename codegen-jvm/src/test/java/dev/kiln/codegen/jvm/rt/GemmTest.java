package dev.kiln.codegen.jvm.rt;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.*;

/// Both micro-kernels against a double-precision triple loop, over shapes that hit every path:
/// whole tiles, ragged edges, several depth blocks, skinny products, transposes, accumulation,
/// offsets and leading dimensions. Tolerance: 1e-5 x the sum of |a_ip * b_pj| (the bound of
/// f32 rounding in a k-term sum, with room).
class GemmTest {
    static List<Gemm.Micro> micros() {
        List<Gemm.Micro> out = new ArrayList<>(List.of(new Gemm.ScalarMicro()));
        Gemm.Micro v = Gemm.vectorOrNull();
        if (v != null) out.add(v);
        return out;
    }

    @Test void vectorKernelIsAvailableInTests() {
        assertNotNull(Gemm.vectorOrNull(), "tests run with --add-modules jdk.incubator.vector");
        assertEquals("vector", Gemm.kernelName());
    }

    @Test void matchesTripleLoop() {
        checkAll(new int[][]{{1, 1, 1}, {8, 32, 16}, {9, 33, 17}, {3, 200, 50}, {70, 5, 1000}, {100, 100, 800}, {17, 64, 0}, {64, 196, 288}},
                new Random(3));
    }

    /// Narrow products, where padding to a tile would waste most of it: a few columns and many
    /// rows (computed transposed, then transposed back), and `A @ B^T` with few rows or columns
    /// (4 x 4 blocks of dot products, ragged blocks at every size, depth with and without a
    /// tail past whole vectors). The MNIST shapes are among them.
    @Test void narrowProductsMatchTripleLoop() {
        checkAll(new int[][]{{3136, 10, 64}, {64, 10, 3136}, {32, 9, 784}, {33, 9, 40}, {1, 7, 100}, {5, 3, 33}, {40, 6, 17},
                {100, 15, 31}, {2, 100, 64}, {64, 1, 50}, {45, 4, 9}, {7, 2, 32}, {6, 13, 47}, {200, 5, 1}}, new Random(6));
    }

    /// Each shape `{m, n, k}` with every micro-kernel, both transposes and with and without
    /// accumulating into C, against the triple loop.
    static void checkAll(int[][] shapes, Random r) {
        for (Gemm.Micro mk : micros())
            for (int[] s : shapes)
                for (boolean ta : new boolean[]{false, true})
                    for (boolean tb : new boolean[]{false, true})
                        for (boolean acc : new boolean[]{false, true})
                            check(mk, s[0], s[1], s[2], ta, tb, acc, r);
    }

    /// The narrow paths inside batched and row-split products (the linear layer's weight
    /// gradient at batch 3 and alone on two threads), against the triple loop.
    @Test void narrowBatchedAndParallel() {
        Random r = new Random(7);
        for (int batch : new int[]{1, 3})
            for (boolean ta : new boolean[]{false, true}) {
                int m = 700, n = 10, k = 64;
                float[] a = rand(batch * m * k, r), b = rand(batch * k * n, r), c = new float[batch * m * n];
                Gemm.sgemmBatch(c, a, b, batch, m, n, k, ta, false, new Pool(2));
                for (int q = 0; q < batch; q++)
                    for (int i = 0; i < m; i++)
                        for (int j = 0; j < n; j++) {
                            double sum = 0, mag = 0;
                            for (int p = 0; p < k; p++) {
                                double x = ta ? a[q * m * k + p * m + i] : a[q * m * k + i * k + p];
                                sum += x * b[q * k * n + p * n + j];
                                mag += Math.abs(x * b[q * k * n + p * n + j]);
                            }
                            assertEquals(sum, c[q * m * n + i * n + j], 1e-5 * (mag + 1), "batch " + batch + " ta=" + ta + " at " + q + "," + i + "," + j);
                        }
            }
    }

    /// A read in place (whole row panels) rather than packed, with the ragged last panel
    /// packed; and with a leading dimension of a multiple of 128, where it is packed after all.
    @Test void inPlaceAMatchesTripleLoop() {
        int[][] shapes = {{8, 32, 16}, {288, 64, 196}, {9, 32, 784}, {21, 40, 500}, {3, 5, 7}, {200, 33, 128}};
        Random r = new Random(4);
        for (Gemm.Micro mk : micros())
            for (int[] s : shapes)
                for (boolean tb : new boolean[]{false, true})
                    for (boolean acc : new boolean[]{false, true}) check(mk, s[0], s[1], s[2], false, tb, acc, true, r);
    }

    static void check(Gemm.Micro mk, int m, int n, int k, boolean ta, boolean tb, boolean acc, Random r) {
        check(mk, m, n, k, ta, tb, acc, false, r);
    }

    static void check(Gemm.Micro mk, int m, int n, int k, boolean ta, boolean tb, boolean acc, boolean inPlaceA, Random r) {
        int lda = inPlaceA && k == 128 ? k : (ta ? m : k) + 3, ldb = (tb ? k : n) + 1, ldc = n + 2, aOff = 5, bOff = 7, cOff = 11;
        float[] a = rand(aOff + lda * (ta ? k : m), r), b = rand(bOff + ldb * (tb ? n : k), r), c = rand(cOff + ldc * m, r);
        float[] c0 = c.clone();
        if (inPlaceA) Gemm.gemmInPlaceA(m, n, k, a, aOff, lda, b, bOff, ldb, tb, c, cOff, ldc, acc, mk);
        else Gemm.gemm(m, n, k, a, aOff, lda, ta, b, bOff, ldb, tb, c, cOff, ldc, acc, mk);
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++) {
                double sum = acc ? c0[cOff + i * ldc + j] : 0, mag = Math.abs(sum);
                for (int p = 0; p < k; p++) {
                    double x = ta ? a[aOff + p * lda + i] : a[aOff + i * lda + p];
                    double y = tb ? b[bOff + j * ldb + p] : b[bOff + p * ldb + j];
                    sum += x * y;
                    mag += Math.abs(x * y);
                }
                String what = mk.getClass().getSimpleName() + " " + m + "x" + n + "x" + k + " ta=" + ta + " tb=" + tb + " acc=" + acc
                        + (inPlaceA ? " A in place" : "") + " at " + i + "," + j;
                assertEquals(sum, c[cOff + i * ldc + j], 1e-5 * (mag + 1), what);
            }
        // nothing outside C's rows of n columns is touched
        for (int i = 0; i < cOff; i++) assertEquals(c0[i], c[i]);
        for (int i = 0; i < m; i++) for (int j = n; j < ldc; j++) assertEquals(c0[cOff + i * ldc + j], c[cOff + i * ldc + j]);
    }

    static float[] rand(int n, Random r) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) x[i] = r.nextFloat() * 2 - 1;
        return x;
    }

    @Test void batchedAndParallelWithEpilogueRanges() {
        Random r = new Random(5);
        int batch = 3, m = 150, n = 70, k = 90;
        float[] a = rand(batch * m * k, r), b = rand(batch * k * n, r), c = new float[batch * m * n], want = new float[batch * m * n];
        for (int i = 0; i < batch; i++) Gemm.gemm(m, n, k, a, i * m * k, k, false, b, i * k * n, n, false, want, i * m * n, n, false);
        // the epilogue marks each row it is given, so every row must be marked exactly once
        int[] seen = new int[batch * m];
        KernelSet mark = (task, bufs, dims, lo, hi) -> { synchronized (seen) { for (int g = lo; g < hi; g++) seen[g]++; } };
        Gemm.sgemmBatch(c, a, b, batch, m, n, k, false, false, new Pool(2), mark, 0, null, null, 1, 0);
        assertArrayEquals(want, c);
        for (int g = 0; g < seen.length; g++) assertEquals(1, seen[g], "row " + g);
    }
}
