package dev.kiln.nn;

import dev.kiln.Tensor;

/// Returns its input unchanged (PyTorch's `Identity`): a placeholder where a layer is optional.
public class Identity extends Module {
    @Override public Tensor forward(Tensor x) { return x; }
}
