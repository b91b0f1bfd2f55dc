package dev.kiln.nn;

import dev.kiln.Tensor;

/// `log(softmax(x))` along `dim`, computed stably.
public class LogSoftmax extends Module {
    public final int dim;

    public LogSoftmax(int dim) { this.dim = dim; }

    @Override public Tensor forward(Tensor x) {
        try (var _ = scope()) {
            return x.logSoftmax(dim);
        }
    }

    @Override protected String extraRepr() { return "dim=" + dim; }
}
