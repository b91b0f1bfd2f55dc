package dev.kiln.nn;

import dev.kiln.Tensor;

/// Loss of log-probabilities [N, C] against integer class indices [N]. Mean over elements by default, as in PyTorch.
public class NLLLoss extends Module {
    public final Reduction reduction;

    public NLLLoss() { this(Reduction.MEAN); }

    public NLLLoss(Reduction reduction) { this.reduction = reduction; }

    @Override public Tensor forward(Tensor input, Tensor target) {
        try (var _ = scope()) {
            return Functional.nllLoss(input, target, reduction);
        }
    }
}
