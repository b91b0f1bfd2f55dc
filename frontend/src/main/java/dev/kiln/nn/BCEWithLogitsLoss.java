package dev.kiln.nn;

import dev.kiln.Tensor;

/// A sigmoid and binary cross-entropy in one, on logits (PyTorch's `BCEWithLogitsLoss`), in the
/// numerically stable form `max(x, 0) - x y + log(1 + exp(-|x|))`; mean by default. `posWeight`
/// weights the positive term per class (see `Functional.binaryCrossEntropyWithLogits`).
public class BCEWithLogitsLoss extends Module {
    public final Reduction reduction;
    /// Per-element weights broadcast against the loss, or null.
    public final Tensor weight;
    /// Weights of the positive examples, broadcast along the last dimension, or null.
    public final Tensor posWeight;

    public BCEWithLogitsLoss() { this(null, Reduction.MEAN, null); }

    public BCEWithLogitsLoss(Reduction reduction) { this(null, reduction, null); }

    public BCEWithLogitsLoss(Tensor weight, Reduction reduction, Tensor posWeight) {
        this.weight = weight;
        this.reduction = reduction;
        this.posWeight = posWeight;
    }

    @Override public Tensor forward(Tensor input, Tensor target) {
        try (var _ = scope()) {
            return Functional.binaryCrossEntropyWithLogits(input, target, weight, posWeight, reduction);
        }
    }
}
