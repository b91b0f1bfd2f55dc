package dev.kiln.runtime;

import java.util.Arrays;

/// A dense, row-major (C order) host tensor: a dtype, a shape and a flat primitive array.
/// Storage per dtype: f32 `float[]`, f64 `double[]`, i32 `int[]`, i64 `long[]`, bool
/// `boolean[]`, f16 and bf16 `short[]` holding the bit patterns. Invariant: the storage
/// length equals the product of the shape.
public final class NdArray {
    private final DType dtype;
    private final int[] shape;
    private final Object data;

    private NdArray(DType dtype, int[] shape, Object data) {
        this.dtype = dtype;
        this.shape = shape;
        this.data = data;
    }

    /// A zero-filled array. Refuses negative dimensions and element counts beyond an int.
    public static NdArray zeros(DType dtype, int... shape) {
        int n = checkedSize(shape);
        Object data = switch (dtype) {
            case F32 -> new float[n];
            case F64 -> new double[n];
            case I32 -> new int[n];
            case I64 -> new long[n];
            case BOOL -> new boolean[n];
            case F16, BF16 -> new short[n];
        };
        return new NdArray(dtype, shape.clone(), data);
    }

    /// Wraps (does not copy) `data`, which must be the storage array of `dtype`.
    public static NdArray wrap(DType dtype, Object data, int... shape) {
        int n = checkedSize(shape);
        boolean ok = switch (dtype) {
            case F32 -> data instanceof float[] a && a.length == n;
            case F64 -> data instanceof double[] a && a.length == n;
            case I32 -> data instanceof int[] a && a.length == n;
            case I64 -> data instanceof long[] a && a.length == n;
            case BOOL -> data instanceof boolean[] a && a.length == n;
            case F16, BF16 -> data instanceof short[] a && a.length == n;
        };
        if (!ok) throw new IllegalArgumentException("storage " + data.getClass().getSimpleName()
                + " does not fit " + dtype + Arrays.toString(shape));
        return new NdArray(dtype, shape.clone(), data);
    }

    public static NdArray of(float[] data, int... shape) { return wrap(DType.F32, data, shape); }
    public static NdArray of(double[] data, int... shape) { return wrap(DType.F64, data, shape); }
    public static NdArray of(int[] data, int... shape) { return wrap(DType.I32, data, shape); }
    public static NdArray of(long[] data, int... shape) { return wrap(DType.I64, data, shape); }
    public static NdArray of(boolean[] data, int... shape) { return wrap(DType.BOOL, data, shape); }

    /// A rank-0 array holding `value` converted to `dtype`.
    public static NdArray scalar(DType dtype, double value) {
        NdArray a = zeros(dtype);
        a.setDouble(0, value);
        return a;
    }

    /// Product of the dimensions; throws on a negative dimension or an int overflow. A zero
    /// dimension makes the product 0 however large the others are (NumPy agrees).
    public static int checkedSize(int... shape) {
        boolean empty = false;
        for (int d : shape) {
            if (d < 0) throw new IllegalArgumentException("negative dimension in " + Arrays.toString(shape));
            if (d == 0) empty = true;
        }
        if (empty) return 0;
        long n = 1;
        for (int d : shape) {
            n *= d;
            if (n > Integer.MAX_VALUE - 8)
                throw new IllegalArgumentException("shape " + Arrays.toString(shape) + " has more than 2^31 elements");
        }
        return (int) n;
    }

    public DType dtype() { return dtype; }
    public int[] shape() { return shape.clone(); }
    public int rank() { return shape.length; }
    public int dim(int axis) { return shape[axis]; }
    public int size() { return java.lang.reflect.Array.getLength(data); }
    /// The storage array itself (not a copy); see the class comment for its type.
    public Object data() { return data; }

    /// Element `i` (flat, row-major) as a double; bool reads as 0 or 1.
    public double getDouble(int i) {
        return switch (data) {
            case float[] a -> a[i];
            case double[] a -> a[i];
            case int[] a -> a[i];
            case long[] a -> a[i];
            case boolean[] a -> a[i] ? 1 : 0;
            case short[] a -> dtype == DType.F16 ? Float.float16ToFloat(a[i]) : bf16ToFloat(a[i]);
            default -> throw new IllegalStateException();
        };
    }

    /// Element `i` as a long; floats truncate toward zero, as a cast does.
    public long getLong(int i) {
        return switch (data) {
            case int[] a -> a[i];
            case long[] a -> a[i];
            case boolean[] a -> a[i] ? 1 : 0;
            default -> (long) getDouble(i);
        };
    }

    public boolean getBool(int i) {
        return data instanceof boolean[] a ? a[i] : getDouble(i) != 0;
    }

    /// Stores `v` rounded to this dtype (ints truncate toward zero; bool is `v != 0`).
    public void setDouble(int i, double v) {
        switch (data) {
            case float[] a -> a[i] = (float) v;
            case double[] a -> a[i] = v;
            case int[] a -> a[i] = (int) v;
            case long[] a -> a[i] = (long) v;
            case boolean[] a -> a[i] = v != 0;
            case short[] a -> a[i] = dtype == DType.F16 ? Float.floatToFloat16((float) v) : floatToBf16((float) v);
            default -> throw new IllegalStateException();
        }
    }

    /// Stores `v`: exact for integer dtypes (i32 wraps), rounded for floats.
    public void setLong(int i, long v) {
        switch (data) {
            case int[] a -> a[i] = (int) v;
            case long[] a -> a[i] = v;
            case boolean[] a -> a[i] = v != 0;
            default -> setDouble(i, v);
        }
    }

    public void setBool(int i, boolean v) {
        if (data instanceof boolean[] a) a[i] = v; else setDouble(i, v ? 1 : 0);
    }

    /// A deep copy.
    public NdArray copy() {
        Object d = switch (data) {
            case float[] a -> a.clone();
            case double[] a -> a.clone();
            case int[] a -> a.clone();
            case long[] a -> a.clone();
            case boolean[] a -> a.clone();
            case short[] a -> a.clone();
            default -> throw new IllegalStateException();
        };
        return new NdArray(dtype, shape.clone(), d);
    }

    /// The same storage seen with another shape of equal size.
    public NdArray reshape(int... newShape) {
        if (checkedSize(newShape) != size())
            throw new IllegalArgumentException("cannot reshape " + Arrays.toString(shape) + " to " + Arrays.toString(newShape));
        return new NdArray(dtype, newShape.clone(), data);
    }

    /// Every element converted to `target` (a copy even when the dtype is the same).
    public NdArray cast(DType target) {
        NdArray out = zeros(target, shape);
        int n = size();
        if (dtype.isFloat() || target.isFloat() || target == DType.BOOL) for (int i = 0; i < n; i++) out.setDouble(i, getDouble(i));
        else for (int i = 0; i < n; i++) out.setLong(i, getLong(i));
        return out;
    }

    public static float bf16ToFloat(short bits) { return Float.intBitsToFloat((bits & 0xffff) << 16); }

    /// Round-to-nearest-even; NaN stays NaN.
    public static short floatToBf16(float f) {
        int b = Float.floatToRawIntBits(f);
        if (Float.isNaN(f)) return (short) ((b >>> 16) | 0x40);
        int rounding = 0x7fff + ((b >>> 16) & 1);
        return (short) ((b + rounding) >>> 16);
    }

    /// Same dtype, same shape, same bits (NaN equals NaN with the same payload).
    public boolean contentEquals(NdArray o) {
        if (dtype != o.dtype || !Arrays.equals(shape, o.shape)) return false;
        return switch (data) {
            case float[] a -> Arrays.equals(a, (float[]) o.data);
            case double[] a -> Arrays.equals(a, (double[]) o.data);
            case int[] a -> Arrays.equals(a, (int[]) o.data);
            case long[] a -> Arrays.equals(a, (long[]) o.data);
            case boolean[] a -> Arrays.equals(a, (boolean[]) o.data);
            case short[] a -> Arrays.equals(a, (short[]) o.data);
            default -> false;
        };
    }

    /// `f32[2,3] [1.0, 2.0, ...]`: the type, then up to `limit` values in row-major order.
    public String toString(int limit) {
        StringBuilder s = new StringBuilder(dtype.text()).append(Arrays.toString(shape).replace(" ", "")).append(" [");
        int n = size();
        for (int i = 0; i < Math.min(n, limit); i++) s.append(i > 0 ? ", " : "").append(formatElement(i));
        return s.append(n > limit ? ", ...]" : "]").toString();
    }

    @Override public String toString() { return toString(64); }

    private String formatElement(int i) {
        return switch (dtype) {
            case BOOL -> getBool(i) ? "true" : "false";
            case I32, I64 -> Long.toString(getLong(i));
            default -> Double.toString(getDouble(i));
        };
    }
}
