package dev.kiln.nn;

import dev.kiln.Tensor;

/// Binary cross-entropy of probabilities against targets in [0, 1] (one shape), PyTorch's
/// `BCELoss`: `-w (y log x + (1 - y) log(1 - x))`, logs clamped at -100; mean by default. For
/// logits, `BCEWithLogitsLoss` is the numerically stable choice.
public class BCELoss extends Module {
    public final Reduction reduction;
    /// Per-element weights broadcast against the loss, or null.
    public final Tensor weight;

    public BCELoss() { this(null, Reduction.MEAN); }

    public BCELoss(Reduction reduction) { this(null, reduction); }

    public BCELoss(Tensor weight, Reduction reduction) {
        this.weight = weight;
        this.reduction = reduction;
    }

    @Override public Tensor forward(Tensor input, Tensor target) {
        try (var _ = scope()) {
            return Functional.binaryCrossEntropy(input, target, weight, reduction);
        }
    }
}
