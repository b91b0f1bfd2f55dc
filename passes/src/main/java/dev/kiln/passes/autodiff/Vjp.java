package dev.kiln.passes.autodiff;

import dev.kiln.ir.Axes;
import dev.kiln.ir.Builder;
import dev.kiln.ir.Dim;
import dev.kiln.ir.Graph;
import dev.kiln.ir.Loc;
import dev.kiln.ir.Op.*;
import dev.kiln.ir.Ops;
import dev.kiln.ir.Shape;
import dev.kiln.ir.TensorType;
import dev.kiln.ir.Value;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/// The vector-Jacobian product of every op, in one exhaustive switch (`rule`), and the reverse
/// sweep that applies it. Each rule builds, from IR ops, the cotangent of each operand given the
/// cotangent `g` of the op's result; every rule is itself made of differentiable ops, so the
/// result can be differentiated again. Invariant: a rule evaluates only the operand cotangents
/// the driver asks for (`need`); the others stay null and nothing is emitted for them.
///
/// Conventions at points where a derivative does not exist (all as in PyTorch unless noted):
/// - `relu`, `abs` at 0: gradient 0; `sign`: 0 everywhere.
/// - `max`/`min` with equal operands: each operand gets half of `g`.
/// - `reduce_max` with ties: the tied elements share `g` equally (JAX's rule; PyTorch's
///   `amax` does the same, but its `max(dim)` gives everything to one index). Max pooling is
///   reshape + reduce_max, so the same rule applies to pooling windows with ties. One op,
///   `reduce_max_grad`, says it, so that a backend counts and routes each group in one go.
/// - `pow(x, y)`: the y-gradient `g * x^y * log(x)` takes `log` of 1 where x <= 0, giving 0
///   there (the true value is undefined for x < 0). The `select` sits inside the `log`, not
///   around the product, so that a second derivative does not multiply 0 by a NaN.
///   The x-gradient `g * y * x^(y-1)` is used as is: at x = 0 with y < 1 it is infinite.
final class Vjp {
    private final Builder b;

    Vjp(Builder b) { this.b = b; }

    /// One operand cotangent, built only when asked for.
    @FunctionalInterface
    interface Rule { Value build(); }

    /// Marks an operand that never has a cotangent (a bool condition).
    private static final Rule NONE = null;

    /// Walks `body` (source values, in definition order) backwards, turning the cotangent of
    /// each value in `ct` into cotangents of its active operands (summed when an operand has
    /// several users). `primal` maps each source value to its copy in the builder; rules see
    /// the copies. Cotangents are keyed by source value, so a copy that interning merged with
    /// another value cannot be counted twice.
    void sweep(List<Value> body, Map<Value, Value> primal, Map<Value, Value> ct, Set<Value> active) {
        for (Value v : body.reversed()) {
            Value g = ct.get(v);
            if (g == null) continue;
            List<Value> operands = Ops.operands(v.op());
            boolean[] need = new boolean[operands.size()];
            boolean any = false;
            for (int i = 0; i < need.length; i++) any |= need[i] = active.contains(operands.get(i));
            if (!any) continue;
            try (var _ = b.at(new Loc.Grad(v.loc()))) {
                List<Value> cts = rule(primal.get(v), g, need);
                for (int i = 0; i < need.length; i++) {
                    Value c = cts.get(i);
                    if (!need[i] || c == null) continue;
                    if (!c.type().equals(operands.get(i).type()))
                        throw new IllegalStateException("vjp of '" + Ops.mnemonic(v.op()) + "' gave operand #" + i
                                + " a cotangent of type " + c.type() + ", expected " + operands.get(i).type());
                    Differentiate.accumulate(b, ct, operands.get(i), c);
                }
            }
        }
    }

    /// Cotangents of `out`'s operands (flattened, in component order; null = zero or not asked).
    List<Value> rule(Value out, Value g, boolean[] need) {
        return switch (out.op()) {
            // Leaves, and ops whose results are bool or integer (never active): nothing flows back.
            case Param _, Const _, Dense _, Iota _, RandomUniform _ -> none(need);
            case Not _, And _, Or _, Eq _, Ne _, Lt _, Le _, Gt _, Ge _, Argmax _ -> none(need);
            // sign(x) -> 0: piecewise constant
            case Sign _ -> none(need);

            // neg(x) -> -g
            case Neg _ -> of(need, () -> b.neg(g));
            // abs(x) -> g * sign(x)
            case Abs(var x) -> of(need, () -> b.mul(g, b.sign(x)));
            // relu(x) -> select(relu(x) > 0, g, 0). The mask reads the output, not x (the same
            // bits, as relu(x) > 0 iff x > 0): then x has one user, so fusion can end the kernel
            // that makes x with the relu (matmul_add_relu), and the split saves relu(x).
            case Relu(var x) -> of(need, () -> {
                Value zero = zeros(x.type());
                return b.select(b.gt(out, zero), g, zero);
            });
            // exp(x) -> g * exp(x)
            case Exp _ -> of(need, () -> b.mul(g, out));
            // log(x) -> g / x
            case Log(var x) -> of(need, () -> b.div(g, x));
            // sqrt(x) -> g / (2 * sqrt(x))
            case Sqrt(var x) -> of(need, () -> b.div(g, b.mul(full(2, x.type()), out)));
            // tanh(x) -> g * (1 - tanh(x)^2)
            case Tanh(var x) -> of(need, () -> b.mul(g, b.sub(full(1, x.type()), b.mul(out, out))));

            // add(x, y) -> (g, g)
            case Add _ -> of(need, () -> g, () -> g);
            // sub(x, y) -> (g, -g)
            case Sub _ -> of(need, () -> g, () -> b.neg(g));
            // mul(x, y) -> (g * y, g * x)
            case Mul(var x, var y) -> of(need, () -> b.mul(g, y), () -> b.mul(g, x));
            // div(x, y) -> (g / y, -(g * (x / y)) / y)
            case Div(var x, var y) -> of(need, () -> b.div(g, y), () -> b.neg(b.div(b.mul(g, out), y)));
            // pow(x, y) -> (g * y * x^(y-1), g * x^y * log(x > 0 ? x : 1))
            case Pow(var x, var y) -> of(need,
                    () -> b.mul(g, b.mul(y, b.pow(x, b.sub(y, full(1, y.type()))))),
                    () -> b.mul(b.mul(g, out), b.log(b.select(b.gt(x, zeros(x.type())), x, full(1, x.type())))));
            // max(x, y) -> (g * w, g - g * w), w = 1 where x > y, 1/2 where x == y, else 0
            case Max(var x, var y) -> share(need, g, b.gt(x, y), b.eq(x, y), x.type());
            // min(x, y) -> (g * w, g - g * w), w = 1 where x < y, 1/2 where x == y, else 0
            case Min(var x, var y) -> share(need, g, b.lt(x, y), b.eq(x, y), x.type());

            // select(c, t, f) -> (-, select(c, g, 0), select(c, 0, g))
            case Select(var c, var t, _) -> of(need, NONE,
                    () -> b.select(c, g, zeros(t.type())),
                    () -> b.select(c, zeros(t.type()), g));
            // cast(x) between float types -> cast(g) back to x's type (casts to int or bool are never active)
            case Cast(var x, _) -> of(need, () -> b.cast(g, x.type().dtype()));

            // broadcast(x) -> reduce_sum(g) over the new axes and the axes stretched from size 1, reshaped to x
            case Broadcast(var x, var dims, var t) -> of(need, () -> unbroadcast(g, x.type(), dims, t));
            // reshape(x) -> reshape(g) to x's shape
            case Reshape(var x, _) -> of(need, () -> b.reshape(g, x.type()));
            // transpose(x, p) -> transpose(g, p^-1)
            case Transpose(_, var perm) -> of(need, () -> b.transpose(g, perm.inversePermutation()));
            // slice(x) -> g scattered back between zeros (pad; with a step, interleaved with zeros first)
            case Slice(var x, var axis, var start, _, var step) -> of(need, () -> unslice(g, x.type(), axis, start, step));
            // pad(x, low, high) -> slice(g, low, low + n)
            case Pad(var x, var axis, var low, _, _) -> of(need,
                    () -> slice(g, axis, low, low + (int) x.type().dim(axis).size()));
            // concat(x0, x1, ...) -> (slice(g) for each operand's range)
            case Concat(var xs, var axis) -> {
                List<Value> cts = new ArrayList<>();
                int offset = 0;
                for (int i = 0; i < xs.size(); i++) {
                    int n = (int) xs.get(i).type().dim(axis).size();
                    cts.add(need[i] ? slice(g, axis, offset, offset + n) : null);
                    offset += n;
                }
                yield cts;
            }

            // reduce_sum(x, axes) -> broadcast(g) back over axes
            case ReduceSum(var x, var axes) -> of(need, () -> b.broadcast(g, axes.complement(x.type().rank()), x.type()));
            // reduce_max(x, axes) -> reduce_max_grad(x, reduce_max(x, axes), g, axes): g / count at each
            // of the count elements equal to the max, 0 elsewhere
            case ReduceMax(var x, var axes) -> of(need, () -> b.reduceMaxGrad(x, out, g, axes));
            // reduce_max_grad(x, m, gy, axes) is linear in gy and piecewise constant in x and m:
            // -> (-, -, reduce_sum(g * reduce_max_grad(x, m, 1, axes), axes)), each group's shares of the cotangent
            case ReduceMaxGrad(var x, var m, var gy, var axes) -> of(need, NONE, NONE,
                    () -> b.reduceSum(b.mul(g, b.reduceMaxGrad(x, m, full(1, gy.type()), axes)), axes));

            // matmul(x, w) -> (matmul(g, w^T), matmul(x^T, g)), ^T swapping the last two axes
            case Matmul(var x, var w) -> of(need, () -> b.matmul(g, swapLast(w)), () -> b.matmul(swapLast(x), g));
            // conv2d(x, w) -> (conv2d_grad_input(g, w), conv2d_grad_weight(x, g))
            case Conv2d(var x, var w, var s, var p, var d, var groups) -> of(need,
                    () -> b.conv2dGradInput(g, w, s, p, d, groups, x.type()),
                    () -> b.conv2dGradWeight(x, g, s, p, d, groups, w.type()));
            // conv2d_grad_input(gy, w) is linear in each operand; it is the adjoint of conv2d(., w), so
            // conv2d_grad_input(gy, w) -> (conv2d(g, w), conv2d_grad_weight(g, gy))
            case Conv2dGradInput(var gy, var w, var s, var p, var d, var groups, _) -> of(need,
                    () -> b.conv2d(g, w, s, p, d, groups),
                    () -> b.conv2dGradWeight(g, gy, s, p, d, groups, w.type()));
            // conv2d_grad_weight(x, gy) -> (conv2d_grad_input(gy, g), conv2d(x, g))
            case Conv2dGradWeight(var x, var gy, var s, var p, var d, var groups, _) -> of(need,
                    () -> b.conv2dGradInput(gy, g, s, p, d, groups, x.type()),
                    () -> b.conv2d(x, g, s, p, d, groups));

            // fused(inputs) { body } -> the body's ops recomputed inline and swept like any other ops
            case Fused f -> region(f, g, need);
        };
    }

    // ---- helpers for rules -----------------------------------------------------------------

    private static List<Value> none(boolean[] need) { return Arrays.asList(new Value[need.length]); }

    private static List<Value> of(boolean[] need, Rule... rules) {
        Value[] out = new Value[need.length];
        for (int i = 0; i < need.length; i++) if (need[i] && rules[i] != null) out[i] = rules[i].build();
        return Arrays.asList(out);
    }

    private Value zeros(TensorType t) { return b.constant(0.0, t); }

    private Value full(double v, TensorType t) { return b.constant(v, t); }

    /// max/min: the winner takes g, a tie splits it in half; y's share is what x does not take,
    /// which makes the two cotangents sum to g exactly.
    private List<Value> share(boolean[] need, Value g, Value xWins, Value tie, TensorType t) {
        Value w = b.select(xWins, full(1, t), b.select(tie, full(0.5, t), zeros(t)));
        Value gx = b.mul(g, w);
        return of(need, () -> gx, () -> b.sub(g, gx));
    }

    private Value swapLast(Value x) {
        int r = x.type().rank();
        int[] perm = new int[r];
        for (int i = 0; i < r; i++) perm[i] = i;
        perm[r - 2] = r - 1;
        perm[r - 1] = r - 2;
        return b.transpose(x, Axes.of(perm));
    }

    /// `g` summed down to `x`'s shape: over the result axes not in `dims`, and over the axes that
    /// were stretched from size 1 (which the sum removes, so a reshape puts them back).
    private Value unbroadcast(Value g, TensorType x, Axes dims, TensorType t) {
        List<Integer> axes = new ArrayList<>(dims.complement(t.rank()).values());
        for (int i = 0; i < x.rank(); i++)
            if (x.dim(i).equals(Dim.of(1)) && !t.dim(dims.get(i)).equals(Dim.of(1))) axes.add(dims.get(i));
        axes.sort(null);
        Value s = axes.isEmpty() ? g : b.reduceSum(g, new Axes(axes));
        return s.type().equals(x) ? s : b.reshape(s, x);
    }

    /// A slice along `axis`, or `g` itself when the slice is the whole axis.
    private Value slice(Value g, int axis, int start, int end) {
        if (start == 0 && end == g.type().dim(axis).size()) return g;
        return b.slice(g, axis, start, end, 1);
    }

    /// The adjoint of `slice(x, axis, start, _, step)`: element k of `g` goes to `start + k*step`,
    /// zeros elsewhere. With step > 1, `g` is first spread out: [.., m, ..] -> [.., m, 1, ..]
    /// -> pad to [.., m, step, ..] -> [.., m*step, ..], and the zeros past the last element that
    /// would overrun the axis are cut off. Then a pad puts `start` zeros before and the rest after.
    private Value unslice(Value g, TensorType x, int axis, int start, int step) {
        long n = x.dim(axis).size(), m = g.type().dim(axis).size();
        Value spread = g;
        long len = m;
        if (step > 1 && m > 0) {
            TensorType split = g.type().withShape(insert(g.type().shape(), axis + 1, Dim.of(1)));
            Value padded = b.pad(b.reshape(g, split), axis + 1, 0, step - 1, 0.0);
            Value flat = b.reshape(padded, g.type().withShape(g.type().shape().with(axis, Dim.of(m * step))));
            len = Math.min(m * step, n - start);
            spread = slice(flat, axis, 0, (int) len);
        }
        long high = n - start - len;
        return start == 0 && high == 0 ? spread : b.pad(spread, axis, start, (int) high, 0.0);
    }

    private static Shape insert(Shape s, int axis, Dim d) {
        List<Dim> dims = new ArrayList<>(s.dims());
        dims.add(axis, d);
        return new Shape(dims);
    }

    /// Differentiates through a fused region: its ops are recomputed here as plain ops (so the
    /// rules can read its intermediate values) and swept with the region's result seeded by `g`.
    /// Recomputed values no rule reads are dropped when the joint graph is finished.
    private List<Value> region(Fused f, Value g, boolean[] need) {
        Graph body = f.body();
        Map<Value, Value> primal = new HashMap<>();
        Set<Value> seeds = new HashSet<>();
        for (int i = 0; i < need.length; i++) {
            primal.put(body.params().get(i), f.inputs().get(i));
            if (need[i]) seeds.add(body.params().get(i));
        }
        for (Value v : body.body())
            try (var _ = b.at(new Loc.Grad(v.loc()))) { primal.put(v, b.emit(Ops.mapOperands(v.op(), primal::get))); }
        Set<Value> active = Differentiate.activity(body.body(), seeds);
        Map<Value, Value> ct = new HashMap<>();
        Value result = body.results().getFirst();
        if (active.contains(result)) ct.put(result, g);
        sweep(body.body(), primal, ct, active);
        Value[] out = new Value[need.length];
        for (int i = 0; i < need.length; i++) if (need[i]) out[i] = ct.get(body.params().get(i));
        return Arrays.asList(out);
    }
}
