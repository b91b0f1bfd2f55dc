package dev.kiln.nn;

import dev.kiln.Kiln;
import dev.kiln.Tensor;
import dev.kiln.TrainStep;
import dev.kiln.ir.IrError;
import dev.kiln.optim.SGD;
import org.junit.jupiter.api.Test;

import java.util.function.DoubleBinaryOperator;

import static org.junit.jupiter.api.Assertions.*;

class LossTest {
    static final double[] X = {-3, -0.5, 0, 0.25, 2, 7}, Y = {0, 1, 0.3, 1, 0, 1};
    static final double[] P = {1e-3, 0.2, 0.5, 0.6, 0.999, 0.05};

    static double sigmoid(double x) { return 1 / (1 + Math.exp(-x)); }

    /// `loss` on `in`/`Y` as a [2,3] tensor, for each reduction, against `perElement` summed or averaged here.
    static void matches(Module mean, Module sum, Module none, double[] in, DoubleBinaryOperator perElement, double tol) {
        Tensor x = Tensor.of(in).view(2, 3), y = Tensor.of(Y).view(2, 3);
        double[] want = new double[in.length];
        double total = 0;
        for (int i = 0; i < in.length; i++) total += want[i] = perElement.applyAsDouble(in[i], Y[i]);
        assertArrayEquals(want, none.forward(x, y).toDoubleArray(), tol);
        assertArrayEquals(new int[]{2, 3}, none.forward(x, y).shape());
        assertEquals(total, sum.forward(x, y).itemDouble(), tol);
        assertEquals(total / in.length, mean.forward(x, y).itemDouble(), tol);
    }

    @Test void l1LossIsTheAbsoluteDifference() {
        matches(new L1Loss(), new L1Loss(Reduction.SUM), new L1Loss(Reduction.NONE), X, (x, y) -> Math.abs(x - y), 1e-15);
    }

    @Test void bceLossIsTheCrossEntropyOfProbabilities() {
        matches(new BCELoss(), new BCELoss(Reduction.SUM), new BCELoss(Reduction.NONE), P,
                (p, y) -> -(y * Math.log(p) + (1 - y) * Math.log(1 - p)), 1e-14);
        // probabilities of exactly 0 and 1: each log is clamped at -100, as in PyTorch
        Tensor l = new BCELoss(Reduction.NONE).forward(Tensor.of(new double[]{0, 1, 0, 1}), Tensor.of(new double[]{1, 0, 0.5, 0.5}));
        assertArrayEquals(new double[]{100, 100, 50, 50}, l.toDoubleArray(), 1e-12);
        Tensor w = Tensor.of(new double[]{2, 0.5, 1});
        double[] got = new BCELoss(w, Reduction.NONE).forward(Tensor.of(P).view(2, 3), Tensor.of(Y).view(2, 3)).toDoubleArray();
        for (int i = 0; i < 6; i++)
            assertEquals(-new double[]{2, 0.5, 1}[i % 3] * (Y[i] * Math.log(P[i]) + (1 - Y[i]) * Math.log(1 - P[i])), got[i], 1e-14);
    }

    @Test void bceWithLogitsIsSigmoidThenCrossEntropy() {
        matches(new BCEWithLogitsLoss(), new BCEWithLogitsLoss(Reduction.SUM), new BCEWithLogitsLoss(Reduction.NONE), X,
                (x, y) -> -(y * Math.log(sigmoid(x)) + (1 - y) * Math.log(1 - sigmoid(x))), 1e-14);
        Tensor w = Tensor.of(new double[]{2, 0.5, 1}), pw = Tensor.of(new double[]{3, 1, 0.25});
        double[] got = new BCEWithLogitsLoss(w, Reduction.NONE, pw).forward(Tensor.of(X).view(2, 3), Tensor.of(Y).view(2, 3)).toDoubleArray();
        for (int i = 0; i < 6; i++) {
            double s = sigmoid(X[i]), p = new double[]{3, 1, 0.25}[i % 3], wi = new double[]{2, 0.5, 1}[i % 3];
            assertEquals(-wi * (p * Y[i] * Math.log(s) + (1 - Y[i]) * Math.log(1 - s)), got[i], 1e-14, "element " + i);
        }
    }

    /// Logits far beyond where `sigmoid` rounds to 0 or 1, in f32: the stable form gives the
    /// exact loss (`|x|` for a wrong sign, `log(1 + exp(-|x|))` for the right one).
    @Test void bceWithLogitsIsStableForExtremeLogits() {
        float[] x = {-200, 200, -200, 200, 30, -30};
        float[] y = {1, 0, 0, 1, 1, 0};
        Tensor xt = Tensor.of(x).requiresGrad(true);
        Tensor l = new BCEWithLogitsLoss(Reduction.NONE).forward(xt, Tensor.of(y));
        double tiny = Math.log1p(Math.exp(-30));
        assertArrayEquals(new float[]{200, 200, 0, 0, (float) tiny, (float) tiny}, l.toFloatArray(), 1e-6f);
        assertEquals((float) tiny, l.toFloatArray()[4], 1e-6f * (float) tiny);      // log1p keeps the 9.4e-14
        l.sum().backward();
        float[] g = xt.grad().toFloatArray();                                           // d/dx = sigmoid(x) - y
        for (int i = 0; i < x.length; i++) assertEquals(sigmoid(x[i]) - y[i], g[i], 1e-6, "element " + i);
    }

    @Test void gradientsMatchFiniteDifferences() {
        Tensor y = Tensor.of(Y).view(2, 3), pw = Tensor.of(new double[]{3, 1, 0.25});
        int[] shape = {2, 3};
        GradCheck.check(x -> Functional.l1Loss(x, y, Reduction.MEAN), new double[]{-3, -0.5, 0.1, 0.25, 2, 7}, shape, 1e-6);
        GradCheck.check(x -> Functional.binaryCrossEntropy(x, y, null, Reduction.SUM), P, shape, 1e-5);
        GradCheck.check(x -> Functional.binaryCrossEntropyWithLogits(x, y, null, pw, Reduction.MEAN), X, shape, 1e-6);
        GradCheck.check(x -> Functional.binaryCrossEntropyWithLogits(x, y, null, null, Reduction.NONE), X, shape, 1e-6);
    }

    @Test void compiledStepMatchesEager() {
        for (Module loss : new Module[]{new BCEWithLogitsLoss(), new L1Loss()}) {
            Kiln.manualSeed(6);
            Linear eager = new Linear(3, 2);
            Kiln.manualSeed(6);
            Linear compiled = new Linear(3, 2);
            SGD oe = new SGD(eager.parameters(), 0.1), oc = new SGD(compiled.parameters(), 0.1);
            Tensor x = Tensor.randn(4, 3), y = Tensor.rand(4, 2);
            TrainStep step = Kiln.compileTrainStep(compiled, loss, oc, x, y);
            for (int i = 0; i < 3; i++) {
                oe.zeroGrad();
                Tensor le = loss.forward(eager.forward(x), y);
                le.backward();
                oe.step();
                assertEquals(le.item(), step.step(x, y).item(), 1e-6, loss + " step " + i);
            }
            assertArrayEquals(eager.weight.toFloatArray(), compiled.weight.toFloatArray(), 1e-6f);
        }
    }

    @Test void wrongTargetShapeNamesBothShapes() {
        IrError e = assertThrows(IrError.class, () -> new BCEWithLogitsLoss().forward(Tensor.zeros(4, 2), Tensor.zeros(4)));
        assertTrue(e.getMessage().matches("LossTest\\.java:\\d+: error: 'binary_cross_entropy_with_logits' target has shape \\[4\\], "
                + "incompatible with input \\[4,2\\] \\(they must be equal\\)"), e.getMessage());
        IrError d = assertThrows(IrError.class, () -> new L1Loss().forward(Tensor.zeros(3), Tensor.of(new long[]{1, 2, 3})));
        assertTrue(d.getMessage().contains("'l1_loss' target has dtype i64, expected a float dtype"), d.getMessage());
    }
}
