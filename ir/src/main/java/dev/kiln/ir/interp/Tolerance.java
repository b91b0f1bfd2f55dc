package dev.kiln.ir.interp;

import dev.kiln.runtime.DType;
import dev.kiln.runtime.NdArray;

import java.util.Arrays;
import java.util.List;

/// How far a backend's result may be from the interpreter's: the one stated tolerance, per
/// dtype, that every backend is held to (the JVM backend's and the CUDA backend's parity tests,
/// the cross-module random graphs). With `scale = max(1, max|want|)` over the finite elements
/// of the tensor:
/// - bool, i32, i64: exact;
/// - f64: `1e-12 * scale`;
/// - f32: `2e-5 * scale`. Elementwise math and reductions round like the interpreter (double
///   accumulators), but matrix products and convolutions accumulate in f32 in another order;
/// - f16, bf16: one unit in the last place of `scale` (2^-10 and 2^-7 relative).
///
/// NaN matches NaN only, an infinity only the same infinity.
public final class Tolerance {
    private Tolerance() {}

    /// The largest absolute difference allowed anywhere in a result whose expected value is `want`.
    public static double bound(NdArray want) {
        double scale = 1;
        for (int i = 0; i < want.size(); i++) {
            double w = want.getDouble(i);
            if (Double.isFinite(w)) scale = Math.max(scale, Math.abs(w));
        }
        return switch (want.dtype()) {
            case BOOL, I32, I64 -> 0;
            case F64 -> 1e-12 * scale;
            case F32 -> 2e-5 * scale;
            case F16 -> 0x1p-10 * scale;
            case BF16 -> 0x1p-7 * scale;
        };
    }

    /// Where `got` leaves the tolerance around `want`, in words ("result #1 element 7: want 0.5,
    /// got 0.51, tolerance 2e-05"), or null where every result is within it.
    public static String mismatch(List<NdArray> want, List<NdArray> got) {
        if (want.size() != got.size()) return "want " + want.size() + " results, got " + got.size();
        for (int r = 0; r < want.size(); r++) {
            String m = mismatch(want.get(r), got.get(r));
            if (m != null) return "result #" + r + " " + m;
        }
        return null;
    }

    /// As above, for one tensor.
    public static String mismatch(NdArray want, NdArray got) {
        if (want.dtype() != got.dtype()) return "dtype: want " + want.dtype().text() + ", got " + got.dtype().text();
        if (!Arrays.equals(want.shape(), got.shape()))
            return "shape: want " + Arrays.toString(want.shape()) + ", got " + Arrays.toString(got.shape());
        DType d = want.dtype();
        double tol = bound(want);
        for (int i = 0; i < want.size(); i++) {
            boolean ok;
            String w, x;
            if (d.isFloat()) {
                double a = want.getDouble(i), b = got.getDouble(i);
                ok = Double.isNaN(a) || Double.isNaN(b) ? Double.isNaN(a) && Double.isNaN(b)
                        : Double.isInfinite(a) || Double.isInfinite(b) ? a == b
                        : Math.abs(a - b) <= tol;
                w = Double.toString(a);
                x = Double.toString(b);
            } else {
                ok = want.getLong(i) == got.getLong(i);
                w = Long.toString(want.getLong(i));
                x = Long.toString(got.getLong(i));
            }
            if (!ok) return "element " + i + ": want " + w + ", got " + x + (d.isFloat() ? ", tolerance " + tol : "");
        }
        return null;
    }
}
