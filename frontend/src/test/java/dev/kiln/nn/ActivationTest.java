package dev.kiln.nn;

import dev.kiln.CompiledModel;
import dev.kiln.Kiln;
import dev.kiln.KilnException;
import dev.kiln.Tensor;
import dev.kiln.ir.IrError;
import org.junit.jupiter.api.Test;

import java.util.function.DoubleUnaryOperator;

import static org.junit.jupiter.api.Assertions.*;

class ActivationTest {
    static final double[] XS = {-30, -9, -4.5, -2, -1, -0.3, -1e-4, 0, 1e-4, 0.3, 1, 2, 4.5, 9, 30};

    /// `erfc(z)` to about 1e-15 relative: the Taylor series of erf below 2 (largest term e^4, so
    /// little cancellation), the continued fraction `exp(-z^2)/sqrt(pi) / (z + 1/2/(z + 1/(z + 3/2/(z + ...))))` above.
    static double erfc(double z) {
        if (z < 0) return 2 - erfc(-z);
        if (z < 2) {
            double sum = 0, term = z;                 // term = (-1)^n z^(2n+1) / n!
            for (int n = 0; n < 200; n++) {
                sum += term / (2 * n + 1);
                term *= -z * z / (n + 1);
            }
            return 1 - 2 / Math.sqrt(Math.PI) * sum;
        }
        double f = z;
        for (int n = 400; n >= 1; n--) f = z + (n / 2.0) / f;
        return Math.exp(-z * z) / Math.sqrt(Math.PI) / f;
    }

    static double phi(double x) { return erfc(-x / Math.sqrt(2)) / 2; }

    @Test void erfReferenceIsRight() {                  // published values
        assertEquals(0.157299207050285130658, erfc(1), 1e-16);
        assertEquals(0.520499877813046537682, 1 - erfc(0.5), 1e-16);
        assertEquals(4.677734981047265838e-3, erfc(2), 1e-18);
        assertEquals(2.209049699858544137e-5, erfc(3), 1e-19);
    }

    /// The composed erf and the exact GELU's Phi against the reference on a dense grid, in f64:
    /// the bounds that `Functional.erf` and `Functional.gelu` state.
    @Test void composedErfIsWithinItsStatedError() {
        int n = 4001;
        double[] x = new double[n];
        for (int i = 0; i < n; i++) x[i] = -10 + 20.0 * i / (n - 1);
        double[] erf = Functional.erf(Tensor.of(x)).toDoubleArray(), gelu = Functional.gelu(Tensor.of(x), "none").toDoubleArray();
        double maxAbs = 0, maxRel = 0;
        for (int i = 0; i < n; i++) {
            maxAbs = Math.max(maxAbs, Math.abs(erf[i] - (1 - erfc(x[i]))));
            double want = x[i] * phi(x[i]);
            if (want != 0) maxRel = Math.max(maxRel, Math.abs(gelu[i] - want) / Math.abs(want));
        }
        assertTrue(maxAbs < 1.2e-7, "erf max abs error " + maxAbs);
        assertTrue(maxRel < 1.2e-7, "gelu max rel error " + maxRel);
    }

    static void matches(Module m, DoubleUnaryOperator want, double relTol) { matches(m, want, relTol, 3e-7, 0); }

    /// `m` on `XS` in f64 and f32 against `want`, within `relTol` (f64) and `f32Tol` (f32)
    /// relative, plus `f32PerX * |x|` absolute in f32 (for a formula that rounds `1 + t` and scales it by x).
    static void matches(Module m, DoubleUnaryOperator want, double relTol, double f32Tol, double f32PerX) {
        for (var dtype : new dev.kiln.runtime.DType[]{dev.kiln.runtime.DType.F64, dev.kiln.runtime.DType.F32}) {
            double[] got = m.forward(Tensor.of(XS).to(dtype)).toDoubleArray();
            double tol = dtype == dev.kiln.runtime.DType.F32 ? Math.max(relTol, f32Tol) : relTol;
            for (int i = 0; i < XS.length; i++) {
                double w = want.applyAsDouble(XS[i]);
                double abs = dtype == dev.kiln.runtime.DType.F32 ? f32PerX * Math.abs(XS[i]) : 0;
                assertEquals(w, got[i], tol * Math.max(Math.abs(w), 1e-30) + abs, m + " " + dtype + " at " + XS[i]);
            }
        }
    }

    @Test void valuesMatchTheirFormulas() {
        matches(new LeakyReLU(), x -> x > 0 ? x : 0.01 * x, 1e-15);
        matches(new LeakyReLU(0.2), x -> x > 0 ? x : 0.2 * x, 1e-15);
        matches(new ELU(), x -> x > 0 ? x : Math.expm1(x), 1e-14);
        matches(new ELU(0.5), x -> x > 0 ? x : 0.5 * Math.expm1(x), 1e-14);
        matches(new SiLU(), x -> x / (1 + Math.exp(-x)), 1e-15);
        matches(new GELU(), x -> x * phi(x), 1.2e-7, 30 * 30 * 6e-8 + 3e-7, 0);   // f32: the rounding of -x^2/2
        matches(new GELU("tanh"), x -> 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x * x * x))), 1e-14, 3e-7,
                1.2e-7);                                          // f32: 1 + tanh cancels in the lower tail, as in PyTorch
        matches(new Softplus(), x -> x > 20 ? x : Math.log1p(Math.exp(x)), 1e-14);
        matches(new Softplus(2, 10), x -> 2 * x > 10 ? x : Math.log1p(Math.exp(2 * x)) / 2, 1e-14);
        matches(new Identity(), x -> x, 0);
    }

    @Test void gradientsMatchFiniteDifferences() {
        double[] x0 = {-5, -1.7, -0.6, -0.05, 0.05, 0.4, 1.3, 3.2};   // away from the kinks at 0 and the softplus threshold
        int[] shape = {2, 4};
        GradCheck.check(x -> Functional.leakyRelu(x, 0.1), x0, shape, 1e-6);
        GradCheck.check(x -> Functional.elu(x, 1.5), x0, shape, 1e-6);
        GradCheck.check(Functional::silu, x0, shape, 1e-6);
        GradCheck.check(x -> Functional.gelu(x, "tanh"), x0, shape, 1e-6);
        GradCheck.check(x -> Functional.gelu(x, "none"), x0, shape, 1e-6);
        GradCheck.check(x -> Functional.softplus(x, 1, 20), x0, shape, 1e-6);
        GradCheck.check(x -> Functional.softplus(x, 3, 2), x0, shape, 1e-6);
    }

    /// The exact GELU's gradient (of the composed erf) against the true derivative `Phi(x) + x phi(x)`.
    @Test void exactGeluGradientIsCloseToTheTrueDerivative() {
        double[] x0 = {-7, -3, -1, -0.2, 0.2, 1, 3, 7};
        Tensor x = Tensor.of(x0).requiresGrad(true);
        Functional.gelu(x, "none").sum().backward();
        double[] g = x.grad().toDoubleArray();
        for (int i = 0; i < x0.length; i++) {
            double want = phi(x0[i]) + x0[i] * Math.exp(-x0[i] * x0[i] / 2) / Math.sqrt(2 * Math.PI);
            assertEquals(want, g[i], 1e-6, "at " + x0[i]);
        }
    }

    @Test void gradientsStayFiniteForExtremeInputs() {
        Tensor x = Tensor.of(new float[]{-1000, -100, 100, 1000}).requiresGrad(true);
        Functional.silu(x).add(x.sigmoid()).add(Functional.elu(x, 1)).add(Functional.softplus(x, 1, 20)).add(Functional.gelu(x, "none")).sum().backward();
        for (float v : x.grad().toFloatArray()) assertTrue(Float.isFinite(v), java.util.Arrays.toString(x.grad().toFloatArray()));
    }

    @Test void compiledMatchesEager() {
        Kiln.manualSeed(11);
        Module m = new Sequential(new Linear(3, 8), new GELU(), new Linear(8, 8), new SiLU(), new LeakyReLU(0.1), new ELU(),
                new Softplus(), new GELU("tanh"), new Identity(), new Linear(8, 2));
        Tensor x = Tensor.randn(5, 3).mul(3);
        CompiledModel cm = Kiln.compile(m, x);
        assertArrayEquals(m.forward(x).toFloatArray(), cm.forward(x).toFloatArray(), 1e-5f);
    }

    @Test void printsAndRejectsLikePyTorch() {
        assertEquals("LeakyReLU(negative_slope=0.01)", new LeakyReLU().toString());
        assertEquals("ELU(alpha=1.0)", new ELU().toString());
        assertEquals("GELU(approximate='none')", new GELU().toString());
        assertEquals("Softplus(beta=1.0, threshold=20.0)", new Softplus().toString());
        assertEquals("SiLU()", new SiLU().toString());
        var e = assertThrows(KilnException.class, () -> new GELU("fast"));
        assertTrue(e.getMessage().contains("approximate must be \"none\" or \"tanh\", got \"fast\""), e.getMessage());
        IrError i = assertThrows(IrError.class, () -> new SiLU().forward(Tensor.of(new long[]{1, 2})));
        assertTrue(i.getMessage().matches("ActivationTest\\.java:\\d+: error: 'silu' expects a float tensor, got i64\\[2\\]"), i.getMessage());
    }
}
