package dev.kiln.data;

import dev.kiln.runtime.NdArray;
import java.util.ArrayList;
import java.util.List;

/// A minibatch: the inputs and the targets of several examples stacked along a new first axis
/// (64 Fashion-MNIST images make `input()` an `f32[64,1,28,28]` and `target()` an `i64[64]`).
/// Invariant: `input().dim(0) == target().dim(0)`, the number of examples.
///
/// The components are host `NdArray`s for now. When the frontend's `Tensor` lands, it wraps these
/// arrays without copying and `input()`/`target()` return Tensors; `stack` is the only place that
/// builds a Batch from examples, so that change stays inside this file.
public record Batch(NdArray input, NdArray target) {
    public Batch {
        if (input.rank() == 0 || target.rank() == 0 || input.dim(0) != target.dim(0))
            throw new IllegalArgumentException("a batch needs inputs and targets with the same first dimension, got "
                    + Rows.typeText(input) + " and " + Rows.typeText(target));
    }

    /// Number of examples in this batch.
    public int size() { return input.dim(0); }

    /// The default collate of `DataLoader`: stacks each component of `examples` along a new first
    /// axis. Throws naming the first example whose input or target differs in dtype or shape.
    public static Batch stack(List<? extends Example> examples) {
        List<NdArray> inputs = new ArrayList<>(examples.size()), targets = new ArrayList<>(examples.size());
        for (Example e : examples) {
            inputs.add(e.input());
            targets.add(e.target());
        }
        return new Batch(Rows.stack(inputs, "input"), Rows.stack(targets, "target"));
    }
}
