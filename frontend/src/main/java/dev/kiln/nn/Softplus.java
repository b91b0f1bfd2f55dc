package dev.kiln.nn;

import dev.kiln.KilnException;
import dev.kiln.Tensor;

/// `log(1 + exp(beta x)) / beta` elementwise, linear where `beta x > threshold` (PyTorch's
/// `Softplus`, defaults beta 1, threshold 20).
public class Softplus extends Module {
    public final double beta, threshold;

    public Softplus() { this(1, 20); }

    public Softplus(double beta, double threshold) {
        if (!(beta > 0)) throw new KilnException("Softplus: beta must be positive, got " + beta);
        this.beta = beta;
        this.threshold = threshold;
    }

    @Override public Tensor forward(Tensor x) {
        try (var _ = scope()) {
            return Functional.softplus(x, beta, threshold);
        }
    }

    @Override protected String extraRepr() { return "beta=" + beta + ", threshold=" + threshold; }
}
