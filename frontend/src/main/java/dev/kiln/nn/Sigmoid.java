package dev.kiln.nn;

import dev.kiln.Tensor;

/// `1 / (1 + exp(-x))` elementwise.
public class Sigmoid extends Module {
    @Override public Tensor forward(Tensor x) {
        try (var _ = scope()) {
            return x.sigmoid();
        }
    }
}
