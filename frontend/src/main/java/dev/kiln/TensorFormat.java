package dev.kiln;

import dev.kiln.runtime.DType;
import dev.kiln.runtime.NdArray;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/// Prints tensors the way PyTorch does, so output reads the same in both: `tensor([[1., 2.],` /
/// `        [3., 4.]])`. Floats that are all whole print as `1.`; others with four decimals, or in
/// scientific notation when their magnitudes span a wide range. Every element of one tensor takes
/// the same width. Tensors above 1000 elements show the first and last three entries of each
/// dimension around `...`. Lines wrap at 80 columns.
final class TensorFormat {
    private TensorFormat() {}

    private static final int THRESHOLD = 1000, EDGE = 3, LINE_WIDTH = 80;

    static String format(NdArray a, String suffix) {
        int[] shape = a.shape();
        if (a.size() == 0) {
            String size = shape.length == 1 ? "" : ", size=" + tuple(shape);
            return "tensor([]" + size + suffix + ")";
        }
        boolean summarize = a.size() > THRESHOLD;
        Formatter f = new Formatter(a, summarize);
        String prefix = "tensor(";
        String body = shape.length == 0 ? f.format(0) : block(a, f, 0, 0, prefix.length(), summarize);
        return prefix + body + suffix + ")";
    }

    private static String tuple(int[] shape) {
        StringBuilder s = new StringBuilder("(");
        for (int i = 0; i < shape.length; i++) s.append(i > 0 ? ", " : "").append(shape[i]);
        return s.append(shape.length == 1 ? ",)" : ")").toString();
    }

    /// The bracketed text of the sub-array at flat `offset` starting at dimension `dim`.
    private static String block(NdArray a, Formatter f, int dim, int offset, int indent, boolean summarize) {
        int[] shape = a.shape();
        int n = shape[dim];
        int stride = 1;
        for (int i = dim + 1; i < shape.length; i++) stride *= shape[i];
        List<Integer> shown = shownIndices(n, summarize);
        if (dim == shape.length - 1) {
            List<String> items = new ArrayList<>();
            for (int i : shown) items.add(i < 0 ? " ..." : f.format(offset + i)); // PyTorch pads the ellipsis of a row
            int perLine = Math.max(1, (LINE_WIDTH - indent - 1) / (f.width + 2));
            StringBuilder s = new StringBuilder("[");
            for (int i = 0; i < items.size(); i++) {
                if (i > 0) s.append(i % perLine == 0 ? ",\n" + " ".repeat(indent + 1) : ", ");
                s.append(items.get(i));
            }
            return s.append(']').toString();
        }
        String sep = "," + "\n".repeat(shape.length - dim - 1) + " ".repeat(indent + 1);
        StringBuilder s = new StringBuilder("[");
        boolean first = true;
        for (int i : shown) {
            if (!first) s.append(sep);
            first = false;
            s.append(i < 0 ? "..." : block(a, f, dim + 1, offset + i * stride, indent + 1, summarize));
        }
        return s.append(']').toString();
    }

    /// Indices to print along a dimension of size n; -1 marks the `...`.
    private static List<Integer> shownIndices(int n, boolean summarize) {
        List<Integer> l = new ArrayList<>();
        if (summarize && n > 2 * EDGE) {
            for (int i = 0; i < EDGE; i++) l.add(i);
            l.add(-1);
            for (int i = n - EDGE; i < n; i++) l.add(i);
        } else for (int i = 0; i < n; i++) l.add(i);
        return l;
    }

    /// How one tensor's elements are written: a mode chosen from all its values, and a common width.
    private static final class Formatter {
        private final NdArray a;
        private final Mode mode;
        final int width;

        private enum Mode { BOOL, INT, WHOLE, FIXED, SCI }

        Formatter(NdArray a, boolean summarize) {
            this.a = a;
            DType d = a.dtype();
            if (d == DType.BOOL) mode = Mode.BOOL;
            else if (d.isInteger()) mode = Mode.INT;
            else {
                double maxAbs = 0, minAbs = Double.POSITIVE_INFINITY;
                boolean whole = true;
                for (int i = 0; i < a.size(); i++) {
                    double v = a.getDouble(i);
                    if (!Double.isFinite(v)) continue;
                    double m = Math.abs(v);
                    if (m != 0) {
                        maxAbs = Math.max(maxAbs, m);
                        minAbs = Math.min(minAbs, m);
                    }
                    whole &= v == Math.rint(v);
                }
                if (whole) mode = maxAbs > 1e8 ? Mode.SCI : Mode.WHOLE;
                else if (maxAbs / minAbs > 1000 || maxAbs > 1e8 || minAbs < 1e-4) mode = Mode.SCI;
                else mode = Mode.FIXED;
            }
            int w = 1;
            for (int i = 0; i < a.size(); i++) w = Math.max(w, raw(i).length());
            width = w;
        }

        private String raw(int i) {
            return switch (mode) {
                case BOOL -> a.getBool(i) ? "True" : "False";
                case INT -> Long.toString(a.getLong(i));
                default -> {
                    double v = a.getDouble(i);
                    if (Double.isNaN(v)) yield "nan";
                    if (Double.isInfinite(v)) yield v > 0 ? "inf" : "-inf";
                    yield switch (mode) {
                        case WHOLE -> String.format(Locale.ROOT, "%.0f.", v);
                        case FIXED -> String.format(Locale.ROOT, "%.4f", v);
                        default -> String.format(Locale.ROOT, "%.4e", v);
                    };
                }
            };
        }

        String format(int i) {
            String s = raw(i);
            return " ".repeat(width - s.length()) + s;
        }
    }
}
