package dev.kiln.ir;

import dev.kiln.runtime.DType;
import dev.kiln.runtime.NdArray;

import java.util.Arrays;

/// The payload of a dense constant: an immutable copy of an NdArray with value equality, so an
/// op holding it interns like any other. Invariant: the wrapped array is never handed out
/// without copying.
public final class DenseData {
    private final NdArray array;
    private final int hash;

    public DenseData(NdArray array) {
        this.array = array.copy();
        int h = array.dtype().hashCode() * 31 + Arrays.hashCode(array.shape());
        for (int i = 0; i < Math.min(array.size(), 64); i++) h = h * 31 + Double.hashCode(array.getDouble(i));
        this.hash = h;
    }

    /// A fresh copy of the values.
    public NdArray toArray() { return array.copy(); }
    public DType dtype() { return array.dtype(); }
    public int[] shape() { return array.shape(); }
    public int size() { return array.size(); }
    public double getDouble(int i) { return array.getDouble(i); }
    /// Element `i` as a long: exact for i64, which a double is not.
    public long getLong(int i) { return array.getLong(i); }

    public TensorType type() {
        int[] s = array.shape();
        long[] l = new long[s.length];
        for (int i = 0; i < s.length; i++) l[i] = s[i];
        return new TensorType(array.dtype(), Shape.of(l));
    }

    @Override public boolean equals(Object o) {
        return o instanceof DenseData d && d.hash == hash && d.array.contentEquals(array);
    }

    @Override public int hashCode() { return hash; }

    /// Flat values, as printed in IR text: `[1.0,2.0,3.0]` (the shape is in the result type).
    @Override public String toString() {
        StringBuilder s = new StringBuilder("[");
        for (int i = 0; i < array.size(); i++) {
            if (i > 0) s.append(',');
            switch (array.dtype()) {
                case BOOL -> s.append(array.getBool(i));
                case I32, I64 -> s.append(array.getLong(i));
                default -> s.append(array.getDouble(i));
            }
        }
        return s.append(']').toString();
    }
}
