package dev.kiln.cli;

import java.math.BigDecimal;
import java.math.MathContext;
import java.util.Arrays;

import dev.kiln.runtime.NdArray;

/// One line about an array for a person to read: `f32[4,10] [0.12, -0.5, ...] min -1.3 max
/// 2.07 mean 0.0134`. Invariant: at most `FIRST` values are listed, numbers have at most six
/// significant digits, and the statistics cover every element (NaNs are counted apart).
final class Summary {
    private Summary() {}

    static final int FIRST = 8;

    static String of(NdArray a) {
        StringBuilder s = new StringBuilder(a.dtype().text()).append(Arrays.toString(a.shape()).replace(" ", ""));
        int n = a.size();
        if (a.rank() == 0) return s.append(' ').append(element(a, 0)).toString();
        s.append(" [");
        for (int i = 0; i < Math.min(n, FIRST); i++) s.append(i > 0 ? ", " : "").append(element(a, i));
        s.append(n > FIRST ? ", ...]" : "]");
        if (n <= 1) return s.toString();
        switch (a.dtype()) {
            case BOOL -> {
                int on = 0;
                for (int i = 0; i < n; i++) if (a.getBool(i)) on++;
                s.append(' ').append(on).append(" of ").append(n).append(" true");
            }
            case I32, I64 -> {
                long min = Long.MAX_VALUE, max = Long.MIN_VALUE;
                for (int i = 0; i < n; i++) {
                    min = Math.min(min, a.getLong(i));
                    max = Math.max(max, a.getLong(i));
                }
                s.append(" min ").append(min).append(" max ").append(max);
            }
            case F16, BF16, F32, F64 -> {
                double min = Double.POSITIVE_INFINITY, max = Double.NEGATIVE_INFINITY, sum = 0;
                int nan = 0;
                for (int i = 0; i < n; i++) {
                    double v = a.getDouble(i);
                    if (Double.isNaN(v)) {
                        nan++;
                        continue;
                    }
                    min = Math.min(min, v);
                    max = Math.max(max, v);
                    sum += v;
                }
                if (nan < n) s.append(" min ").append(number(min)).append(" max ").append(number(max))
                        .append(" mean ").append(number(sum / (n - nan)));
                if (nan > 0) s.append(' ').append(nan).append(" NaN");
            }
        }
        return s.toString();
    }

    private static String element(NdArray a, int i) {
        return switch (a.dtype()) {
            case BOOL -> Boolean.toString(a.getBool(i));
            case I32, I64 -> Long.toString(a.getLong(i));
            case F16, BF16, F32, F64 -> number(a.getDouble(i));
        };
    }

    /// Six significant digits, trailing zeros dropped; plain notation between 1e-4 and 1e7.
    static String number(double d) {
        if (Double.isNaN(d)) return "nan";
        if (Double.isInfinite(d)) return d > 0 ? "inf" : "-inf";
        if (d == 0) return 1 / d < 0 ? "-0" : "0";
        BigDecimal b = new BigDecimal(d).round(new MathContext(6)).stripTrailingZeros();
        double m = Math.abs(d);
        return m >= 1e-4 && m < 1e7 ? b.toPlainString() : b.toString().replace("E+", "e").replace("E", "e");
    }
}
