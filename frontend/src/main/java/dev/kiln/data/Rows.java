package dev.kiln.data;

import dev.kiln.runtime.NdArray;
import java.util.Arrays;
import java.util.List;

/// Copies along the first axis of an `NdArray`: reading one row, stacking rows. Row-major storage
/// makes both a single `System.arraycopy` per row, whatever the dtype.
final class Rows {
    private Rows() {}

    /// Row `i` of `a` (shape `a.shape()[1:]`), copied.
    static NdArray row(NdArray a, int i) {
        int[] shape = a.shape();
        if (shape.length == 0) throw new IllegalArgumentException("a scalar has no rows");
        java.util.Objects.checkIndex(i, shape[0]);
        NdArray out = NdArray.zeros(a.dtype(), Arrays.copyOfRange(shape, 1, shape.length));
        int m = out.size();
        System.arraycopy(a.data(), i * m, out.data(), 0, m);
        return out;
    }

    /// `rows` stacked along a new first axis. All rows must share dtype and shape; `what` names
    /// them in the error ("input", "target").
    static NdArray stack(List<NdArray> rows, String what) {
        if (rows.isEmpty()) throw new IllegalArgumentException("cannot stack an empty list of " + what + "s");
        NdArray first = rows.getFirst();
        int[] shape = first.shape();
        for (int k = 1; k < rows.size(); k++) {
            NdArray r = rows.get(k);
            if (r.dtype() != first.dtype() || !Arrays.equals(r.shape(), shape))
                throw new IllegalArgumentException("cannot stack " + what + " #" + k + " of type " + typeText(r)
                        + " onto " + what + " #0 of type " + typeText(first));
        }
        int[] outShape = new int[shape.length + 1];
        outShape[0] = rows.size();
        System.arraycopy(shape, 0, outShape, 1, shape.length);
        NdArray out = NdArray.zeros(first.dtype(), outShape);
        int m = first.size();
        for (int k = 0; k < rows.size(); k++) System.arraycopy(rows.get(k).data(), 0, out.data(), k * m, m);
        return out;
    }

    static String typeText(NdArray a) {
        return a.dtype().text() + Arrays.toString(a.shape()).replace(" ", "");
    }
}
