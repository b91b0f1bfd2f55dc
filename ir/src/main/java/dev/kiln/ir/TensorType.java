package dev.kiln.ir;

import dev.kiln.runtime.DType;

/// The type of an SSA value: dtype and shape, printed `f32[B,784]`. Invariant: immutable.
public record TensorType(DType dtype, Shape shape) {
    public static TensorType of(DType dtype, Object... dims) { return new TensorType(dtype, Shape.of(dims)); }
    public static TensorType f32(Object... dims) { return of(DType.F32, dims); }
    public static TensorType f64(Object... dims) { return of(DType.F64, dims); }
    public static TensorType i64(Object... dims) { return of(DType.I64, dims); }
    public static TensorType bool(Object... dims) { return of(DType.BOOL, dims); }

    public int rank() { return shape.rank(); }
    public Dim dim(int axis) { return shape.dim(axis); }
    public TensorType withDType(DType d) { return new TensorType(d, shape); }
    public TensorType withShape(Shape s) { return new TensorType(dtype, s); }

    @Override public String toString() { return dtype.text() + shape; }
}
