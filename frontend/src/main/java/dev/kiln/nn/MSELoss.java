package dev.kiln.nn;

import dev.kiln.Tensor;

/// Loss of the squared difference of input and target (one shape). Mean over elements by default, as in PyTorch.
public class MSELoss extends Module {
    public final Reduction reduction;

    public MSELoss() { this(Reduction.MEAN); }

    public MSELoss(Reduction reduction) { this.reduction = reduction; }

    @Override public Tensor forward(Tensor input, Tensor target) {
        try (var _ = scope()) {
            return Functional.mseLoss(input, target, reduction);
        }
    }
}
