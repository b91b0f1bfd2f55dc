package dev.kiln.codegen.cuda;

import org.junit.jupiter.api.Test;

import java.util.Random;

import static org.junit.jupiter.api.Assertions.*;

/// A step-by-step Java mirror of each `PtxMath` sequence (same constants, same operation
/// order, `Math.fma` for `fma.rn`, `Math.rint` for `cvt.rni`, PTX's NaN-ignoring min/max),
/// checked against `Math` for the stated error bounds, and for the property the f32 path
/// relies on: rounding the f64 result to f32 gives the interpreter's f32 result.
class PtxMathTest {
    static double ptxMax(double a, double b) { return Double.isNaN(a) ? b : Double.isNaN(b) ? a : Math.max(a, b); }
    static double ptxMin(double a, double b) { return Double.isNaN(a) ? b : Double.isNaN(b) ? a : Math.min(a, b); }
    static double pow2(int e) { return Double.longBitsToDouble((long) (e + 1023) << 52); }

    static double exp(double x) {
        double xc = ptxMin(ptxMax(x, -746), 710);
        double n = Math.rint(xc * PtxMath.LOG2E), nn = -n;
        double r = Math.fma(nn, PtxMath.LN2_HI, xc);
        r = Math.fma(nn, PtxMath.LN2_LO, r);
        double p = PtxMath.invFactorial(PtxMath.EXP_TERMS);
        for (int k = PtxMath.EXP_TERMS - 1; k >= 0; k--) p = Math.fma(p, r, PtxMath.invFactorial(k));
        int ni = (int) n, n1 = ni >> 1, n2 = ni - n1;
        double out = p * pow2(n1) * pow2(n2);
        return Double.isNaN(x) ? x : out;
    }

    static double log(double x) {
        boolean tiny = x < 0x1p-1022;
        double xx = tiny ? x * 0x1p54 : x;
        long bits = Double.doubleToRawLongBits(xx);
        int e = (int) (bits >>> 52) & 2047;
        e -= tiny ? 1077 : 1023;
        double m = Double.longBitsToDouble(bits & 0x000FFFFFFFFFFFFFL | 0x3FF0000000000000L);
        boolean big = m > Math.sqrt(2);
        if (big) { m *= 0.5; e += 1; }
        double f = m - 1, s = f / (f + 2), z = s * s;
        double rr = 2.0 / (2 * PtxMath.LOG_TERMS + 1);
        for (int k = PtxMath.LOG_TERMS - 1; k >= 1; k--) rr = Math.fma(rr, z, 2.0 / (2 * k + 1));
        rr = rr * z;
        double hf = f * 0.5 * f, ed = e;
        double t = s * (hf + rr);
        t = Math.fma(ed, PtxMath.LN2_LO, t);
        t = hf - t;
        t = t - f;
        double out = Math.fma(ed, PtxMath.LN2_HI, -t);
        if (x < 0) out = Double.NaN;
        if (x == 0) out = Double.NEGATIVE_INFINITY;
        if (x == Double.POSITIVE_INFINITY) out = x;
        if (Double.isNaN(x)) out = x;
        return out;
    }

    static double tanh(double x) {
        double a = Math.abs(x), y = a + a;
        double q = PtxMath.invFactorial(PtxMath.EXPM1_TERMS);
        for (int k = PtxMath.EXPM1_TERMS - 1; k >= 1; k--) q = Math.fma(q, y, PtxMath.invFactorial(k));
        q = q * y;
        double em = y < PtxMath.EXPM1_SMALL ? q : exp(y) - 1;
        double t = em / (em + 2);
        if (a > 22) t = 1;
        if (a < 0x1p-28) t = a;
        return Math.copySign(t, x);
    }

    static double pow(double x, double y) {
        double r = exp(y * log(Math.abs(x)));
        double yr = Math.rint(y);
        boolean isInt = yr == y && Double.isFinite(y);
        double h = y * 0.5;
        boolean odd = Math.rint(h) != h && isInt;
        boolean neg = Double.doubleToRawLongBits(x) < 0 && odd;
        if (neg) r = -r;
        if (x < 0 && Double.isFinite(x) && !isInt && Double.isFinite(y)) r = Double.NaN;
        if (y == 1) r = x;
        if (y == 0) r = 1;
        return r;
    }

    static void within(double want, double got, double ulps, String what) {
        if (Double.isNaN(want)) { assertTrue(Double.isNaN(got), what + ": want NaN, got " + got); return; }
        if (Double.isInfinite(want) || want == 0) { assertEquals(want, got, what); return; }
        double err = Math.abs(want - got) / Math.ulp(want);
        assertTrue(err <= ulps, what + ": want " + want + " got " + got + " (" + err + " ulp)");
    }

    @Test void expIsWithinTwoUlps() {
        Random r = new Random(1);
        for (int i = 0; i < 200_000; i++) {
            double x = i % 2 == 0 ? r.nextDouble() * 1450 - 740 : r.nextGaussian() * 4;
            within(Math.exp(x), exp(x), 2, "exp(" + x + ")");
        }
        for (double x : new double[]{0, -0.0, 1, -1, 709.78, 709.79, 710, -745.1, -745.2, -746, -800, 800, 1e-300, -1e-300,
                Double.POSITIVE_INFINITY, Double.NEGATIVE_INFINITY, Double.NaN, 0x1p-1074})
            within(Math.exp(x), exp(x), 2, "exp(" + x + ")");
    }

    @Test void logIsWithinTwoUlps() {
        Random r = new Random(2);
        for (int i = 0; i < 200_000; i++) {
            double x = switch (i % 4) {
                case 0 -> r.nextDouble() * 4;
                case 1 -> Math.exp(r.nextDouble() * 1400 - 700);
                case 2 -> 1 + (r.nextDouble() - 0.5) * 1e-6;
                default -> Double.longBitsToDouble(r.nextLong() & 0x7FEFFFFFFFFFFFFFL);
            };
            within(Math.log(x), log(x), 2, "log(" + x + ")");
        }
        for (double x : new double[]{0, -0.0, -1, 1, 2, Math.E, 0x1p-1074, 0x1p-1030, Double.MIN_NORMAL, Double.MAX_VALUE,
                Double.POSITIVE_INFINITY, Double.NEGATIVE_INFINITY, Double.NaN})
            within(Math.log(x), log(x), 2, "log(" + x + ")");
    }

    @Test void tanhIsWithinFiveUlps() {
        Random r = new Random(3);
        for (int i = 0; i < 200_000; i++) {
            double x = i % 2 == 0 ? r.nextGaussian() * 3 : (r.nextDouble() - 0.5) * 1e-3;
            within(Math.tanh(x), tanh(x), 5, "tanh(" + x + ")");
        }
        for (double x : new double[]{0, -0.0, 0.175, -0.175, 0.17499, 22, 23, -23, 1e-10, -1e-300,
                Double.POSITIVE_INFINITY, Double.NEGATIVE_INFINITY, Double.NaN})
            within(Math.tanh(x), tanh(x), 5, "tanh(" + x + ")");
    }

    @Test void powFollowsJavaSpecialCasesAndIsAccurateForModerateResults() {
        double[] xs = {0, -0.0, 1, -1, 2, -2, 0.5, -0.5, 3, -3, Double.POSITIVE_INFINITY, Double.NEGATIVE_INFINITY, Double.NaN, 1e-310};
        double[] ys = {0, -0.0, 1, -1, 2, -2, 3, -3, 0.5, -0.5, 2.5, 1e300, -1e300, Double.POSITIVE_INFINITY, Double.NEGATIVE_INFINITY,
                Double.NaN};
        for (double x : xs)
            for (double y : ys) {
                double t = Math.abs(y * Math.log(Math.abs(x)));
                within(Math.pow(x, y), pow(x, y), 3 + (Double.isFinite(t) ? 2 * t : 0), "pow(" + x + ", " + y + ")");
            }
        Random r = new Random(4);
        for (int i = 0; i < 100_000; i++) {
            double x = r.nextDouble() * 4 - 2, y = r.nextDouble() * 4 - 2;
            // stated bound: 3 ulp + 2 |y ln x| ulp
            double want = Math.pow(x, y), bound = 3 + Math.abs(y * Math.log(Math.abs(x))) * 2;
            within(want, pow(x, y), bound, "pow(" + x + ", " + y + ")");
        }
    }

    @Test void roundingToF32GivesTheInterpretersResult() {
        Random r = new Random(5);
        int differ = 0, n = 100_000;
        for (int i = 0; i < n; i++) {
            float x = (float) (r.nextDouble() * 20 - 10);
            if ((float) Math.exp(x) != (float) exp(x)) differ++;
            if ((float) Math.tanh(x) != (float) tanh(x)) differ++;
            if (x > 0 && (float) Math.log(x) != (float) log(x)) differ++;
        }
        // a difference needs the exact value within a few 2^-53 of an f32 rounding boundary
        assertTrue(differ <= 3, differ + " of " + 3 * n + " f32 results differ from the interpreter's");
    }
}
