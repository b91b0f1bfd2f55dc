package dev.kiln.nn;

import dev.kiln.Tensor;

/// Loss of the absolute difference of input and target (one shape), PyTorch's `L1Loss`. Mean
/// over elements by default.
public class L1Loss extends Module {
    public final Reduction reduction;

    public L1Loss() { this(Reduction.MEAN); }

    public L1Loss(Reduction reduction) { this.reduction = reduction; }

    @Override public Tensor forward(Tensor input, Tensor target) {
        try (var _ = scope()) {
            return Functional.l1Loss(input, target, reduction);
        }
    }
}
