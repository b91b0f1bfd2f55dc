package dev.kiln.passes.autodiff;

import dev.kiln.ir.Axes;
import dev.kiln.ir.Builder;
import dev.kiln.ir.Graph;
import dev.kiln.ir.Ints;
import dev.kiln.ir.IrError;
import dev.kiln.ir.Shape;
import dev.kiln.ir.TensorType;
import dev.kiln.ir.Value;
import dev.kiln.ir.interp.Interpreter;
import dev.kiln.runtime.DType;
import dev.kiln.runtime.NdArray;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.function.BiFunction;
import java.util.function.Function;

import static dev.kiln.passes.autodiff.GradCheck.*;
import static org.junit.jupiter.api.Assertions.*;

/// One gradient check per differentiable primitive (random shapes and values, fixed seeds, f64),
/// plus the conventions at ties and kinks, the non-differentiable ops, and pruning.
class PrimitiveGradTest {
    static final int SEEDS = 3;

    static TensorType f64(int... shape) {
        long[] l = new long[shape.length];
        for (int i = 0; i < shape.length; i++) l[i] = shape[i];
        return new TensorType(DType.F64, Shape.of(l));
    }

    static int[] randomShape(Random rng, int rank) {
        int[] s = new int[rank];
        for (int i = 0; i < rank; i++) s[i] = 1 + rng.nextInt(4);
        return s;
    }

    /// Checks `op(x)` on a random shape; `gen` draws x's values.
    void unary(String name, Function<Builder, Function<Value, Value>> op, Function<Random, Function<int[], NdArray>> gen) {
        for (long seed = 0; seed < SEEDS; seed++) {
            Random rng = new Random(seed);
            int[] s = randomShape(rng, 1 + rng.nextInt(3));
            Builder b = new Builder();
            Value x = b.param("x", f64(s));
            Graph f = weighted(b, name, op.apply(b).apply(x));
            check(f, List.of("x"), Map.of("x", gen.apply(rng).apply(s)), seed);
        }
    }

    void binary(String name, Function<Builder, BiFunction<Value, Value, Value>> op,
                Function<Random, Function<int[], NdArray>> genX, Function<Random, Function<int[], NdArray>> genY) {
        for (long seed = 0; seed < SEEDS; seed++) {
            Random rng = new Random(seed);
            int[] s = randomShape(rng, 1 + rng.nextInt(3));
            Builder b = new Builder();
            Value x = b.param("x", f64(s)), y = b.param("y", f64(s));
            Graph f = weighted(b, name, op.apply(b).apply(x, y));
            check(f, List.of("x", "y"), Map.of("x", genX.apply(rng).apply(s), "y", genY.apply(rng).apply(s)), seed);
            check(f, List.of("y"), Map.of("x", genX.apply(rng).apply(s), "y", genY.apply(rng).apply(s)), seed);
        }
    }

    static Function<Random, Function<int[], NdArray>> any() { return r -> s -> uniform(r, DType.F64, -2, 2, s); }
    static Function<Random, Function<int[], NdArray>> positive() { return r -> s -> uniform(r, DType.F64, 0.2, 2, s); }
    static Function<Random, Function<int[], NdArray>> nonzero() { return r -> s -> awayFromZero(r, 0.1, 2, s); }

    // ---- elementwise ---------------------------------------------------------------------

    @Test void neg() { unary("neg", b -> b::neg, any()); }
    @Test void abs() { unary("abs", b -> b::abs, nonzero()); }
    @Test void relu() { unary("relu", b -> b::relu, nonzero()); }
    @Test void exp() { unary("exp", b -> b::exp, any()); }
    @Test void log() { unary("log", b -> b::log, positive()); }
    @Test void sqrt() { unary("sqrt", b -> b::sqrt, positive()); }
    @Test void tanh() { unary("tanh", b -> b::tanh, any()); }

    @Test void add() { binary("add", b -> b::add, any(), any()); }
    @Test void sub() { binary("sub", b -> b::sub, any(), any()); }
    @Test void mul() { binary("mul", b -> b::mul, any(), any()); }
    @Test void div() { binary("div", b -> b::div, any(), nonzero()); }
    @Test void powBothOperands() { binary("pow", b -> b::pow, positive(), any()); }
    @Test void max() { binary("max", b -> b::max, any(), any()); }
    @Test void min() { binary("min", b -> b::min, any(), any()); }

    @Test void powNegativeBaseIntegerExponent() {
        // x^3 and x^2 for negative x: only the base is differentiated (the exponent's gradient
        // would need log(x)).
        Random rng = new Random(7);
        Builder b = new Builder();
        Value x = b.param("x", f64(5));
        Value cube = b.pow(x, b.constant(3.0, f64(5))), square = b.pow(x, b.constant(2.0, f64(5)));
        Graph f = weighted(b, "pow_int", b.add(cube, square));
        check(f, List.of("x"), Map.of("x", uniform(rng, DType.F64, -2, -0.1, 5)), 7);
    }

    @Test void mulSameOperandTwice() {
        // mul(x, x): both cotangents land on x and are summed.
        Builder b = new Builder();
        Value x = b.param("x", f64(3, 2));
        check(weighted(b, "square", b.mul(x, x)), List.of("x"), Map.of(), 1);
    }

    @Test void select() {
        for (long seed = 0; seed < SEEDS; seed++) {
            Random rng = new Random(seed);
            int[] s = randomShape(rng, 2);
            Builder b = new Builder();
            Value c = b.param("c", new TensorType(DType.BOOL, f64(s).shape()));
            Value x = b.param("x", f64(s)), y = b.param("y", f64(s));
            Graph f = weighted(b, "select", b.select(c, x, y));
            NdArray cond = NdArray.zeros(DType.BOOL, s);
            for (int i = 0; i < cond.size(); i++) cond.setBool(i, rng.nextBoolean());
            List<NdArray> g = check(f, List.of("x", "y"), Map.of("c", cond), seed);
            // Exact: the gradient is r where the condition picks the operand, else 0.
            NdArray r = fill(f, Map.of("c", cond), new Random(seed)).get("r");
            for (int i = 0; i < cond.size(); i++) {
                assertEquals(cond.getBool(i) ? r.getDouble(i) : 0, g.get(0).getDouble(i));
                assertEquals(cond.getBool(i) ? 0 : r.getDouble(i), g.get(1).getDouble(i));
            }
        }
    }

    @Test void selectOnItsOwnOperand() {
        // where(x > 0, x, 2x): the comparison contributes nothing; each branch gets its share.
        Builder b = new Builder();
        Value x = b.param("x", f64(6));
        Value two = b.constant(2.0, f64(6));
        Graph f = weighted(b, "leaky", b.select(b.gt(x, b.constant(0.0, f64(6))), x, b.mul(two, x)));
        check(f, List.of("x"), Map.of("x", awayFromZero(new Random(3), 0.1, 1, 6)), 3);
    }

    @Test void castBetweenFloats() {
        // f64 -> f32 -> f64: the gradient is cast back; finite differences see f32 rounding, so
        // the step is larger and the tolerance looser than elsewhere.
        Builder b = new Builder();
        Value x = b.param("x", f64(4, 3));
        Value y = b.cast(b.mul(b.cast(x, DType.F32), b.cast(x, DType.F32)), DType.F64);
        check(weighted(b, "cast", y), List.of("x"), Map.of(), 5, 1e-2, 1e-4);
    }

    @Test void castF32Parameter() {
        // An f32 parameter differentiated through an f64 computation: its gradient is f32.
        Builder b = new Builder();
        Value x = b.param("x", TensorType.f32(3));
        Value y = b.cast(x, DType.F64);
        Graph f = b.build("up", b.reduceSum(b.mul(y, y), Axes.of(0)));
        Graph j = Differentiate.joint(f, List.of("x"));
        List<NdArray> out = Interpreter.run(j, List.of(NdArray.of(new float[]{1, -2, 0.5f}, 3)));
        assertEquals(DType.F32, out.get(1).dtype());
        assertArrayEquals(new float[]{2, -4, 1}, (float[]) out.get(1).data());
    }

    // ---- layout --------------------------------------------------------------------------

    @Test void broadcastNewAndStretchedAxes() {
        Builder b = new Builder();
        Value x = b.param("x", f64(3, 1));
        // [3,1] -> [2,3,4]: axis 0 is new, operand axis 1 stretches from 1 to 4.
        Graph f = weighted(b, "bcast", b.broadcast(x, Axes.of(1, 2), f64(2, 3, 4)));
        check(f, List.of("x"), Map.of(), 1);
        Builder b2 = new Builder();
        Value s = b2.param("x", f64());
        check(weighted(b2, "bcast_scalar", b2.broadcast(s, Axes.of(), f64(2, 3))), List.of("x"), Map.of(), 2);
        Builder b3 = new Builder();
        Value y = b3.param("x", f64(1, 4, 1));
        check(weighted(b3, "bcast_ones", b3.broadcast(y, Axes.of(0, 2, 3), f64(3, 1, 4, 5))), List.of("x"), Map.of(), 3);
    }

    @Test void reshape() {
        for (long seed = 0; seed < SEEDS; seed++) {
            Random rng = new Random(seed);
            int[] s = randomShape(rng, 3);
            Builder b = new Builder();
            Value x = b.param("x", f64(s));
            check(weighted(b, "reshape", b.reshape(x, f64(s[0] * s[1], s[2]))), List.of("x"), Map.of(), seed);
        }
    }

    @Test void transpose() {
        for (long seed = 0; seed < SEEDS; seed++) {
            Random rng = new Random(seed);
            int[] s = randomShape(rng, 3);
            Builder b = new Builder();
            Value x = b.param("x", f64(s));
            check(weighted(b, "transpose", b.transpose(x, Axes.of(2, 0, 1))), List.of("x"), Map.of(), seed);
        }
    }

    @Test void slice() {
        // {n, start, end, step}, with steps that overrun the axis (5: 0,2,4) and that do not.
        int[][] cases = {{6, 0, 6, 1}, {6, 1, 4, 1}, {5, 0, 5, 2}, {7, 1, 6, 2}, {8, 2, 8, 3}, {9, 0, 9, 3},
                {6, 5, 6, 4}, {4, 2, 2, 1}, {4, 0, 4, 5}};
        for (int[] c : cases)
            for (int axis = 0; axis < 2; axis++) {
                int[] s = axis == 0 ? new int[]{c[0], 3} : new int[]{2, c[0]};
                Builder b = new Builder();
                Value x = b.param("x", f64(s));
                Graph f = weighted(b, "slice", b.slice(x, axis, c[1], c[2], c[3]));
                List<NdArray> g = check(f, List.of("x"), Map.of(), c[0] * 10L + axis);
                // Exact: r scattered onto the picked elements, zero elsewhere.
                NdArray r = fill(f, Map.of(), new Random(c[0] * 10L + axis)).get("r");
                int other = axis == 0 ? 3 : 2, k = 0;
                for (int i = 0; i < c[0]; i++) {
                    boolean picked = i >= c[1] && i < c[2] && (i - c[1]) % c[3] == 0;
                    for (int o = 0; o < other; o++) {
                        int flat = axis == 0 ? i * 3 + o : o * c[0] + i;
                        int m = (c[2] - c[1] + c[3] - 1) / c[3];
                        int rflat = axis == 0 ? k * 3 + o : o * m + k;
                        assertEquals(picked ? r.getDouble(rflat) : 0.0, g.getFirst().getDouble(flat), Arrays.toString(c));
                    }
                    if (picked) k++;
                }
            }
    }

    @Test void pad() {
        Builder b = new Builder();
        Value x = b.param("x", f64(3, 4));
        Graph f = weighted(b, "pad", b.pad(b.pad(x, 1, 2, 1, 1.5), 0, 0, 3, -1));
        check(f, List.of("x"), Map.of(), 4);
    }

    @Test void concat() {
        Builder b = new Builder();
        Value x = b.param("x", f64(2, 3)), y = b.param("y", f64(2, 1));
        Graph f = weighted(b, "concat", b.concat(List.of(x, y, x), 1));
        check(f, List.of("x", "y"), Map.of(), 5);
        check(f, List.of("y"), Map.of(), 6);
    }

    // ---- reductions ----------------------------------------------------------------------

    @Test void reduceSum() {
        for (long seed = 0; seed < SEEDS; seed++) {
            Random rng = new Random(seed);
            int[] s = randomShape(rng, 3);
            for (Axes axes : List.of(Axes.of(1), Axes.of(0, 2), Axes.of(0, 1, 2))) {
                Builder b = new Builder();
                Value x = b.param("x", f64(s));
                check(weighted(b, "sum", b.reduceSum(x, axes)), List.of("x"), Map.of(), seed);
            }
        }
    }

    @Test void reduceMax() {
        for (long seed = 0; seed < SEEDS; seed++) {
            Random rng = new Random(seed);
            int[] s = randomShape(rng, 3);
            for (Axes axes : List.of(Axes.of(2), Axes.of(0, 1))) {
                Builder b = new Builder();
                Value x = b.param("x", f64(s));
                NdArray xs = distinct(rng, s);
                check(weighted(b, "max", b.reduceMax(x, axes)), List.of("x"), Map.of("x", xs), seed);
                // reduce_max_grad's own gradient (a second derivative through a max): linear in g
                Builder c = new Builder();
                Value y = c.param("x", f64(s)), m = c.reduceMax(y, axes), g = c.param("g", m.type());
                check(weighted(c, "max_grad", c.reduceMaxGrad(y, m, g, axes)), List.of("g"), Map.of("x", xs), seed);
            }
        }
    }

    @Test void reduceMaxTiesShareEqually() {
        Builder b = new Builder();
        Value x = b.param("x", f64(2, 4));
        Graph f = b.build("max", b.reduceSum(b.reduceMax(x, Axes.of(1)), Axes.of(0)));
        NdArray in = arr(new double[]{1, 3, 3, 2, 5, 5, 5, -1}, 2, 4);
        NdArray g = Interpreter.run(Differentiate.grad(f, List.of("x")), List.of(in)).getFirst();
        assertArrayEquals(new double[]{0, 0.5, 0.5, 0, 1 / 3.0, 1 / 3.0, 1 / 3.0, 0}, (double[]) g.data(), 1e-15);
    }

    @Test void reduceMaxOverSeveralAxesSharesAmongAllTies() {
        Builder b = new Builder();
        Value x = b.param("x", f64(2, 2, 3));
        Graph f = b.build("max", b.reduceSum(b.reduceMax(x, Axes.of(0, 2)), Axes.of(0)));
        // x[:,0,:] has 7 at [0,0,2], [1,0,0] and [1,0,1]; x[:,1,:] has 4 at [0,1,1], [0,1,2] and [1,1,1]
        NdArray in = arr(new double[]{1, 2, 7, 0, 4, 4, 7, 7, 1, 3, 4, 2}, 2, 2, 3);
        NdArray g = Interpreter.run(Differentiate.grad(f, List.of("x")), List.of(in)).getFirst();
        double t = 1 / 3.0;
        assertArrayEquals(new double[]{0, 0, t, 0, t, t, t, t, 0, 0, t, 0}, (double[]) g.data(), 1e-15);
    }

    @Test void maxMinTiesSplitInHalf() {
        Builder b = new Builder();
        Value x = b.param("x", f64(3)), y = b.param("y", f64(3));
        Graph f = b.build("mm", b.reduceSum(b.add(b.max(x, y), b.mul(b.constant(10, f64(3)), b.min(x, y))), Axes.of(0)));
        List<NdArray> g = Interpreter.run(Differentiate.grad(f, List.of("x", "y")),
                List.of(arr(new double[]{1, 2, 3}, 3), arr(new double[]{1, 5, 0}, 3)));
        assertArrayEquals(new double[]{5.5, 10, 1}, (double[]) g.get(0).data());
        assertArrayEquals(new double[]{5.5, 1, 10}, (double[]) g.get(1).data());
    }

    // ---- contractions --------------------------------------------------------------------

    @Test void matmul() {
        for (long seed = 0; seed < SEEDS; seed++) {
            Random rng = new Random(seed);
            int m = 1 + rng.nextInt(4), k = 1 + rng.nextInt(4), n = 1 + rng.nextInt(4);
            Builder b = new Builder();
            Value x = b.param("x", f64(m, k)), w = b.param("w", f64(k, n));
            Graph f = weighted(b, "matmul", b.matmul(x, w));
            check(f, List.of("x", "w"), Map.of(), seed);
            check(f, List.of("w"), Map.of(), seed);
        }
    }

    @Test void batchedMatmul() {
        Builder b = new Builder();
        Value x = b.param("x", f64(2, 3, 2, 4)), w = b.param("w", f64(2, 3, 4, 5));
        check(weighted(b, "bmm", b.matmul(x, w)), List.of("x", "w"), Map.of(), 9);
        Builder b3 = new Builder();
        Value p = b3.param("x", f64(3, 1, 4)), q = b3.param("w", f64(3, 4, 2));
        check(weighted(b3, "bmm3", b3.matmul(p, q)), List.of("x", "w"), Map.of(), 10);
    }

    /// {N, C, H, W, O, KH, KW, stride, padding, dilation, groups}
    static final int[][] CONVS = {
            {2, 3, 5, 5, 4, 3, 3, 1, 0, 1, 1},
            {1, 2, 7, 6, 3, 3, 2, 2, 1, 1, 1},
            {2, 4, 6, 6, 6, 3, 3, 1, 1, 1, 2},
            {1, 2, 8, 7, 2, 3, 3, 2, 2, 2, 1},
            {1, 4, 5, 5, 4, 1, 1, 1, 0, 1, 4},
            {2, 6, 9, 8, 3, 2, 3, 3, 1, 2, 3},
    };

    record Conv(Ints stride, Ints padding, Ints dilation, int groups, TensorType x, TensorType w) {
        static Conv of(int[] c) {
            return new Conv(Ints.of(c[7], c[7]), Ints.of(c[8], c[8]), Ints.of(c[9], c[9]), c[10],
                    f64(c[0], c[1], c[2], c[3]), f64(c[4], c[1] / c[10], c[5], c[6]));
        }
        Value apply(Builder b, Value x, Value w) { return b.conv2d(x, w, stride, padding, dilation, groups); }
    }

    @Test void conv2d() {
        for (int[] c : CONVS) {
            Conv cv = Conv.of(c);
            Builder b = new Builder();
            Value x = b.param("x", cv.x()), w = b.param("w", cv.w());
            Graph f = weighted(b, "conv", cv.apply(b, x, w));
            check(f, List.of("x", "w"), Map.of(), c[4]);
        }
    }

    @Test void conv2dGradInputAndWeightAsForwardOps() {
        // Differentiating the gradient ops themselves is what second derivatives of convolutions need.
        for (int[] c : CONVS) {
            Conv cv = Conv.of(c);
            Builder b0 = new Builder();
            TensorType yt = cv.apply(b0, b0.param("x", cv.x()), b0.param("w", cv.w())).type();
            Builder b = new Builder();
            Value gy = b.param("gy", yt), w = b.param("w", cv.w());
            Graph fi = weighted(b, "cgi", b.conv2dGradInput(gy, w, cv.stride(), cv.padding(), cv.dilation(), cv.groups(), cv.x()));
            check(fi, List.of("gy", "w"), Map.of(), c[2]);
            Builder b2 = new Builder();
            Value x = b2.param("x", cv.x()), gy2 = b2.param("gy", yt);
            Graph fw = weighted(b2, "cgw", b2.conv2dGradWeight(x, gy2, cv.stride(), cv.padding(), cv.dilation(), cv.groups(), cv.w()));
            check(fw, List.of("x", "gy"), Map.of(), c[3]);
        }
    }

    // ---- regions -------------------------------------------------------------------------

    @Test void fusedRegion() {
        // fused(a, bias, a) { relu(a * broadcast(bias)) + exp(a') }: differentiated by inlining.
        Builder r = new Builder();
        Value a = r.param("a", f64(3, 4)), bias = r.param("bias", f64(4)), a2 = r.param("a2", f64(3, 4));
        Value body = r.add(r.relu(r.mul(a, r.broadcast(bias, Axes.of(1), f64(3, 4)))), r.exp(a2));
        Graph region = r.build("region", body);
        Builder b = new Builder();
        Value x = b.param("x", f64(3, 4)), bb = b.param("b", f64(4));
        Value fused = b.fused(List.of(x, bb, x), region, "k");
        Graph f = weighted(b, "fused", b.tanh(fused));
        Random rng = new Random(11);
        Map<String, NdArray> in = Map.of("x", awayFromZero(rng, 0.2, 1, 3, 4), "b", awayFromZero(rng, 0.2, 1, 4));
        check(f, List.of("x", "b"), in, 11);
        check(f, List.of("b"), in, 12);
        // Recomputed region ops that no rule reads (exp's output is read, the add is not) are dropped.
        Graph j = Differentiate.joint(f, List.of("b"));
        assertEquals(List.of(), deadValues(j));
    }

    // ---- what is not differentiable ------------------------------------------------------

    @Test void signAndComparisonsContributeNothing() {
        Builder b = new Builder();
        Value x = b.param("x", f64(4));
        Value mask = b.select(b.gt(x, b.constant(0, f64(4))), b.constant(1, f64(4)), b.constant(0, f64(4)));
        Value idx = b.cast(b.argmax(x, 0), DType.F64);
        Value y = b.add(b.mul(b.sign(x), mask), b.broadcast(idx, Axes.of(), f64(4)));
        Graph f = b.build("flat", b.reduceSum(y, Axes.of(0)));
        Graph j = Differentiate.joint(f, List.of("x"));
        NdArray g = Interpreter.run(j, List.of(arr(new double[]{-1, 2, 0.5, 3}, 4))).get(1);
        assertArrayEquals(new double[]{0, 0, 0, 0}, (double[]) g.data());
        // Nothing of the sweep is emitted: at most the zero gradient (which may intern to a forward const).
        assertTrue(j.body().size() <= f.body().size() + 1);
    }

    @Test void integerParameterIsAnError() {
        Builder b = new Builder();
        Value n = b.param("labels", TensorType.i64(4));
        Value x = b.param("x", f64(4));
        Graph f = b.build("f", b.reduceSum(b.mul(x, b.cast(n, DType.F64)), Axes.of(0)));
        IrError e = assertThrows(IrError.class, () -> Differentiate.joint(f, List.of("x", "labels")));
        assertEquals("error: differentiate: cannot take the gradient with respect to '%labels' of type i64[4]: "
                + "only float parameters are differentiable", e.getMessage());
        IrError e2 = assertThrows(IrError.class, () -> Differentiate.joint(f, List.of("w")));
        assertEquals("error: differentiate: graph @f has no parameter '%w' (it has %labels, %x)", e2.getMessage());
    }

    @Test void unusedParameterHasZeroGradient() {
        Builder b = new Builder();
        Value x = b.param("x", f64(2));
        b.param("unused", f64(3));
        Graph f = b.build("f", b.reduceSum(b.mul(x, x), Axes.of(0)));
        List<NdArray> out = Interpreter.run(Differentiate.joint(f, List.of("unused", "x")),
                List.of(arr(new double[]{1, 2}, 2), arr(new double[]{7, 8, 9}, 3)));
        assertArrayEquals(new double[]{0, 0, 0}, (double[]) out.get(1).data());
        assertArrayEquals(new double[]{2, 4}, (double[]) out.get(2).data());
    }

    // ---- pruning -------------------------------------------------------------------------

    @Test void onlyRequestedCotangentsAreEmitted() {
        // linear layer, gradient for the weight only: no matmul for d/dx, no reduce for d/dbias.
        Builder b = new Builder();
        Value x = b.param("x", f64(4, 3)), w = b.param("w", f64(3, 2)), bias = b.param("bias", f64(2));
        Value y = b.add(b.matmul(x, w), b.broadcast(bias, Axes.of(1), f64(4, 2)));
        Graph f = weighted(b, "linear", b.tanh(y));
        Graph j = Differentiate.joint(f, List.of("w"));
        long matmuls = j.body().stream().filter(v -> v.op() instanceof dev.kiln.ir.Op.Matmul).count();
        assertEquals(2, matmuls, "the forward matmul and the one for d/dw");
        assertTrue(j.body().stream().noneMatch(v -> v.op() instanceof dev.kiln.ir.Op.ReduceSum
                && j.body().indexOf(v) >= f.body().size()), "no reduction for d/dbias");
        assertEquals(List.of(), deadValues(j));
        check(f, List.of("w"), Map.of(), 3);
    }

    /// Body values that are neither used nor returned.
    static List<Value> deadValues(Graph g) {
        List<Value> used = new ArrayList<>(g.results());
        for (Value v : g.body()) used.addAll(dev.kiln.ir.Ops.operands(v.op()));
        return g.body().stream().filter(v -> !used.contains(v)).toList();
    }
}
