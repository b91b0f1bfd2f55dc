package dev.kiln;

import dev.kiln.ir.IrError;
import dev.kiln.runtime.DType;
import org.junit.jupiter.api.Test;

import java.util.function.Function;

import static org.junit.jupiter.api.Assertions.*;

class TensorTest {
    // ---- the examples -----------------------------------------------------------------

    @Test void autogradExampleGivesSeven() {
        Tensor x = Tensor.scalar(2f).requiresGrad(true);
        Tensor y = x.pow(2).add(x.mul(3));             // d/dx (x^2 + 3x) = 2x + 3 = 7 at x = 2
        y.backward();
        assertEquals(7.0f, x.grad().item(), 1e-6);
        assertEquals(10.0f, y.item(), 1e-6);           // 4 + 6
    }

    @Test void broadcastingMultiplies() {
        Tensor a = Tensor.of(new float[][]{{1, 2}, {3, 4}}), b = Tensor.of(new float[][]{{5}, {6}});
        assertArrayEquals(new float[]{5, 10, 18, 24}, a.mul(b).toFloatArray());
        assertArrayEquals(new int[]{2, 2}, a.mul(b).shape());
        // rank-extending broadcast: [3] against [2,1] -> [2,3]
        Tensor c = Tensor.of(new float[]{1, 2, 3}).add(Tensor.of(new float[][]{{10}, {20}}));
        assertArrayEquals(new float[]{11, 12, 13, 21, 22, 23}, c.toFloatArray());
    }

    // ---- creation and printing --------------------------------------------------------------

    @Test void createsFromJavaArraysOfAnyRank() {
        assertArrayEquals(new int[]{2, 1, 3}, Tensor.of(new float[][][]{{{1, 2, 3}}, {{4, 5, 6}}}).shape());
        assertEquals(DType.I64, Tensor.of(new long[]{3, 1, 4}).dtype());
        assertEquals(DType.F64, Tensor.of(new double[]{1}).dtype());
        assertEquals(DType.BOOL, Tensor.of(new boolean[]{true}).dtype());
        assertEquals(DType.I32, Tensor.of(new int[][]{{1}}).dtype());
        assertEquals(0, Tensor.scalar(2f).dim());
        assertArrayEquals(new long[]{0, 1, 2, 3}, Tensor.arange(4).toLongArray());
        assertArrayEquals(new float[]{1, 1, 1, 1, 1, 1}, Tensor.ones(2, 3).toFloatArray());
        assertArrayEquals(new float[]{0.5f, 1.0f, 1.5f}, Tensor.arange(0.5, 2.0, 0.5).toFloatArray());
        var e = assertThrows(KilnException.class, () -> Tensor.of(new float[][]{{1, 2}, {3}}));
        assertTrue(e.getMessage().contains("jagged"), e.getMessage());
    }

    @Test void randomTensorsAreSeededAndInRange() {
        Kiln.manualSeed(42);
        float[] a = Tensor.rand(2, 3).toFloatArray();
        Kiln.manualSeed(42);
        assertArrayEquals(a, Tensor.rand(2, 3).toFloatArray());
        for (float v : a) assertTrue(v >= 0 && v < 1);
        float[] n = Tensor.randn(10000).toFloatArray();
        double mean = 0, sq = 0;
        for (float v : n) { mean += v; sq += v * v; }
        mean /= n.length;
        assertEquals(0, mean, 0.05);
        assertEquals(1, sq / n.length - mean * mean, 0.05);
    }

    @Test void printsLikePyTorch() {
        assertEquals("tensor([[1., 2.],\n        [3., 4.]])", Tensor.of(new float[][]{{1, 2}, {3, 4}}).toString());
        assertEquals("tensor(2.)", Tensor.scalar(2f).toString());
        assertEquals("tensor([3, 1, 4])", Tensor.of(new long[]{3, 1, 4}).toString());
        assertEquals("tensor([0.5000, 1.2500])", Tensor.of(new float[]{0.5f, 1.25f}).toString());
        assertEquals("tensor([ True, False])", Tensor.of(new boolean[]{true, false}).toString());
        assertEquals("tensor([-1.,  2.])", Tensor.of(new float[]{-1, 2}).toString());
        assertEquals("tensor([1.0000e-05, 1.0000e+00])", Tensor.of(new float[]{1e-5f, 1}).toString());
        assertEquals("tensor([1., 2.], dtype=f64)", Tensor.of(new double[]{1, 2}).toString());
        assertEquals("tensor(2., requires_grad=True)", Tensor.scalar(2f).requiresGrad(true).toString());
        assertEquals("tensor([[[1., 2.]],\n\n        [[3., 4.]]])", Tensor.of(new float[][][]{{{1, 2}}, {{3, 4}}}).toString());
        assertEquals("tensor([], size=(0, 3))", Tensor.zeros(0, 3).toString());
        String big = Tensor.arange(2000).toString();
        assertEquals("tensor([   0,    1,    2,  ..., 1997, 1998, 1999])", big);
    }

    // ---- arithmetic, dtypes, reductions -----------------------------------------------------

    @Test void promotesDtypesAsPyTorch() {
        Tensor r = Tensor.of(new int[]{1, 2}).add(Tensor.of(new float[]{0.5f, 0.5f}));
        assertEquals(DType.F32, r.dtype());
        assertArrayEquals(new float[]{1.5f, 2.5f}, r.toFloatArray());
        assertEquals(DType.I64, Tensor.of(new long[]{1}).mul(2).dtype());
        assertEquals(DType.F32, Tensor.of(new long[]{1}).mul(2.5).dtype());
        assertEquals(DType.F32, Tensor.of(new long[]{3}).div(2).dtype());          // true division
        assertEquals(1.5f, Tensor.of(new long[]{3}).div(2).item());
        assertEquals(DType.F64, Tensor.of(new float[]{1}).add(Tensor.of(new double[]{1})).dtype());
        assertEquals(DType.I64, Tensor.of(new boolean[]{true, true}).sum().dtype());
        assertEquals(2, Tensor.of(new boolean[]{true, true}).sum().itemLong());
    }

    @Test void elementwiseMath() {
        Tensor x = Tensor.of(new float[]{-4, 1, 9});
        assertArrayEquals(new float[]{4, 1, 9}, x.abs().toFloatArray());
        assertArrayEquals(new float[]{2, 1, 3}, x.abs().sqrt().toFloatArray(), 1e-6f);
        assertArrayEquals(new float[]{0, 1, 9}, x.relu().toFloatArray());
        assertArrayEquals(new float[]{4, -1, -9}, x.neg().toFloatArray());
        assertArrayEquals(new float[]{(float) Math.exp(1)}, Tensor.of(new float[]{1}).exp().toFloatArray(), 1e-6f);
        assertArrayEquals(new float[]{0, 1}, Tensor.of(new float[]{1, (float) Math.E}).log().toFloatArray(), 1e-6f);
        assertArrayEquals(new float[]{0.5f}, Tensor.of(new float[]{0}).sigmoid().toFloatArray(), 1e-7f);
        assertArrayEquals(new float[]{-2, 1, 2}, x.clamp(-2, 2).toFloatArray());
        assertArrayEquals(new float[]{5, 0, -8}, x.rsub(1).toFloatArray());
    }

    @Test void reductionsOverDimsWithKeepdim() {
        Tensor t = Tensor.of(new float[][]{{1, 5, 3}, {4, 2, 6}});
        assertEquals(21, t.sum().item());
        assertArrayEquals(new float[]{5, 7, 9}, t.sum(0).toFloatArray());
        assertArrayEquals(new int[]{2, 1}, t.sum(1, true).shape());
        assertArrayEquals(new float[]{3, 4}, t.mean(1).toFloatArray());
        assertEquals(3.5f, t.mean().item());
        assertArrayEquals(new float[]{5, 6}, t.max(1).toFloatArray());
        assertEquals(6, t.max().item());
        assertArrayEquals(new long[]{1, 2}, t.argmax(1).toLongArray());
        assertArrayEquals(new long[]{1, 0, 1}, t.argmax(0).toLongArray());
        assertArrayEquals(new int[]{1, 3}, t.argmax(0, true).shape());
        assertEquals(5, t.argmax().itemLong());
        assertArrayEquals(new float[]{1, 2}, t.min(1).toFloatArray());
        float[] sm = t.softmax(1).sum(1).toFloatArray();
        assertArrayEquals(new float[]{1, 1}, sm, 1e-6f);
        // log-softmax of [1,5,3]: x - log(e^1 + e^5 + e^3)
        double lse = Math.log(Math.exp(1) + Math.exp(5) + Math.exp(3));
        assertEquals(1 - lse, t.logSoftmax(1).get("0, 0").item(), 1e-6);
    }

    @Test void matmulCases() {
        Tensor a = Tensor.of(new float[][]{{1, 2}, {3, 4}}), v = Tensor.of(new float[]{1, 1});
        assertArrayEquals(new float[]{7, 10, 15, 22}, a.matmul(a).toFloatArray());
        assertArrayEquals(new float[]{3, 7}, a.matmul(v).toFloatArray());           // [2,2] @ [2] -> [2]
        assertArrayEquals(new float[]{4, 6}, v.matmul(a).toFloatArray());           // [2] @ [2,2] -> [2]
        assertEquals(2, v.matmul(v).item());                                         // dot
        assertEquals(0, v.matmul(v).dim());
        Tensor batch = Tensor.stack(java.util.List.of(a, a.mul(2)), 0);               // [2,2,2]
        assertArrayEquals(new int[]{2, 2, 2}, batch.matmul(a).shape());
        assertArrayEquals(new float[]{7, 10, 15, 22, 14, 20, 30, 44}, batch.matmul(a).toFloatArray());
    }

    @Test void layoutOps() {
        Tensor t = Tensor.arange(6).view(2, 3);
        assertArrayEquals(new int[]{3, 2}, t.view(-1, 2).shape());
        assertArrayEquals(new long[]{0, 3, 1, 4, 2, 5}, t.t().toLongArray());
        assertArrayEquals(new long[]{0, 3, 1, 4, 2, 5}, t.permute(1, 0).toLongArray());
        assertArrayEquals(new int[]{2, 1, 3}, t.unsqueeze(1).shape());
        assertArrayEquals(new int[]{2, 3}, t.unsqueeze(1).squeeze().shape());
        assertArrayEquals(new int[]{6}, t.flatten().shape());
        assertArrayEquals(new long[]{0, 1, 2, 0, 1, 2}, Tensor.arange(3).expand(2, 3).toLongArray());
        var e = assertThrows(IrError.class, () -> t.view(4, 2));
        assertTrue(e.getMessage().contains("'view' shape [4, 2] is invalid for a tensor of shape [2,3] (6 elements)"), e.getMessage());
    }

    @Test void slicingAndIndexing() {
        Tensor t = Tensor.arange(12).view(3, 4);
        assertArrayEquals(new long[]{1, 2, 5, 6, 9, 10}, t.slice(1, 1, 3).toLongArray());     // t[:, 1:3]
        assertArrayEquals(new long[]{1, 2, 5, 6, 9, 10}, t.get(":, 1:3").toLongArray());
        assertArrayEquals(new long[]{4, 5, 6, 7}, t.get("1").toLongArray());
        assertArrayEquals(new long[]{3, 7, 11}, t.get("..., -1").toLongArray());
        assertArrayEquals(new long[]{0, 2, 8, 10}, t.get("::2, ::2").toLongArray());
        assertEquals(6, t.get(1, 2).itemLong());
        assertArrayEquals(new long[]{8, 9, 10, 11}, t.slice(0, -1, 100).toLongArray());       // clamped, negative
        assertArrayEquals(new int[]{1, 3, 4}, t.get("None, :").shape());
        assertThrows(KilnException.class, () -> t.get("1, 2, 3"));
        assertThrows(KilnException.class, () -> t.get("a"));
        assertThrows(IrError.class, () -> t.select(0, 3));
    }

    @Test void comparisonsAndWhere() {
        Tensor x = Tensor.of(new float[]{-1, 0, 2});
        assertArrayEquals(new boolean[]{true, false, false}, x.lt(0).toBooleanArray());
        assertArrayEquals(new boolean[]{false, true, true}, x.ge(0).toBooleanArray());
        assertArrayEquals(new boolean[]{false, true, false}, x.eq(0).toBooleanArray());
        assertArrayEquals(new boolean[]{true, false, true}, x.ne(Tensor.zeros(3)).toBooleanArray());
        assertArrayEquals(new float[]{1, 0, 2}, Tensor.where(x.lt(0), x.neg(), x).toFloatArray());
        assertArrayEquals(new float[]{9, 0, 2}, Tensor.where(x.lt(0), 9, x).toFloatArray());
        var e = assertThrows(IrError.class, () -> Tensor.where(x, x, x));
        assertTrue(e.getMessage().contains("'where' condition has dtype f32, expected bool"), e.getMessage());
    }

    // ---- autograd ---------------------------------------------------------------------------

    @Test void gradAccumulatesAndZeroGradClears() {
        Tensor x = Tensor.of(new float[]{1, 2}).requiresGrad(true);
        x.mul(x).sum().backward();                  // 2x
        x.mul(3).sum().backward();                  // + 3
        assertArrayEquals(new float[]{5, 7}, x.grad().toFloatArray());
        x.zeroGrad();
        assertNull(x.grad());
        x.sum().backward();
        assertArrayEquals(new float[]{1, 1}, x.grad().toFloatArray());
    }

    @Test void noGradAndDetachStopGradients() {
        Tensor w = Tensor.scalar(3f).requiresGrad(true);
        Tensor c;
        try (var _ = Kiln.noGrad()) {
            c = w.mul(2);
            assertFalse(c.requiresGrad());
        }
        assertTrue(w.mul(2).requiresGrad());
        Tensor y = w.mul(c).add(w.mul(w).detach());  // d/dw = c = 6
        y.backward();
        assertEquals(6f, w.grad().item(), 1e-6);
        assertFalse(w.mul(w).detach().requiresGrad());
    }

    @Test void backwardWithGradientAndErrors() {
        Tensor x = Tensor.of(new float[]{1, 2, 3}).requiresGrad(true);
        Tensor y = x.mul(x);
        var e = assertThrows(KilnException.class, () -> y.backward());
        assertTrue(e.getMessage().startsWith("TensorTest.java:"), e.getMessage());
        assertTrue(e.getMessage().contains("shape [3]"), e.getMessage());
        y.backward(Tensor.of(new float[]{1, 10, 100}));   // vjp: 2x * v
        assertArrayEquals(new float[]{2, 40, 600}, x.grad().toFloatArray());
        assertThrows(KilnException.class, () -> Tensor.scalar(1f).mul(2).backward());
    }

    /// The gradient of a composite of many ops against central differences, in f64.
    @Test void gradientMatchesFiniteDifferences() {
        Function<Tensor, Tensor> f = x -> {
            Tensor a = x.view(2, 3).matmul(Tensor.of(new double[][]{{1, -2}, {0.5, 1}, {2, 0.3}}));   // [2,2]
            Tensor b = a.tanh().mul(a.sigmoid()).add(a.abs().add(1).log()).softmax(1);
            return Tensor.where(b.gt(0.5), b.pow(2), b.sqrt()).sum().add(x.max()).add(x.logSumExp(0, false));
        };
        double[] x0 = {0.3, -1.2, 0.7, 2.0, -0.4, 1.1};
        Tensor x = Tensor.of(x0).requiresGrad(true);
        f.apply(x).backward();
        double[] g = x.grad().toDoubleArray();
        for (int i = 0; i < x0.length; i++) {
            double h = 1e-6;
            double[] p = x0.clone(), m = x0.clone();
            p[i] += h;
            m[i] -= h;
            double fd = (f.apply(Tensor.of(p)).itemDouble() - f.apply(Tensor.of(m)).itemDouble()) / (2 * h);
            assertEquals(fd, g[i], 1e-6, "d/dx" + i);
        }
    }

    // ---- errors at the user's line ----------------------------------------------------------

    @Test void matmulShapeErrorNamesBothShapes() {
        Tensor a = Tensor.zeros(32, 784), b = Tensor.zeros(128, 10);
        IrError e = assertThrows(IrError.class, () -> a.matmul(b));
        assertTrue(e.getMessage().startsWith("TensorTest.java:"), e.getMessage());
        assertTrue(e.getMessage().endsWith("error: 'matmul' operand #1 has shape [128,10], incompatible with operand #0 [32,784]"),
                e.getMessage());
    }

    @Test void broadcastErrorNamesOpAndShapes() {
        IrError e = assertThrows(IrError.class, () -> Tensor.zeros(2, 3).add(Tensor.zeros(4)));
        assertTrue(e.getMessage().matches("TensorTest\\.java:\\d+: error: 'add' operand #1 has shape \\[4\\], incompatible with operand #0 \\[2,3\\].*"),
                e.getMessage());
        IrError d = assertThrows(IrError.class, () -> Tensor.of(new boolean[]{true}).sub(Tensor.of(new boolean[]{true})));
        assertTrue(d.getMessage().contains("'sub' is not defined on bool tensors"), d.getMessage());
    }

    @Test void itemNeedsOneElement() {
        var e = assertThrows(KilnException.class, () -> Tensor.zeros(2, 3).item());
        assertTrue(e.getMessage().contains("the tensor has 6 elements [2,3]"), e.getMessage());
    }
}
