package dev.kiln.codegen.jvm;

import dev.kiln.codegen.jvm.rt.PlanExecutable;
import dev.kiln.ir.Axes;
import dev.kiln.ir.Builder;
import dev.kiln.ir.Graph;
import dev.kiln.ir.TensorType;
import dev.kiln.ir.Value;
import dev.kiln.ir.interp.Interpreter;
import dev.kiln.runtime.DType;
import dev.kiln.runtime.NdArray;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;
import java.util.Random;

import static dev.kiln.codegen.jvm.Parity.bindings;
import static dev.kiln.ir.TensorType.f32;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/// The loop rewrites of the bytecode generator against the interpreter: full unrolling of small
/// constant loops (pooling windows), affine index regrouping (symbolic strides, transposes),
/// and reductions split over partial accumulators (extents around the lane count, NaN, signed
/// zeros, ties). Max, min, integer sums and the max-pool gradient must match bit for bit; f64
/// sums within the f64 tolerance, f32 results of f64 sums within the f32 one.
class LoopRewriteTest {

    /// Max pooling over `k x k` windows of `x[B,C,H*k,W*k]` and its gradient, as the frontend
    /// writes them: a reshape to `[B,C,H,k,W,k]` and a reduction over axes 3 and 5.
    static Graph pool(int k, int c, int h, int w) {
        Builder b = new Builder();
        TensorType xt = f32("B", c, h * k, w * k), win = f32("B", c, h, k, w, k), yt = f32("B", c, h, w);
        Value x = b.param("x", xt), g = b.param("g", yt);
        Value xw = b.reshape(x, win);
        Value y = b.reduceMax(xw, Axes.of(3, 5));
        Value dx = b.reshape(b.reduceMaxGrad(xw, y, g, Axes.of(3, 5)), xt);
        return b.build("pool" + k, y, dx);
    }

    /// Inputs with many ties (few distinct values, +0.0 and -0.0 among them) and some NaNs.
    static List<NdArray> poolInputs(Graph g, int batch, long seed) {
        Random r = new Random(seed);
        List<NdArray> in = Parity.randomInputs(g, bindings("B", batch), seed);
        NdArray x = in.getFirst();
        float[] levels = {0f, -0f, 1f, 2f, -1f, Float.NaN, 0.5f};
        for (int i = 0; i < x.size(); i++) {
            int pick = r.nextInt(20);
            x.setDouble(i, pick < levels.length ? levels[pick] : r.nextInt(5) - 2);
        }
        return in;
    }

    static void exact(String what, NdArray want, NdArray got) {
        assertEquals(want.size(), got.size(), what);
        for (int i = 0; i < want.size(); i++) {
            double w = want.getDouble(i), x = got.getDouble(i);
            assertTrue(Double.isNaN(w) ? Double.isNaN(x) : Double.doubleToRawLongBits(w) == Double.doubleToRawLongBits(x),
                    what + ": element " + i + " want " + w + " got " + x);
        }
    }

    @Test void maxPoolForwardAndGradientWithTiesAndNaN() {
        // 2x2 and 3x3 windows are unrolled, 4x4 partly (the size budget), 5x5 not at all
        for (int k : new int[]{2, 3, 4, 5}) {
            Graph g = pool(k, 3, 4, 3);
            Parity.verify(JvmBackend.classBytes(g));
            PlanExecutable exe = JvmBackend.compile(g);
            for (int batch : new int[]{1, 2, 5}) {
                List<NdArray> in = poolInputs(g, batch, 31L * k + batch);
                List<NdArray> want = Interpreter.run(g, in), got = exe.run(in);
                exact("pool" + k + " B=" + batch + " max", want.get(0), got.get(0));
                exact("pool" + k + " B=" + batch + " grad", want.get(1), got.get(1));
            }
        }
    }

    /// `reduce(x[B,n])` over the last axis for extents below, at and around the lane count.
    static Graph reduce(DType d, int n, String op) {
        Builder b = new Builder();
        Value x = b.param("x", TensorType.of(d, "B", n));
        Value y = switch (op) {
            case "sum" -> b.reduceSum(x, Axes.of(1));
            case "max" -> b.reduceMax(x, Axes.of(1));
            default -> throw new IllegalArgumentException(op);
        };
        return b.build(op + n, y);
    }

    @Test void sumsOverPartialAccumulators() {
        for (DType d : new DType[]{DType.F32, DType.F64, DType.I32, DType.I64})
            for (int n : new int[]{1, 3, 4, 5, 7, 8, 9, 28, 103}) {
                Graph g = reduce(d, n, "sum");
                Parity.check(g, bindings("B", 1), bindings("B", 6));
            }
    }

    /// Sums of values whose serial f64 total is exact (small integers times a power of two):
    /// any grouping gives the same, so the f32 result matches bit for bit.
    @Test void exactSumsMatchBitForBit() {
        Graph g = reduce(DType.F32, 29, "sum");
        PlanExecutable exe = JvmBackend.compile(g);
        NdArray x = NdArray.zeros(DType.F32, 4, 29);
        Random r = new Random(5);
        for (int i = 0; i < x.size(); i++) x.setDouble(i, (r.nextInt(2001) - 1000) / 64.0);
        exact("sum29", Interpreter.run(g, List.of(x)).getFirst(), exe.run(List.of(x)).getFirst());
    }

    /// A sum of only -0.0 values: the serial f64 sum starts at +0.0, so it is +0.0; the partial
    /// accumulators must not turn that into -0.0 (nor a NaN or infinity into anything else).
    @Test void sumOfSignedZerosAndSpecials() {
        Graph g = reduce(DType.F32, 9, "sum");
        PlanExecutable exe = JvmBackend.compile(g);
        float[][] rows = {
                {-0f, -0f, -0f, -0f, -0f, -0f, -0f, -0f, -0f},
                {1, 2, 3, 4, 5, 6, 7, 8, Float.NaN},
                {Float.POSITIVE_INFINITY, 1, 1, 1, 1, 1, 1, 1, Float.NEGATIVE_INFINITY},
                {Float.POSITIVE_INFINITY, 1, 1, 1, 1, 1, 1, 1, 1},
        };
        NdArray x = NdArray.zeros(DType.F32, rows.length, 9);
        for (int i = 0; i < rows.length; i++) for (int j = 0; j < 9; j++) x.setDouble(i * 9 + j, rows[i][j]);
        exact("special sums", Interpreter.run(g, List.of(x)).getFirst(), exe.run(List.of(x)).getFirst());
    }

    /// Max over rows of 10 (a fold of four lanes and a remainder of two) with a NaN, -0.0 vs
    /// +0.0, or -infinity at each position in turn, so every lane and the remainder see it.
    @Test void maxFoldKeepsNaNAndSignedZeros() {
        for (DType d : new DType[]{DType.F32, DType.F64}) {
            Graph g = reduce(d, 10, "max");
            PlanExecutable exe = JvmBackend.compile(g);
            double[] specials = {Double.NaN, -0.0, 0.0, Double.NEGATIVE_INFINITY};
            int rows = 10 * specials.length;
            NdArray x = NdArray.zeros(d, rows, 10);
            for (int s = 0; s < specials.length; s++)
                for (int pos = 0; pos < 10; pos++) {
                    int row = s * 10 + pos;
                    // -0.0 / +0.0 rows: the rest is -0.0 / +0.0 of the other sign or below zero
                    for (int j = 0; j < 10; j++) x.setDouble(row * 10 + j, specials[s] == 0 ? (j % 2 == 0 ? -0.0 : -1.0) : -j);
                    x.setDouble(row * 10 + pos, specials[s]);
                }
            exact("max10 " + d, Interpreter.run(g, List.of(x)).getFirst(), exe.run(List.of(x)).getFirst());
        }
    }

    /// Index expressions with a symbol inside (a transpose of `[B,n]`, strides of B) and a
    /// broadcast, so the regrouped sums have symbolic coefficients.
    @Test void symbolicStridesThroughTransposes() {
        Builder b = new Builder();
        Value x = b.param("x", f32("B", 3, 4)), v = b.param("v", f32(4));
        Value t = b.transpose(x, Axes.of(2, 0, 1));                        // [4,B,3], strides of B
        Value s = b.add(t, b.broadcast(v, Axes.of(0), f32(4, "B", 3)));
        Value m = b.reduceMax(s, Axes.of(1));                              // over B: a fold over a symbolic extent
        Value sum = b.reduceSum(b.transpose(s, Axes.of(1, 2, 0)), Axes.of(0, 2));
        Graph g = b.build("strides", m, sum);
        Parity.check(g, bindings("B", 1), bindings("B", 2), bindings("B", 5), bindings("B", 9));
    }

    @Test void integerMaxAndSumFoldExactly() {
        Map<String, Integer> bind = bindings("B", 7);
        for (String op : List.of("sum", "max"))
            for (int n : new int[]{2, 6, 13}) {
                Graph g = reduce(DType.I32, n, op);
                List<NdArray> in = Parity.randomInputs(g, bind, n);
                exact(op + n, Interpreter.run(g, in).getFirst(), JvmBackend.compile(g).run(in).getFirst());
            }
    }

    /// Float `==` and `!=` are computed from the bits of `a - b`, falling back to a compare
    /// only when the difference is NaN: every pair of special values against the interpreter.
    @Test void floatEqualityOnSpecialValues() {
        double[] values = {0.0, -0.0, 1.0, -1.0, 1.5, Double.MIN_VALUE, -Double.MIN_VALUE, Float.MIN_VALUE, -Float.MIN_VALUE,
                Float.MAX_VALUE, -Float.MAX_VALUE, Double.MAX_VALUE, -Double.MAX_VALUE,
                Double.POSITIVE_INFINITY, Double.NEGATIVE_INFINITY, Double.NaN, 1e-300, 1e-300 * (1 + 0x1p-52)};
        int n = values.length * values.length;
        for (DType d : new DType[]{DType.F32, DType.F64}) {
            Builder b = new Builder();
            Value x = b.param("x", TensorType.of(d, n)), y = b.param("y", TensorType.of(d, n));
            Graph g = b.build("eq_" + d, b.cast(b.eq(x, y), DType.I32), b.cast(b.ne(x, y), DType.I32));
            NdArray xs = NdArray.zeros(d, n), ys = NdArray.zeros(d, n);
            for (int i = 0; i < values.length; i++)
                for (int j = 0; j < values.length; j++) {
                    xs.setDouble(i * values.length + j, values[i]);
                    ys.setDouble(i * values.length + j, values[j]);
                }
            List<NdArray> in = List.of(xs, ys), want = Interpreter.run(g, in), got = JvmBackend.compile(g).run(in);
            exact("eq " + d, want.get(0), got.get(0));
            exact("ne " + d, want.get(1), got.get(1));
        }
    }
}
