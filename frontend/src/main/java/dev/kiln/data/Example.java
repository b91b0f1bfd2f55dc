package dev.kiln.data;

import dev.kiln.runtime.NdArray;

/// One supervised example: an input and its target, each without the batch axis (an image is
/// `f32[1,28,28]`, a class label an `i64[]` scalar). Invariant: both components are non-null.
public record Example(NdArray input, NdArray target) {
    public Example {
        if (input == null || target == null) throw new NullPointerException("an Example needs an input and a target");
    }
}
