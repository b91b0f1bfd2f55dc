package dev.kiln.passes;

import dev.kiln.ir.Graph;
import dev.kiln.ir.text.Printer;
import dev.kiln.ir.interp.Interpreter;
import dev.kiln.runtime.DType;
import dev.kiln.runtime.NdArray;

import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.fail;

/// Test helpers: run two graphs on the same inputs and compare their outputs.
final class GraphCheck {
    private GraphCheck() {}

    /// Null when `expected` and `actual` agree: same dtype and shape, integers and bools equal,
    /// floats equal up to a few ulps of the dtype (NaN matches NaN, an infinity only itself).
    static String difference(List<NdArray> expected, List<NdArray> actual) {
        if (expected.size() != actual.size()) return "result count " + actual.size() + ", expected " + expected.size();
        for (int r = 0; r < expected.size(); r++) {
            NdArray e = expected.get(r), a = actual.get(r);
            if (e.dtype() != a.dtype() || !Arrays.equals(e.shape(), a.shape()))
                return "result #" + r + " is " + a.dtype() + Arrays.toString(a.shape()) + ", expected " + e.dtype() + Arrays.toString(e.shape());
            double tol = e.dtype() == DType.F64 ? 1e-12 : e.dtype() == DType.F32 ? 1e-6 : 1e-2;
            for (int i = 0; i < e.size(); i++) {
                boolean same;
                if (!e.dtype().isFloat()) same = e.getLong(i) == a.getLong(i);
                else {
                    double x = e.getDouble(i), y = a.getDouble(i);
                    same = Double.isNaN(x) ? Double.isNaN(y)
                            : Double.isInfinite(x) || Double.isInfinite(y) ? x == y
                            : Math.abs(x - y) <= tol * Math.max(1, Math.abs(x));
                }
                if (!same) return "result #" + r + " element " + i + " is " + a.toString(64) + ", expected " + e.toString(64);
            }
        }
        return null;
    }

    static void assertSameOutputs(Graph before, Graph after, List<NdArray> inputs, String what) {
        List<NdArray> e = Interpreter.run(before, inputs), a = Interpreter.run(after, inputs);
        String d = difference(e, a);
        if (d != null) fail(what + ": " + d + "\n--- before:\n" + Printer.print(before) + "\n--- after:\n" + Printer.print(after));
    }
}
