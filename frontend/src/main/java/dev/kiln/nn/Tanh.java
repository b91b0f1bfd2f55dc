package dev.kiln.nn;

import dev.kiln.Tensor;

/// `tanh(x)` elementwise.
public class Tanh extends Module {
    @Override public Tensor forward(Tensor x) {
        try (var _ = scope()) {
            return x.tanh();
        }
    }
}
