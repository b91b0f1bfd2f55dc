package dev.kiln.nn;

import dev.kiln.Tensor;

/// `x` where `x > 0`, else `negativeSlope * x` elementwise (PyTorch's `LeakyReLU`, default slope 0.01).
public class LeakyReLU extends Module {
    public final double negativeSlope;

    public LeakyReLU() { this(0.01); }

    public LeakyReLU(double negativeSlope) { this.negativeSlope = negativeSlope; }

    @Override public Tensor forward(Tensor x) {
        try (var _ = scope()) {
            return Functional.leakyRelu(x, negativeSlope);
        }
    }

    @Override protected String extraRepr() { return "negative_slope=" + negativeSlope; }
}
