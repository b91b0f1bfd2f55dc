package dev.kiln.nn;

import dev.kiln.Tensor;

/// `max(x, 0)` elementwise.
public class ReLU extends Module {
    @Override public Tensor forward(Tensor x) {
        try (var _ = scope()) {
            return x.relu();
        }
    }
}
