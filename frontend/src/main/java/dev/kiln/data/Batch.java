package dev.kiln.data;

import dev.kiln.Tensor;
import dev.kiln.runtime.NdArray;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/// A minibatch: the inputs and the targets of several examples stacked along a new first axis
/// (64 Fashion-MNIST images make `input()` an `f32[64,1,28,28]` tensor and `target()` an
/// `i64[64]`), ready for `model.forward(batch.input())` and `criterion.forward(out, batch.target())`.
/// Invariant: both have the same first dimension, the number of examples.
///
/// The default collate makes plain CPU tensors holding their values (no pending op, no gradient),
/// built on the `DataLoader`'s prefetch thread, so the copy into tensors is off the training thread.
public record Batch(Tensor input, Tensor target) {
    public Batch {
        if (input == null || target == null) throw new NullPointerException("a Batch needs an input and a target");
        if (input.dim() == 0 || target.dim() == 0 || input.size(0) != target.size(0))
            throw new IllegalArgumentException("a batch needs inputs and targets with the same first dimension, got "
                    + typeText(input) + " and " + typeText(target));
    }

    /// A batch holding copies of two host arrays (what a custom collate returns).
    public Batch(NdArray input, NdArray target) { this(Tensor.of(input), Tensor.of(target)); }

    /// Number of examples in this batch.
    public int size() { return input.size(0); }

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

    private static String typeText(Tensor t) {
        return t.dtype().text() + Arrays.toString(t.shape()).replace(" ", "");
    }
}
