package dev.kiln.nn;

import dev.kiln.KilnException;
import dev.kiln.Tensor;

/// In training mode, zeroes each element with probability `p` and scales the others by
/// `1/(1-p)`; in eval mode, the identity. The mask comes from a `random_uniform` op seeded per
/// call, so compiled models draw a new mask on every run.
public class Dropout extends Module {
    public final double p;

    public Dropout() { this(0.5); }

    public Dropout(double p) {
        if (p < 0 || p > 1) throw new KilnException("Dropout: probability must be in [0, 1], got " + p);
        this.p = p;
    }

    @Override public Tensor forward(Tensor x) {
        try (var _ = scope()) {
            return Functional.dropout(x, p, isTraining());
        }
    }

    @Override protected String extraRepr() { return "p=" + p + ", inplace=False"; }
}
