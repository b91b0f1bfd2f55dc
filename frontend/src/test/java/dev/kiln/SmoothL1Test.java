package dev.kiln;

import dev.kiln.nn.Linear;
import dev.kiln.nn.Module;
import dev.kiln.optim.SGD;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.*;

/// A loss written by the user from tensor ops trains with gradients from the same autodiff.
class SmoothL1Test {
    static class SmoothL1 extends Module {
        final double beta;

        SmoothL1(double beta) { this.beta = beta; }

        @Override public Tensor forward(Tensor input, Tensor target) {
            Tensor diff = input.sub(target).abs();
            return Tensor.where(diff.lt(beta), diff.pow(2).mul(0.5 / beta), diff.sub(0.5 * beta)).mean();
        }
    }

    @Test void userLossGradientMatchesFiniteDifferencesAndTrains() {
        Kiln.manualSeed(11);
        Tensor x = Tensor.randn(16, 3).to(dev.kiln.runtime.DType.F64);
        Tensor trueW = Tensor.of(new double[][]{{2}, {-1}, {0.5}});
        Tensor y = x.matmul(trueW).add(Tensor.randn(16, 1).to(dev.kiln.runtime.DType.F64).mul(0.1));
        SmoothL1 loss = new SmoothL1(0.5);

        double[] w0 = {0.3, 0.2, -0.4};
        Tensor w = Tensor.of(new double[][]{{w0[0]}, {w0[1]}, {w0[2]}}).requiresGrad(true);
        loss.forward(x.matmul(w), y).backward();
        double[] g = w.grad().toDoubleArray();
        for (int i = 0; i < 3; i++) {
            double h = 1e-6;
            double[][] p = {{w0[0]}, {w0[1]}, {w0[2]}}, m = {{w0[0]}, {w0[1]}, {w0[2]}};
            p[i][0] += h;
            m[i][0] -= h;
            double fd = (loss.forward(x.matmul(Tensor.of(p)), y).itemDouble() - loss.forward(x.matmul(Tensor.of(m)), y).itemDouble()) / (2 * h);
            assertEquals(fd, g[i], 1e-7, "d/dw" + i);
        }

        Linear model = new Linear(3, 1);
        SGD opt = new SGD(model.parameters(), 0.1);
        Tensor xf = x.to(dev.kiln.runtime.DType.F32), yf = y.to(dev.kiln.runtime.DType.F32);
        float first = loss.forward(model.forward(xf), yf).item(), last = first;
        for (int i = 0; i < 50; i++) {
            opt.zeroGrad();
            Tensor l = loss.forward(model.forward(xf), yf);
            l.backward();
            opt.step();
            last = l.item();
        }
        assertTrue(last < 0.2 * first, first + " -> " + last);
        assertArrayEquals(new float[]{2, -1, 0.5f}, model.weight.toFloatArray(), 0.3f);
    }
}
