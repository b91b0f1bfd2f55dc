package dev.kiln.ir.interp;

import dev.kiln.ir.Axes;
import dev.kiln.ir.Builder;
import dev.kiln.ir.Ints;
import dev.kiln.ir.IrError;
import dev.kiln.ir.TensorType;
import dev.kiln.ir.Value;
import dev.kiln.runtime.DType;
import dev.kiln.runtime.NdArray;
import dev.kiln.runtime.Rng;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.function.BiFunction;
import java.util.function.Function;

import static dev.kiln.ir.TensorType.f32;
import static org.junit.jupiter.api.Assertions.*;

/// Per-op checks of the reference interpreter against values worked out by hand.
class InterpreterTest {

    /// Runs a one-input graph `f(x)`.
    static NdArray run1(NdArray x, TensorType xt, Function<Builder, Function<Value, Value>> f) {
        Builder b = new Builder();
        Value p = b.param("x", xt);
        return Interpreter.run(b.build("t", f.apply(b).apply(p)), List.of(x)).getFirst();
    }

    static NdArray run2(NdArray x, TensorType xt, NdArray y, TensorType yt, Function<Builder, BiFunction<Value, Value, Value>> f) {
        Builder b = new Builder();
        Value p = b.param("x", xt), q = b.param("y", yt);
        return Interpreter.run(b.build("t", f.apply(b).apply(p, q)), List.of(x, y)).getFirst();
    }

    static void assertValues(NdArray a, int[] shape, double... expected) {
        assertArrayEquals(shape, a.shape(), "shape");
        assertEquals(expected.length, a.size());
        for (int i = 0; i < expected.length; i++)
            assertEquals(expected[i], a.getDouble(i), 1e-6 * Math.max(1, Math.abs(expected[i])), "element " + i);
    }

    static final NdArray M23 = NdArray.of(new float[]{1, 2, 3, 4, 5, 6}, 2, 3);

    @Test void elementwiseUnaryFloat() {
        NdArray x = NdArray.of(new float[]{-2, -0.5f, 0, 1, 4}, 5);
        TensorType t = f32(5);
        assertValues(run1(x, t, b -> b::neg), new int[]{5}, 2, 0.5, 0, -1, -4);
        assertValues(run1(x, t, b -> b::abs), new int[]{5}, 2, 0.5, 0, 1, 4);
        assertValues(run1(x, t, b -> b::sign), new int[]{5}, -1, -1, 0, 1, 1);
        assertValues(run1(x, t, b -> b::relu), new int[]{5}, 0, 0, 0, 1, 4);
        assertValues(run1(x, t, b -> b::exp), new int[]{5}, Math.exp(-2), Math.exp(-0.5), 1, Math.E, Math.exp(4));
        assertValues(run1(x, t, b -> b::tanh), new int[]{5}, Math.tanh(-2), Math.tanh(-0.5), 0, Math.tanh(1), Math.tanh(4));
        NdArray s = run1(x, t, b -> b::sqrt);
        assertTrue(Double.isNaN(s.getDouble(0)));
        assertEquals(2.0, s.getDouble(4));
        NdArray l = run1(x, t, b -> b::log);
        assertEquals(Double.NEGATIVE_INFINITY, l.getDouble(2));
        assertEquals(Math.log(4), l.getDouble(4), 1e-6);
    }

    @Test void f32ResultsAreRoundedOncePerOp() {
        NdArray x = NdArray.of(new float[]{0.1f}, 1), y = NdArray.of(new float[]{0.2f}, 1);
        NdArray r = run2(x, f32(1), y, f32(1), b -> b::add);
        assertEquals(0.1f + 0.2f, (float) r.getDouble(0));
        assertEquals(DType.F32, r.dtype());
    }

    @Test void binaryFloat() {
        NdArray x = NdArray.of(new float[]{1, 2, 3, 4, 5, 6}, 2, 3), y = NdArray.of(new float[]{6, 5, 4, 3, 2, 1}, 2, 3);
        TensorType t = f32(2, 3);
        int[] s = {2, 3};
        assertValues(run2(x, t, y, t, b -> b::add), s, 7, 7, 7, 7, 7, 7);
        assertValues(run2(x, t, y, t, b -> b::sub), s, -5, -3, -1, 1, 3, 5);
        assertValues(run2(x, t, y, t, b -> b::mul), s, 6, 10, 12, 12, 10, 6);
        assertValues(run2(x, t, y, t, b -> b::div), s, 1 / 6.0, 0.4, 0.75, 4 / 3.0, 2.5, 6);
        assertValues(run2(x, t, y, t, b -> b::pow), s, 1, 32, 81, 64, 25, 6);
        assertValues(run2(x, t, y, t, b -> b::max), s, 6, 5, 4, 4, 5, 6);
        assertValues(run2(x, t, y, t, b -> b::min), s, 1, 2, 3, 3, 2, 1);
    }

    @Test void comparisonsGiveBool() {
        NdArray x = NdArray.of(new float[]{1, 2, 3}, 3), y = NdArray.of(new float[]{2, 2, 2}, 3);
        TensorType t = f32(3);
        NdArray lt = run2(x, t, y, t, b -> b::lt);
        assertEquals(DType.BOOL, lt.dtype());
        assertValues(lt, new int[]{3}, 1, 0, 0);
        assertValues(run2(x, t, y, t, b -> b::le), new int[]{3}, 1, 1, 0);
        assertValues(run2(x, t, y, t, b -> b::gt), new int[]{3}, 0, 0, 1);
        assertValues(run2(x, t, y, t, b -> b::ge), new int[]{3}, 0, 1, 1);
        assertValues(run2(x, t, y, t, b -> b::eq), new int[]{3}, 0, 1, 0);
        assertValues(run2(x, t, y, t, b -> b::ne), new int[]{3}, 1, 0, 1);
    }

    @Test void integerAndBoolMath() {
        TensorType t = TensorType.of(DType.I64, 4);
        NdArray x = NdArray.of(new long[]{7, -7, 9_000_000_000_000_000L, 5}, 4), y = NdArray.of(new long[]{2, 2, 1, 0}, 4);
        NdArray q = run2(x, t, y, t, b -> b::div);
        assertEquals(List.of(3L, -3L, 9_000_000_000_000_000L, 0L), List.of(q.getLong(0), q.getLong(1), q.getLong(2), q.getLong(3)));
        NdArray s = run2(x, t, y, t, b -> b::add);
        assertEquals(9_000_000_000_000_001L, s.getLong(2), "i64 stays exact beyond 2^53");
        TensorType i32 = TensorType.of(DType.I32, 1);
        NdArray w = run2(NdArray.of(new int[]{Integer.MAX_VALUE}, 1), i32, NdArray.of(new int[]{1}, 1), i32, b -> b::add);
        assertEquals(Integer.MIN_VALUE, w.getLong(0), "i32 wraps");
        TensorType bt = TensorType.bool(3);
        NdArray p = NdArray.of(new boolean[]{true, true, false}, 3), r = NdArray.of(new boolean[]{true, false, false}, 3);
        assertValues(run2(p, bt, r, bt, b -> b::and), new int[]{3}, 1, 0, 0);
        assertValues(run2(p, bt, r, bt, b -> b::or), new int[]{3}, 1, 1, 0);
        assertValues(run1(p, bt, b -> b::not), new int[]{3}, 0, 0, 1);
        assertValues(run1(NdArray.of(new int[]{-3, 0, 4}, 3), TensorType.of(DType.I32, 3), b -> b::relu), new int[]{3}, 0, 0, 4);
    }

    @Test void selectAndCast() {
        Builder b = new Builder();
        Value c = b.param("c", TensorType.bool(3)), x = b.param("x", f32(3)), y = b.param("y", f32(3));
        Value s = b.select(c, x, y);
        Value i = b.cast(x, DType.I32);
        var out = Interpreter.run(b.build("t", s, i), List.of(NdArray.of(new boolean[]{true, false, true}, 3),
                NdArray.of(new float[]{1.7f, -2.7f, 3}, 3), NdArray.of(new float[]{9, 8, 7}, 3)));
        assertValues(out.get(0), new int[]{3}, 1.7f, 8, 3);
        assertEquals(DType.I32, out.get(1).dtype());
        assertValues(out.get(1), new int[]{3}, 1, -2, 3);
    }

    @Test void broadcastCornerCases() {
        // [2,1] -> [2,3]: the size-1 axis stretches
        NdArray col = NdArray.of(new float[]{5, 6}, 2, 1);
        assertValues(run1(col, f32(2, 1), b -> x -> b.broadcast(x, Axes.of(0, 1), f32(2, 3))), new int[]{2, 3}, 5, 5, 5, 6, 6, 6);
        // scalar -> [2,2]
        assertValues(run1(NdArray.scalar(DType.F32, 3), f32(), b -> x -> b.broadcast(x, Axes.of(), f32(2, 2))), new int[]{2, 2}, 3, 3, 3, 3);
        // [3] onto axis 1 of [2,3,2] (a middle axis)
        NdArray v = NdArray.of(new float[]{1, 2, 3}, 3);
        assertValues(run1(v, f32(3), b -> x -> b.broadcast(x, Axes.of(1), f32(2, 3, 2))), new int[]{2, 3, 2},
                1, 1, 2, 2, 3, 3, 1, 1, 2, 2, 3, 3);
        // NumPy-style [[1,2],[3,4]] * [[5],[6]] = [[5,10],[18,24]]
        Builder b = new Builder();
        Value a = b.param("a", f32(2, 2)), c = b.param("c", f32(2, 1));
        Value r = b.mul(a, b.broadcastTo(c, f32(2, 2)));
        assertValues(Interpreter.run(b.build("t", r), List.of(NdArray.of(new float[]{1, 2, 3, 4}, 2, 2), NdArray.of(new float[]{5, 6}, 2, 1))).getFirst(),
                new int[]{2, 2}, 5, 10, 18, 24);
    }

    @Test void layoutOps() {
        assertValues(run1(M23, f32(2, 3), b -> x -> b.transpose(x, Axes.of(1, 0))), new int[]{3, 2}, 1, 4, 2, 5, 3, 6);
        assertValues(run1(M23, f32(2, 3), b -> x -> b.reshape(x, f32(3, 2))), new int[]{3, 2}, 1, 2, 3, 4, 5, 6);
        assertValues(run1(M23, f32(2, 3), b -> x -> b.slice(x, 1, 1, 3, 1)), new int[]{2, 2}, 2, 3, 5, 6);
        assertValues(run1(M23, f32(2, 3), b -> x -> b.slice(x, 1, 0, 3, 2)), new int[]{2, 2}, 1, 3, 4, 6);
        assertValues(run1(M23, f32(2, 3), b -> x -> b.pad(x, 0, 1, 0, -1)), new int[]{3, 3}, -1, -1, -1, 1, 2, 3, 4, 5, 6);
        assertValues(run1(M23, f32(2, 3), b -> x -> b.concat(List.of(x, b.slice(x, 1, 0, 1, 1)), 1)), new int[]{2, 4},
                1, 2, 3, 1, 4, 5, 6, 4);
        // 3-D transpose: [2,1,3] perm [2,0,1] -> [3,2,1]
        NdArray t3 = NdArray.of(new float[]{1, 2, 3, 4, 5, 6}, 2, 1, 3);
        assertValues(run1(t3, f32(2, 1, 3), b -> x -> b.transpose(x, Axes.of(2, 0, 1))), new int[]{3, 2, 1}, 1, 4, 2, 5, 3, 6);
    }

    @Test void reductions() {
        assertValues(run1(M23, f32(2, 3), b -> x -> b.reduceSum(x, Axes.of(0))), new int[]{3}, 5, 7, 9);
        assertValues(run1(M23, f32(2, 3), b -> x -> b.reduceSum(x, Axes.of(1))), new int[]{2}, 6, 15);
        assertValues(run1(M23, f32(2, 3), b -> x -> b.reduceSum(x, Axes.of(0, 1))), new int[]{}, 21);
        assertValues(run1(M23, f32(2, 3), b -> x -> b.reduceMax(x, Axes.of(0))), new int[]{3}, 4, 5, 6);
        NdArray ties = NdArray.of(new float[]{3, 1, 3, 2, 7, 7}, 2, 3);
        NdArray am = run1(ties, f32(2, 3), b -> x -> b.argmax(x, 1));
        assertEquals(DType.I64, am.dtype());
        assertValues(am, new int[]{2}, 0, 1);
        assertValues(run1(ties, f32(2, 3), b -> x -> b.argmax(x, 0)), new int[]{3}, 0, 1, 1);
        // max over an empty axis is -inf; a sum over it is 0
        NdArray empty = NdArray.zeros(DType.F32, 2, 0);
        assertValues(run1(empty, f32(2, 0), b -> x -> b.reduceMax(x, Axes.of(1))), new int[]{2}, Double.NEGATIVE_INFINITY, Double.NEGATIVE_INFINITY);
        assertValues(run1(empty, f32(2, 0), b -> x -> b.reduceSum(x, Axes.of(1))), new int[]{2}, 0, 0);
    }

    @Test void matmulPlainAndBatched() {
        NdArray a = NdArray.of(new float[]{1, 2, 3, 4, 5, 6}, 2, 3), bm = NdArray.of(new float[]{7, 8, 9, 10, 11, 12}, 3, 2);
        assertValues(run2(a, f32(2, 3), bm, f32(3, 2), b -> b::matmul), new int[]{2, 2}, 58, 64, 139, 154);
        NdArray ba = NdArray.of(new float[]{1, 0, 0, 1, 2, 0, 0, 2}, 2, 2, 2), bb = NdArray.of(new float[]{1, 2, 3, 4, 1, 2, 3, 4}, 2, 2, 2);
        assertValues(run2(ba, f32(2, 2, 2), bb, f32(2, 2, 2), b -> b::matmul), new int[]{2, 2, 2}, 1, 2, 3, 4, 2, 4, 6, 8);
    }

    @Test void conv2dAgainstHandComputedValues() {
        // 1x1x3x3 input 1..9, 1x1x2x2 kernel of ones: each output is the sum of a 2x2 window
        NdArray x = NdArray.of(new float[]{1, 2, 3, 4, 5, 6, 7, 8, 9}, 1, 1, 3, 3);
        NdArray w = NdArray.of(new float[]{1, 1, 1, 1}, 1, 1, 2, 2);
        Ints one = Ints.of(1, 1), zero = Ints.of(0, 0);
        assertValues(run2(x, f32(1, 1, 3, 3), w, f32(1, 1, 2, 2), b -> (p, q) -> b.conv2d(p, q, one, zero, one, 1)),
                new int[]{1, 1, 2, 2}, 12, 16, 24, 28);
        // padding 1, stride 2: windows at (-1,-1), (-1,1), (1,-1), (1,1)
        assertValues(run2(x, f32(1, 1, 3, 3), w, f32(1, 1, 2, 2), b -> (p, q) -> b.conv2d(p, q, Ints.of(2, 2), one, one, 1)),
                new int[]{1, 1, 2, 2}, 1, 5, 11, 28);
        // dilation 2 with a 2x2 kernel picks the corners
        assertValues(run2(x, f32(1, 1, 3, 3), w, f32(1, 1, 2, 2), b -> (p, q) -> b.conv2d(p, q, one, zero, Ints.of(2, 2), 1)),
                new int[]{1, 1, 1, 1}, 1 + 3 + 7 + 9);
        // groups=2: each output channel sees only its own input channel
        NdArray x2 = NdArray.of(new float[]{1, 2, 3, 4, 10, 20, 30, 40}, 1, 2, 2, 2);
        NdArray w2 = NdArray.of(new float[]{1, 1, 1, 1, 2, 0, 0, 0}, 2, 1, 2, 2);
        assertValues(run2(x2, f32(1, 2, 2, 2), w2, f32(2, 1, 2, 2), b -> (p, q) -> b.conv2d(p, q, one, zero, one, 2)),
                new int[]{1, 2, 1, 1}, 10, 20);
    }

    @Test void convGradientsAreAdjointsOfTheForward() {
        // <conv(x, w), g> = <x, gradInput(g, w)> = <w, gradWeight(x, g)> for any x, w, g.
        java.util.Random r = new java.util.Random(1);
        TensorType xt = TensorType.f64(2, 4, 5, 6), wt = TensorType.f64(6, 2, 3, 2);
        Ints stride = Ints.of(2, 1), pad = Ints.of(1, 0), dil = Ints.of(1, 2);
        Builder b = new Builder();
        Value x = b.param("x", xt), w = b.param("w", wt);
        Value y = b.conv2d(x, w, stride, pad, dil, 2);
        Value g = b.param("g", y.type());
        Value gx = b.conv2dGradInput(g, w, stride, pad, dil, 2, xt);
        Value gw = b.conv2dGradWeight(x, g, stride, pad, dil, 2, wt);
        NdArray xa = random(r, 2, 4, 5, 6), wa = random(r, 6, 2, 3, 2), ga = random(r, y.type().shape().resolve(java.util.Map.of()));
        var out = Interpreter.run(b.build("t", y, gx, gw), List.of(xa, wa, ga));
        double yg = dot(out.get(0), ga), xgx = dot(xa, out.get(1)), wgw = dot(wa, out.get(2));
        assertEquals(yg, xgx, 1e-9 * Math.abs(yg));
        assertEquals(yg, wgw, 1e-9 * Math.abs(yg));
    }

    @Test void symbolicDimsBindAtRunTime() {
        Builder b = new Builder();
        Value x = b.param("x", f32("B", 3)), w = b.param("w", f32(3, 2));
        Value y = b.reduceSum(b.matmul(x, w), Axes.of(1));
        Value c = b.add(y, b.constant(1, f32("B")));
        var g = b.build("t", c);
        NdArray wv = NdArray.of(new float[]{1, 0, 0, 1, 1, 1}, 3, 2);
        for (int batch : new int[]{1, 4, 7}) {
            float[] xs = new float[batch * 3];
            for (int i = 0; i < xs.length; i++) xs[i] = i;
            NdArray out = Interpreter.run(g, List.of(NdArray.of(xs, batch, 3), wv)).getFirst();
            assertArrayEquals(new int[]{batch}, out.shape());
            for (int i = 0; i < batch; i++) // row [a,b,c] @ w summed = a + b + 2c, plus 1
                assertEquals(3 * i + (3 * i + 1) + 2 * (3 * i + 2) + 1, out.getDouble(i), 1e-4);
        }
    }

    @Test void badInputsAreNamed() {
        Builder b = new Builder();
        Value x = b.param("x", f32("B", 3)), y = b.param("y", f32("B", 3));
        var g = b.build("t", b.add(x, y));
        var e = assertThrows(IrError.class, () -> Interpreter.run(g, List.of(NdArray.zeros(DType.F32, 2, 4), NdArray.zeros(DType.F32, 2, 3))));
        assertEquals("error: input '%x' is f32[2,4], expected f32[B,3]", e.getMessage());
        e = assertThrows(IrError.class, () -> Interpreter.run(g, List.of(NdArray.zeros(DType.F32, 2, 3), NdArray.zeros(DType.F32, 5, 3))));
        assertTrue(e.getMessage().contains("B = 2"), e.getMessage());
        e = assertThrows(IrError.class, () -> Interpreter.run(g, List.of(NdArray.zeros(DType.F64, 2, 3), NdArray.zeros(DType.F32, 2, 3))));
        assertTrue(e.getMessage().contains("f64[2,3], expected f32[B,3]"), e.getMessage());
    }

    @Test void argmaxOverAnAxisBoundToZeroIsAnError() {
        Builder b = new Builder();
        Value x = b.param("x", f32(2, "N"));
        var g = b.build("t", b.argmax(x, 1));
        var e = assertThrows(IrError.class, () -> Interpreter.run(g, List.of(NdArray.zeros(DType.F32, 2, 0))));
        assertEquals("error: 'argmax' over axis 1, which is empty in [2,0]", e.getMessage());
    }

    @Test void iotaAndRandom() {
        Builder b = new Builder();
        Value seed = b.param("seed", TensorType.i64());
        Value io = b.iota(1, TensorType.i64(2, 3));
        Value r = b.randomUniform(seed, f32(1000));
        var out = Interpreter.run(b.build("t", io, r), List.of(NdArray.scalar(DType.I64, 42)));
        assertValues(out.get(0), new int[]{2, 3}, 0, 1, 2, 0, 1, 2);
        double sum = 0;
        for (int i = 0; i < 1000; i++) {
            double u = out.get(1).getDouble(i);
            assertTrue(u >= 0 && u < 1);
            assertEquals(Rng.uniform(42, i), u);
            sum += u;
        }
        assertEquals(0.5, sum / 1000, 0.05, "mean of 1000 uniform draws");
    }

    static NdArray random(java.util.Random r, int... shape) {
        NdArray a = NdArray.zeros(DType.F64, shape);
        for (int i = 0; i < a.size(); i++) a.setDouble(i, r.nextGaussian());
        return a;
    }

    static double dot(NdArray a, NdArray b) {
        double s = 0;
        for (int i = 0; i < a.size(); i++) s += a.getDouble(i) * b.getDouble(i);
        return s;
    }
}
