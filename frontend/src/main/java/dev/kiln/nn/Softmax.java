package dev.kiln.nn;

import dev.kiln.Tensor;

/// `exp(x) / sum(exp(x))` along `dim`, computed stably.
public class Softmax extends Module {
    public final int dim;

    public Softmax(int dim) { this.dim = dim; }

    @Override public Tensor forward(Tensor x) {
        try (var _ = scope()) {
            return x.softmax(dim);
        }
    }

    @Override protected String extraRepr() { return "dim=" + dim; }
}
