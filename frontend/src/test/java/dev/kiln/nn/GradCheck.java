package dev.kiln.nn;

import dev.kiln.Tensor;

import java.util.function.Function;

import static org.junit.jupiter.api.Assertions.assertEquals;

/// Gradients against central differences, in f64: `f` maps an f64 tensor of `shape` to a tensor
/// of any shape; the checked scalar is `sum(f(x) * r)` for fixed pseudo-random weights `r`, so
/// every output element contributes with its own weight.
final class GradCheck {
    private GradCheck() {}

    static void check(Function<Tensor, Tensor> f, double[] x0, int[] shape, double tol) {
        Tensor probe = f.apply(Tensor.of(x0).view(shape));
        double[] r = new double[(int) probe.numel()];
        java.util.Random rnd = new java.util.Random(5);
        for (int i = 0; i < r.length; i++) r[i] = rnd.nextDouble() * 2 - 1;
        Tensor weights = Tensor.of(r).view(probe.shape());
        Function<double[], Tensor> scalar = v -> f.apply(Tensor.of(v).view(shape)).mul(weights).sum();
        Tensor x = Tensor.of(x0.clone()).requiresGrad(true);
        f.apply(x.view(shape)).mul(weights).sum().backward();
        double[] g = x.grad().toDoubleArray();
        double h = 1e-6;
        for (int i = 0; i < x0.length; i++) {
            double[] p = x0.clone(), m = x0.clone();
            p[i] += h;
            m[i] -= h;
            double fd = (scalar.apply(p).itemDouble() - scalar.apply(m).itemDouble()) / (2 * h);
            assertEquals(fd, g[i], tol * Math.max(1, Math.abs(fd)), "d/dx" + i);
        }
    }
}
