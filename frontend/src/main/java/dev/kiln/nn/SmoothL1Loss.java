package dev.kiln.nn;

import dev.kiln.Tensor;

/// `0.5 d^2 / beta` where `|d| < beta`, else `|d| - 0.5 beta`, for `d = input - target`; mean by default.
public class SmoothL1Loss extends Module {
    public final Reduction reduction;
    public final double beta;

    public SmoothL1Loss() { this(Reduction.MEAN, 1.0); }

    public SmoothL1Loss(Reduction reduction, double beta) {
        this.reduction = reduction;
        this.beta = beta;
    }

    @Override public Tensor forward(Tensor input, Tensor target) {
        try (var _ = scope()) {
            return Functional.smoothL1Loss(input, target, beta, reduction);
        }
    }
}
