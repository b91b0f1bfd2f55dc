package dev.kiln.optim;

import dev.kiln.Kiln;
import dev.kiln.KilnException;
import dev.kiln.Tensor;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

class OptimTest {
    /// loss = 0.5 * sum(c * p^2), so grad = c * p: gradients change every step.
    static Tensor loss(Tensor p, double[] c) { return p.mul(p).mul(Tensor.of(c).to(dev.kiln.runtime.DType.F32)).sum().mul(0.5); }

    @Test void adamFirstStepsMatchPyTorchFormula() {
        double[] c = {1, -3, 0.5}, p = {1, -2, 0.1};
        double lr = 0.1, b1 = 0.9, b2 = 0.999, eps = 1e-8;
        Tensor w = Tensor.of(new float[]{1, -2, 0.1f}).requiresGrad(true);
        Adam opt = new Adam(List.of(w), lr);
        double[] m = new double[3], v = new double[3];
        for (int t = 1; t <= 4; t++) {
            opt.zeroGrad();
            loss(w, c).backward();
            opt.step();
            for (int i = 0; i < 3; i++) {                 // torch.optim.Adam, single-tensor path
                double g = c[i] * p[i];
                m[i] = b1 * m[i] + (1 - b1) * g;
                v[i] = b2 * v[i] + (1 - b2) * g * g;
                double bc1 = 1 - Math.pow(b1, t), bc2 = 1 - Math.pow(b2, t);
                double denom = Math.sqrt(v[i]) / Math.sqrt(bc2) + eps;
                p[i] -= lr / bc1 * m[i] / denom;
            }
            float[] got = w.toFloatArray();
            for (int i = 0; i < 3; i++) assertEquals(p[i], got[i], 2e-6, "step " + t + " element " + i);
        }
        assertEquals(4, opt.stepCount());
        assertArrayEquals(new int[]{3}, opt.state().get("0.exp_avg").shape());
    }

    @Test void sgdMomentumAndWeightDecayMatchPyTorchRule() {
        double[] c = {2, -1}, p = {1, 3};
        double lr = 0.05, mom = 0.9, wd = 0.01;
        Tensor w = Tensor.of(new float[]{1, 3}).requiresGrad(true);
        SGD opt = new SGD(List.of(w), lr, mom, wd);
        double[] buf = new double[2];
        for (int t = 1; t <= 3; t++) {
            opt.zeroGrad();
            loss(w, c).backward();
            opt.step();
            for (int i = 0; i < 2; i++) {
                double d = c[i] * p[i] + wd * p[i];
                buf[i] = t == 1 ? d : mom * buf[i] + d;       // PyTorch: buf = d on the first step
                p[i] -= lr * buf[i];
            }
            float[] got = w.toFloatArray();
            for (int i = 0; i < 2; i++) assertEquals(p[i], got[i], 1e-6, "step " + t);
        }
    }

    /// Runs `steps` eager steps of `opt` on `w` with loss(w, c) and compares each step's
    /// parameters with `reference`, which advances `p` (doubles) in place from the gradient `c*p`.
    static void matchesReference(Optimizer opt, Tensor w, double[] c, double[] p, int steps, double tol,
                                 java.util.function.BiConsumer<Integer, double[]> reference) {
        for (int t = 1; t <= steps; t++) {
            opt.zeroGrad();
            loss(w, c).backward();
            opt.step();
            double[] g = new double[p.length];
            for (int i = 0; i < p.length; i++) g[i] = c[i] * p[i];
            reference.accept(t, g);
            float[] got = w.toFloatArray();
            for (int i = 0; i < p.length; i++) assertEquals(p[i], got[i], tol, "step " + t + " element " + i);
        }
    }

    @Test void sgdNesterovMatchesPyTorchRule() {
        double[] c = {2, -1, 0.5}, p = {1, 3, -2};
        double lr = 0.05, mom = 0.8, wd = 0.1;
        Tensor w = Tensor.of(new float[]{1, 3, -2}).requiresGrad(true);
        double[] buf = new double[3];
        matchesReference(new SGD(List.of(w), lr, mom, wd, true), w, c, p, 3, 1e-6, (t, g) -> {
            for (int i = 0; i < p.length; i++) {
                double d = g[i] + wd * p[i];
                buf[i] = t == 1 ? d : mom * buf[i] + d;
                p[i] -= lr * (d + mom * buf[i]);
            }
        });
    }

    @Test void adamWDecouplesWeightDecay() {
        double[] c = {1, -3, 0.5}, p = {1, -2, 0.1};
        double lr = 0.1, b1 = 0.9, b2 = 0.999, eps = 1e-8, wd = 0.01;   // PyTorch's AdamW defaults but lr
        Tensor w = Tensor.of(new float[]{1, -2, 0.1f}).requiresGrad(true);
        AdamW opt = new AdamW(List.of(w), lr);
        assertEquals(wd, opt.weightDecay);
        double[] m = new double[3], v = new double[3];
        matchesReference(opt, w, c, p, 3, 2e-6, (t, g) -> {
            for (int i = 0; i < p.length; i++) {                 // torch.optim.AdamW: decay first, gradient unchanged
                p[i] *= 1 - lr * wd;
                m[i] = b1 * m[i] + (1 - b1) * g[i];
                v[i] = b2 * v[i] + (1 - b2) * g[i] * g[i];
                double bc1 = 1 - Math.pow(b1, t), bc2 = 1 - Math.pow(b2, t);
                p[i] -= lr / bc1 * m[i] / (Math.sqrt(v[i]) / Math.sqrt(bc2) + eps);
            }
        });
        assertEquals(0.001, new AdamW(List.of(Tensor.scalar(1f).requiresGrad(true))).getLr());
    }

    @Test void rmspropMatchesPyTorchRule() {
        double[] c = {1, -3, 0.5}, p = {1, -2, 0.1};
        double lr = 0.01, alpha = 0.99, eps = 1e-8;
        Tensor w = Tensor.of(new float[]{1, -2, 0.1f}).requiresGrad(true);
        RMSprop opt = new RMSprop(List.of(w));
        assertEquals(lr, opt.getLr());
        double[] sq = new double[3];
        matchesReference(opt, w, c, p, 3, 1e-6, (t, g) -> {
            for (int i = 0; i < p.length; i++) {
                sq[i] = alpha * sq[i] + (1 - alpha) * g[i] * g[i];
                p[i] -= lr * g[i] / (Math.sqrt(sq[i]) + eps);
            }
        });
    }

    @Test void rmspropCenteredWithMomentumAndWeightDecay() {
        double[] c = {1, -3, 0.5}, p = {1, -2, 0.1};
        double lr = 0.02, alpha = 0.9, eps = 1e-6, wd = 0.05, mom = 0.7;
        Tensor w = Tensor.of(new float[]{1, -2, 0.1f}).requiresGrad(true);
        double[] sq = new double[3], ga = new double[3], buf = new double[3];
        matchesReference(new RMSprop(List.of(w), lr, alpha, eps, wd, mom, true), w, c, p, 3, 1e-6, (t, g) -> {
            for (int i = 0; i < p.length; i++) {
                double d = g[i] + wd * p[i];
                sq[i] = alpha * sq[i] + (1 - alpha) * d * d;
                ga[i] = alpha * ga[i] + (1 - alpha) * d;
                buf[i] = mom * buf[i] + d / (Math.sqrt(sq[i] - ga[i] * ga[i]) + eps);
                p[i] -= lr * buf[i];
            }
        });
    }

    @Test void setLrChangesTheNextStep() {
        Tensor w = Tensor.of(new float[]{4}).requiresGrad(true);
        SGD opt = new SGD(List.of(w), 0.5);
        w.mul(w).sum().backward();          // grad 8
        opt.setLr(0.25);
        opt.step();
        assertEquals(4 - 0.25 * 8, w.item(), 1e-6);
        assertEquals(0.25, opt.getLr());
        var e = assertThrows(KilnException.class, () -> opt.setLr(-1));
        assertTrue(e.getMessage().contains("learning rate must be a finite number >= 0, got -1.0"), e.getMessage());
    }

    @Test void parametersWithoutGradAreSkipped() {
        Tensor a = Tensor.scalar(1f).requiresGrad(true), b = Tensor.scalar(5f).requiresGrad(true);
        SGD opt = new SGD(List.of(a, b), 0.5);
        a.mul(2).backward();
        opt.step();
        assertEquals(0f, a.item());
        assertEquals(5f, b.item());
    }

    @Test void rejectsBadArguments() {
        assertThrows(KilnException.class, () -> new SGD(List.of(), 0.1));
        assertThrows(KilnException.class, () -> new Adam(List.of(Tensor.scalar(1f).requiresGrad(true)), 0.1, 1.0, 0.9, 1e-8, 0));
        assertThrows(KilnException.class, () -> new SGD(List.of(Tensor.scalar(1f)), 0.1));   // does not require grad
    }

    @Test void eagerTrainingCompilesEachDistinctGraphOnce() {
        Kiln.manualSeed(9);
        var net = new dev.kiln.nn.Sequential(new dev.kiln.nn.Linear(3, 5), new dev.kiln.nn.ReLU(), new dev.kiln.nn.Linear(5, 2));
        var opt = new Adam(net.parameters(), 1e-2);
        var crit = new dev.kiln.nn.CrossEntropyLoss();
        Tensor x = Tensor.randn(4, 3), y = Tensor.of(new long[]{0, 1, 1, 0});
        Kiln.clearCache();
        float first = 0, last = 0;
        for (int step = 0; step < 100; step++) {
            opt.zeroGrad();
            Tensor l = crit.forward(net.forward(x), y);
            l.backward();
            opt.step();
            if (step == 0) first = l.item();
            last = l.item();
        }
        // One joint forward+backward graph and one optimizer-update graph, each compiled once.
        assertEquals(2, Kiln.compileCount());
        assertEquals(198, Kiln.cacheHits());
        assertTrue(last < first);
    }
}
