package dev.kiln.nn;

import dev.kiln.Tensor;

/// `x` where `x > 0`, else `alpha * (exp(x) - 1)` elementwise (PyTorch's `ELU`, default alpha 1).
public class ELU extends Module {
    public final double alpha;

    public ELU() { this(1.0); }

    public ELU(double alpha) { this.alpha = alpha; }

    @Override public Tensor forward(Tensor x) {
        try (var _ = scope()) {
            return Functional.elu(x, alpha);
        }
    }

    @Override protected String extraRepr() { return "alpha=" + alpha; }
}
