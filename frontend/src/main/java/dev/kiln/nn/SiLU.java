package dev.kiln.nn;

import dev.kiln.Tensor;

/// `x * sigmoid(x)` elementwise (PyTorch's `SiLU`); see `Functional.silu`.
public class SiLU extends Module {
    @Override public Tensor forward(Tensor x) {
        try (var _ = scope()) {
            return Functional.silu(x);
        }
    }
}
