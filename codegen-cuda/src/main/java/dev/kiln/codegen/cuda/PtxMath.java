package dev.kiln.codegen.cuda;

import dev.kiln.codegen.cuda.Ptx.RegClass;

/// The math PTX has no instruction for, as straight-line f64 sequences. The interpreter computes
/// `exp`, `log`, `tanh` and `pow` in double and rounds once to the value's dtype; these routines
/// are accurate to a few units in the last place of a double, so an f32 (or f16/bf16) result
/// rounded from them equals the interpreter's except when the exact value lies within a few
/// 2^-53 of a rounding boundary (then it is one f32 ulp away); f64 results are within a few
/// f64 ulps (stated bounds: `exp` ≤ 2 ulp, `log` ≤ 2 ulp, `tanh` ≤ 5 ulp, `pow` ≤ 3 ulp +
/// 2·|y·ln x| ulp, the error of ln x scaled by y). `PtxMathTest` runs a step-by-step Java mirror of each sequence
/// against `Math` to check those bounds.
///
/// The polynomials are plain Taylor series (coefficients 1/k! and 2/(2k+1)) evaluated with
/// `fma`, after the classic reductions: `exp` by n·ln2 (ln2 split in a high part with a
/// short mantissa, so n·ln2_hi is exact), `log` to a mantissa in [√½, √2) and the series of
/// 2·atanh(f/(2+f)), `tanh` through expm1(2|x|).
final class PtxMath {
    private PtxMath() {}

    static final double LOG2E = 1.4426950408889634;
    static final double LN2_HI = Double.longBitsToDouble(0x3FE62E42FEE00000L); // 0.693147180369123816...
    /// ln 2 - LN2_HI to double precision, from ln 2 to 40 digits (a double ln 2 would lose the bits that matter).
    static final double LN2_LO = new java.math.BigDecimal("0.6931471805599453094172321214581765680755")
            .subtract(new java.math.BigDecimal(LN2_HI)).doubleValue();
    static final int EXP_TERMS = 13;   // e^r = sum r^k/k!, k = 0..13, |r| <= ln2/2
    static final int LOG_TERMS = 11;   // 2 atanh(s) = 2s + s * sum_{k=1..11} 2 z^k/(2k+1), z = s^2
    static final int EXPM1_TERMS = 14; // expm1(y) = sum y^k/k!, k = 1..14, y < 0.35
    static final double EXPM1_SMALL = 0.35;

    static String d(double v) { return Ptx.floatLit(v, dev.kiln.runtime.DType.F64); }

    static String konst(EntryWriter w, double v) {
        String r = w.reg(RegClass.F64);
        w.op("mov.f64 " + r + ", " + d(v) + ";");
        return r;
    }

    static double invFactorial(int k) {
        double f = 1;
        for (int i = 2; i <= k; i++) f *= i;
        return 1 / f;
    }

    /// e^x for an f64 register.
    static String exp(EntryWriter w, String x) {
        String xc = w.reg(RegClass.F64), t = w.reg(RegClass.F64), n = w.reg(RegClass.F64), nn = w.reg(RegClass.F64),
                r = w.reg(RegClass.F64);
        // clamp so that n stays within two normal scale factors; e^710 still overflows, e^-746 still underflows
        w.op("max.f64 " + xc + ", " + x + ", " + d(-746) + ";");
        w.op("min.f64 " + xc + ", " + xc + ", " + d(710) + ";");
        w.op("mul.rn.f64 " + t + ", " + xc + ", " + d(LOG2E) + ";");
        w.op("cvt.rni.f64.f64 " + n + ", " + t + ";");
        w.op("neg.f64 " + nn + ", " + n + ";");
        w.op("fma.rn.f64 " + r + ", " + nn + ", " + d(LN2_HI) + ", " + xc + ";");
        w.op("fma.rn.f64 " + r + ", " + nn + ", " + d(LN2_LO) + ", " + r + ";");
        String p = konst(w, invFactorial(EXP_TERMS));
        for (int k = EXP_TERMS - 1; k >= 0; k--) w.op("fma.rn.f64 " + p + ", " + p + ", " + r + ", " + d(invFactorial(k)) + ";");
        // 2^n as two factors 2^n1 * 2^n2, each a normal double built from its exponent bits
        String ni = w.reg(RegClass.B32), n1 = w.reg(RegClass.B32), n2 = w.reg(RegClass.B32);
        w.op("cvt.rzi.s32.f64 " + ni + ", " + n + ";");
        w.op("shr.s32 " + n1 + ", " + ni + ", 1;");
        w.op("sub.s32 " + n2 + ", " + ni + ", " + n1 + ";");
        String out = w.reg(RegClass.F64);
        w.op("mul.rn.f64 " + out + ", " + p + ", " + pow2(w, n1) + ";");
        w.op("mul.rn.f64 " + out + ", " + out + ", " + pow2(w, n2) + ";");
        String nan = w.reg(RegClass.PRED);
        w.op("testp.notanumber.f64 " + nan + ", " + x + ";");
        w.op("selp.f64 " + out + ", " + x + ", " + out + ", " + nan + ";");
        return out;
    }

    /// 2^e as a double, for -1022 <= e <= 1023 in an i32 register.
    static String pow2(EntryWriter w, String e) {
        String b = w.reg(RegClass.B32), wide = w.reg(RegClass.B64), f = w.reg(RegClass.F64);
        w.op("add.s32 " + b + ", " + e + ", 1023;");
        w.op("cvt.u64.u32 " + wide + ", " + b + ";");
        w.op("shl.b64 " + wide + ", " + wide + ", 52;");
        w.op("mov.b64 " + f + ", " + wide + ";");
        return f;
    }

    /// ln x for an f64 register (x < 0: NaN, ±0: -inf, +inf: +inf).
    static String log(EntryWriter w, String x) {
        String tiny = w.reg(RegClass.PRED), xs = w.reg(RegClass.F64), xx = w.reg(RegClass.F64);
        // subnormals: scale by 2^54 first
        w.op("setp.lt.f64 " + tiny + ", " + x + ", " + d(0x1p-1022) + ";");
        w.op("mul.rn.f64 " + xs + ", " + x + ", " + d(0x1p54) + ";");
        w.op("selp.f64 " + xx + ", " + xs + ", " + x + ", " + tiny + ";");
        String bits = w.reg(RegClass.B64), eb = w.reg(RegClass.B64), e = w.reg(RegClass.B32), bias = w.reg(RegClass.B32);
        w.op("mov.b64 " + bits + ", " + xx + ";");
        w.op("shr.u64 " + eb + ", " + bits + ", 52;");
        w.op("cvt.u32.u64 " + e + ", " + eb + ";");
        w.op("and.b32 " + e + ", " + e + ", 2047;");
        w.op("selp.s32 " + bias + ", 1077, 1023, " + tiny + ";");
        w.op("sub.s32 " + e + ", " + e + ", " + bias + ";");
        String mb = w.reg(RegClass.B64), m = w.reg(RegClass.F64), big = w.reg(RegClass.PRED), mh = w.reg(RegClass.F64),
                inc = w.reg(RegClass.B32);
        w.op("and.b64 " + mb + ", " + bits + ", 4503599627370495;");          // 0x000FFFFFFFFFFFFF
        w.op("or.b64 " + mb + ", " + mb + ", 4607182418800017408;");          // 0x3FF0000000000000: m in [1,2)
        w.op("mov.b64 " + m + ", " + mb + ";");
        w.op("setp.gt.f64 " + big + ", " + m + ", " + d(Math.sqrt(2)) + ";");
        w.op("mul.rn.f64 " + mh + ", " + m + ", " + d(0.5) + ";");
        w.op("selp.f64 " + m + ", " + mh + ", " + m + ", " + big + ";");
        w.op("selp.s32 " + inc + ", 1, 0, " + big + ";");
        w.op("add.s32 " + e + ", " + e + ", " + inc + ";");
        String f = w.reg(RegClass.F64), den = w.reg(RegClass.F64), s = w.reg(RegClass.F64), z = w.reg(RegClass.F64);
        w.op("sub.rn.f64 " + f + ", " + m + ", " + d(1) + ";");
        w.op("add.rn.f64 " + den + ", " + f + ", " + d(2) + ";");
        w.op("div.rn.f64 " + s + ", " + f + ", " + den + ";");
        w.op("mul.rn.f64 " + z + ", " + s + ", " + s + ";");
        String rr = konst(w, 2.0 / (2 * LOG_TERMS + 1));
        for (int k = LOG_TERMS - 1; k >= 1; k--) w.op("fma.rn.f64 " + rr + ", " + rr + ", " + z + ", " + d(2.0 / (2 * k + 1)) + ";");
        w.op("mul.rn.f64 " + rr + ", " + rr + ", " + z + ";");
        // ln(m) = f - (hfsq - s*(hfsq + R)), hfsq = f^2/2; ln x = e*ln2_hi + (ln(m) + e*ln2_lo)
        String hf = w.reg(RegClass.F64), ed = w.reg(RegClass.F64), t = w.reg(RegClass.F64), out = w.reg(RegClass.F64);
        w.op("mul.rn.f64 " + hf + ", " + f + ", " + d(0.5) + ";");
        w.op("mul.rn.f64 " + hf + ", " + hf + ", " + f + ";");
        w.op("cvt.rn.f64.s32 " + ed + ", " + e + ";");
        w.op("add.rn.f64 " + t + ", " + hf + ", " + rr + ";");
        w.op("mul.rn.f64 " + t + ", " + s + ", " + t + ";");
        w.op("fma.rn.f64 " + t + ", " + ed + ", " + d(LN2_LO) + ", " + t + ";");
        w.op("sub.rn.f64 " + t + ", " + hf + ", " + t + ";");
        w.op("sub.rn.f64 " + t + ", " + t + ", " + f + ";");
        w.op("neg.f64 " + t + ", " + t + ";");
        w.op("fma.rn.f64 " + out + ", " + ed + ", " + d(LN2_HI) + ", " + t + ";");
        String p = w.reg(RegClass.PRED);
        w.op("setp.lt.f64 " + p + ", " + x + ", " + d(0) + ";");
        w.op("selp.f64 " + out + ", " + d(Double.NaN) + ", " + out + ", " + p + ";");
        w.op("setp.eq.f64 " + p + ", " + x + ", " + d(0) + ";");
        w.op("selp.f64 " + out + ", " + d(Double.NEGATIVE_INFINITY) + ", " + out + ", " + p + ";");
        w.op("setp.eq.f64 " + p + ", " + x + ", " + d(Double.POSITIVE_INFINITY) + ";");
        w.op("selp.f64 " + out + ", " + x + ", " + out + ", " + p + ";");
        w.op("testp.notanumber.f64 " + p + ", " + x + ";");
        w.op("selp.f64 " + out + ", " + x + ", " + out + ", " + p + ";");
        return out;
    }

    /// tanh x for an f64 register: expm1(2|x|) / (expm1(2|x|) + 2) with the sign of x.
    static String tanh(EntryWriter w, String x) {
        String a = w.reg(RegClass.F64), y = w.reg(RegClass.F64);
        w.op("abs.f64 " + a + ", " + x + ";");
        w.op("add.rn.f64 " + y + ", " + a + ", " + a + ";");
        String q = konst(w, invFactorial(EXPM1_TERMS));
        for (int k = EXPM1_TERMS - 1; k >= 1; k--) w.op("fma.rn.f64 " + q + ", " + q + ", " + y + ", " + d(invFactorial(k)) + ";");
        w.op("mul.rn.f64 " + q + ", " + q + ", " + y + ";");
        String ey = exp(w, y), em = w.reg(RegClass.F64), small = w.reg(RegClass.PRED);
        w.op("sub.rn.f64 " + em + ", " + ey + ", " + d(1) + ";");
        w.op("setp.lt.f64 " + small + ", " + y + ", " + d(EXPM1_SMALL) + ";");
        w.op("selp.f64 " + em + ", " + q + ", " + em + ", " + small + ";");
        String den = w.reg(RegClass.F64), t = w.reg(RegClass.F64), p = w.reg(RegClass.PRED);
        w.op("add.rn.f64 " + den + ", " + em + ", " + d(2) + ";");
        w.op("div.rn.f64 " + t + ", " + em + ", " + den + ";");
        w.op("setp.gt.f64 " + p + ", " + a + ", " + d(22) + ";");
        w.op("selp.f64 " + t + ", " + d(1) + ", " + t + ", " + p + ";");
        w.op("setp.lt.f64 " + p + ", " + a + ", " + d(0x1p-28) + ";");
        w.op("selp.f64 " + t + ", " + a + ", " + t + ", " + p + ";");
        String out = w.reg(RegClass.F64);
        w.op("copysign.f64 " + out + ", " + x + ", " + t + ";");
        return out;
    }

    /// x^y with Java's Math.pow rules for the special cases.
    static String pow(EntryWriter w, String x, String y) {
        String ax = w.reg(RegClass.F64), t = w.reg(RegClass.F64);
        w.op("abs.f64 " + ax + ", " + x + ";");
        String l = log(w, ax);
        w.op("mul.rn.f64 " + t + ", " + y + ", " + l + ";");
        String r = exp(w, t);
        String yr = w.reg(RegClass.F64), isInt = w.reg(RegClass.PRED), fin = w.reg(RegClass.PRED), h = w.reg(RegClass.F64),
                hr = w.reg(RegClass.F64), odd = w.reg(RegClass.PRED);
        w.op("cvt.rni.f64.f64 " + yr + ", " + y + ";");
        w.op("setp.eq.f64 " + isInt + ", " + yr + ", " + y + ";");
        w.op("testp.finite.f64 " + fin + ", " + y + ";");
        w.op("and.pred " + isInt + ", " + isInt + ", " + fin + ";");
        w.op("mul.rn.f64 " + h + ", " + y + ", " + d(0.5) + ";");
        w.op("cvt.rni.f64.f64 " + hr + ", " + h + ";");
        w.op("setp.ne.f64 " + odd + ", " + hr + ", " + h + ";");
        w.op("and.pred " + odd + ", " + odd + ", " + isInt + ";");
        String bits = w.reg(RegClass.B64), neg = w.reg(RegClass.PRED), nr = w.reg(RegClass.F64);
        w.op("mov.b64 " + bits + ", " + x + ";");
        w.op("setp.lt.s64 " + neg + ", " + bits + ", 0;");
        w.op("and.pred " + neg + ", " + neg + ", " + odd + ";");
        w.op("neg.f64 " + nr + ", " + r + ";");
        w.op("selp.f64 " + r + ", " + nr + ", " + r + ", " + neg + ";");
        // a negative finite base with a non-integer exponent has no real power
        String bad = w.reg(RegClass.PRED), xfin = w.reg(RegClass.PRED), notInt = w.reg(RegClass.PRED);
        w.op("setp.lt.f64 " + bad + ", " + x + ", " + d(0) + ";");
        w.op("testp.finite.f64 " + xfin + ", " + x + ";");
        w.op("and.pred " + bad + ", " + bad + ", " + xfin + ";");
        w.op("not.pred " + notInt + ", " + isInt + ";");
        w.op("and.pred " + bad + ", " + bad + ", " + notInt + ";");
        w.op("and.pred " + bad + ", " + bad + ", " + fin + ";"); // an infinite exponent follows the |x| rules
        w.op("selp.f64 " + r + ", " + d(Double.NaN) + ", " + r + ", " + bad + ";");
        String p = w.reg(RegClass.PRED);
        w.op("setp.eq.f64 " + p + ", " + y + ", " + d(1) + ";");
        w.op("selp.f64 " + r + ", " + x + ", " + r + ", " + p + ";");
        w.op("setp.eq.f64 " + p + ", " + y + ", " + d(0) + ";");
        w.op("selp.f64 " + r + ", " + d(1) + ", " + r + ", " + p + ";");
        return r;
    }

    /// SplitMix64's finalizer on a 64-bit register (the same bits as `Rng.mix`).
    static String mix(EntryWriter w, String z0) {
        String z = w.reg(RegClass.B64), t = w.reg(RegClass.B64);
        w.op("add.u64 " + z + ", " + z0 + ", " + hex(0x9E3779B97F4A7C15L) + ";");
        w.op("shr.u64 " + t + ", " + z + ", 30;");
        w.op("xor.b64 " + z + ", " + z + ", " + t + ";");
        w.op("mul.lo.u64 " + z + ", " + z + ", " + hex(0xBF58476D1CE4E5B9L) + ";");
        w.op("shr.u64 " + t + ", " + z + ", 27;");
        w.op("xor.b64 " + z + ", " + z + ", " + t + ";");
        w.op("mul.lo.u64 " + z + ", " + z + ", " + hex(0x94D049BB133111EBL) + ";");
        w.op("shr.u64 " + t + ", " + z + ", 31;");
        w.op("xor.b64 " + z + ", " + z + ", " + t + ";");
        return z;
    }

    static String hex(long v) { return String.format("0x%016X", v); }

    /// `Rng.uniform(seed, index)` as an f64 register.
    static String uniform(EntryWriter w, String seed, String index) {
        String a = mix(w, seed), s = w.reg(RegClass.B64);
        w.op("add.u64 " + s + ", " + a + ", " + index + ";");
        String b = mix(w, s), top = w.reg(RegClass.B64), f = w.reg(RegClass.F64);
        w.op("shr.u64 " + top + ", " + b + ", 40;");
        w.op("cvt.rn.f64.u64 " + f + ", " + top + ";");
        w.op("mul.rn.f64 " + f + ", " + f + ", " + d(0x1p-24) + ";");
        return f;
    }
}
