package dev.kiln.data;

import dev.kiln.Tensor;
import dev.kiln.runtime.NdArray;

/// A dataset over two arrays that hold all examples, the first axis indexing them (PyTorch's
/// `TensorDataset(x, y)`): example `i` is row `i` of `inputs` with row `i` of `targets`, copied.
/// Invariant: both arrays have the same, non-zero rank and the same first dimension.
public final class TensorDataset implements Dataset<Example> {
    private final NdArray inputs, targets;

    public TensorDataset(NdArray inputs, NdArray targets) {
        if (inputs.rank() == 0 || targets.rank() == 0)
            throw new IllegalArgumentException("TensorDataset needs arrays with a first axis of examples, got "
                    + Rows.typeText(inputs) + " and " + Rows.typeText(targets));
        if (inputs.dim(0) != targets.dim(0))
            throw new IllegalArgumentException("TensorDataset inputs " + Rows.typeText(inputs) + " and targets "
                    + Rows.typeText(targets) + " differ in their number of examples");
        this.inputs = inputs;
        this.targets = targets;
    }

    /// The dataset over the values of two tensors (copied, computing them if pending).
    public TensorDataset(Tensor inputs, Tensor targets) { this(inputs.toNdArray(), targets.toNdArray()); }

    @Override public int size() { return inputs.dim(0); }

    @Override public Example get(int i) { return new Example(Rows.row(inputs, i), Rows.row(targets, i)); }

    public NdArray inputs() { return inputs; }
    public NdArray targets() { return targets; }
}
