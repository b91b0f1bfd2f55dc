package dev.kiln.nn;

import dev.kiln.Tensor;

/// Loss of logits [N, C] (or [C]) against integer class indices [N] (or []): log-softmax then negative log-likelihood. Mean over elements by default, as in PyTorch.
public class CrossEntropyLoss extends Module {
    public final Reduction reduction;

    public CrossEntropyLoss() { this(Reduction.MEAN); }

    public CrossEntropyLoss(Reduction reduction) { this.reduction = reduction; }

    @Override public Tensor forward(Tensor input, Tensor target) {
        try (var _ = scope()) {
            return Functional.crossEntropy(input, target, reduction);
        }
    }
}
