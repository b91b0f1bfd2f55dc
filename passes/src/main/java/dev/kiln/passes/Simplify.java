package dev.kiln.passes;

import dev.kiln.ir.Axes;
import dev.kiln.ir.Builder;
import dev.kiln.ir.Dim;
import dev.kiln.ir.Op.*;
import dev.kiln.ir.Shape;
import dev.kiln.ir.Value;

import java.util.ArrayList;
import java.util.List;

/// Algebraic simplification (`simplify`): identities that remove work without evaluating
/// anything. A rule rewrites only when the result is the same for every input, with two
/// documented choices about IEEE floats:
/// - Rules that would change a NaN or an infinity are kept to integer dtypes: `x * 0 -> 0` and
///   `x - x -> 0` are wrong for floats (`NaN * 0` and `inf - inf` are NaN), so floats keep them.
/// - The sign of a zero is not preserved: `x + 0 -> x` turns `-0 + 0` (which is `+0`) into `-0`.
///   The two compare equal; only code that inspects the sign bit could tell.
/// `pow` rules are kept to floats, where `pow(x, 2)` and `x * x` agree for every input.
public final class Simplify {
    private Simplify() {}

    public static final Pass PASS = new Rewrite("simplify", Simplify::rewrite);

    public static Value rewrite(Builder b, Value v) {
        return switch (v.op()) {
            // mul(x, 1) -> x
            case Mul(var x, var y) when isSplat(y, 1) -> x;
            // mul(1, x) -> x
            case Mul(var x, var y) when isSplat(x, 1) -> y;
            // mul(x, -1) -> neg(x)
            case Mul(var x, var y) when isSplat(y, -1) -> b.neg(x);
            // mul(-1, x) -> neg(x)
            case Mul(var x, var y) when isSplat(x, -1) -> b.neg(y);
            // mul(x, 0) -> 0, integers only
            case Mul(var x, var y) when isInteger(v) && (isSplat(x, 0) || isSplat(y, 0)) -> b.constant(0, v.type());
            // add(x, 0) -> x
            case Add(var x, var y) when isSplat(y, 0) -> x;
            // add(0, x) -> x
            case Add(var x, var y) when isSplat(x, 0) -> y;
            // add(x, neg(y)) -> sub(x, y)
            case Add(var x, var y) when y.op() instanceof Neg(var z) -> b.sub(x, z);
            // add(neg(x), y) -> sub(y, x)
            case Add(var x, var y) when x.op() instanceof Neg(var z) -> b.sub(y, z);
            // sub(x, 0) -> x
            case Sub(var x, var y) when isSplat(y, 0) -> x;
            // sub(0, x) -> neg(x)
            case Sub(var x, var y) when isSplat(x, 0) -> b.neg(y);
            // sub(x, neg(y)) -> add(x, y)
            case Sub(var x, var y) when y.op() instanceof Neg(var z) -> b.add(x, z);
            // sub(x, x) -> 0, integers only
            case Sub(var x, var y) when x == y && isInteger(v) -> b.constant(0, v.type());
            // div(x, 1) -> x
            case Div(var x, var y) when isSplat(y, 1) -> x;
            // pow(x, 1) -> x, floats only
            case Pow(var x, var y) when isFloat(v) && isSplat(y, 1) -> x;
            // pow(x, 2) -> mul(x, x), floats only
            case Pow(var x, var y) when isFloat(v) && isSplat(y, 2) -> b.mul(x, x);
            // max(x, x) -> x
            case Max(var x, var y) when x == y -> x;
            // min(x, x) -> x
            case Min(var x, var y) when x == y -> x;
            // and(x, x) -> x
            case And(var x, var y) when x == y -> x;
            // or(x, x) -> x
            case Or(var x, var y) when x == y -> x;
            // neg(neg(x)) -> x
            case Neg(var x) when x.op() instanceof Neg(var y) -> y;
            // not(not(x)) -> x
            case Not(var x) when x.op() instanceof Not(var y) -> y;
            // abs(abs(x)) -> abs(x)
            case Abs(var x) when x.op() instanceof Abs _ -> x;
            // abs(neg(x)) -> abs(x)
            case Abs(var x) when x.op() instanceof Neg(var y) -> b.abs(y);
            // relu(relu(x)) -> relu(x)
            case Relu(var x) when x.op() instanceof Relu _ -> x;
            // select(true, a, b) -> a
            case Select(var c, var t, var f) when isSplat(c, 1) -> t;
            // select(false, a, b) -> b
            case Select(var c, var t, var f) when isSplat(c, 0) -> f;
            // select(c, a, a) -> a
            case Select(var c, var t, var f) when t == f -> t;
            // select(x > 0, reshape(reduce_max_grad(reshape(x), m, g)), 0)
            //   -> reshape(reduce_max_grad(reshape(x), m, select(m > 0, g, 0)))
            // A relu's mask on a max pooling's gradient: only elements equal to their group's m
            // get a share of g, and they are > 0 exactly where m is (a NaN is neither), so the
            // mask moves to the pooled values (a quarter of them for 2x2 windows) and its kernel
            // goes away.
            case Select(var c, var t, var f) when isSplat(f, 0) && c.op() instanceof Gt(var x, var z) && isSplat(z, 0)
                    && maxGradOf(x, t) != null -> {
                ReduceMaxGrad r = maxGradOf(x, t);
                Value g = b.select(b.gt(r.max(), b.constant(0, r.max().type())), r.g(), b.constant(0, r.g().type()));
                Value routed = b.reduceMaxGrad(r.x(), r.max(), g, r.axes());
                yield t.op() instanceof Reshape ? b.reshape(routed, t.type()) : routed;
            }
            // cast(x : d) to d -> x
            case Cast(var x, var d) when x.type().dtype() == d -> x;
            // reshape(x) to x's shape -> x
            case Reshape(var x, var t) when x.type().equals(t) -> x;
            // reshape(reshape(x)) -> reshape(x)
            case Reshape(var x, var t) when x.op() instanceof Reshape(var y, _) -> b.reshape(y, t);
            // transpose(x, [0,1,..]) -> x
            case Transpose(var x, var p) when p.equals(Axes.range(p.size())) -> x;
            // transpose(transpose(x, p), q) -> transpose(x, p[q[i]])
            case Transpose(var x, var q) when x.op() instanceof Transpose(var y, var p) -> b.transpose(y, compose(p, q));
            // broadcast(x) to x's type -> x
            case Broadcast(var x, _, var t) when x.type().equals(t) -> x;
            // broadcast(broadcast(x, d1), d2) -> broadcast(x, d2[d1[i]])
            case Broadcast(var x, var d2, var t) when x.op() instanceof Broadcast(var y, var d1, _) -> b.broadcast(y, compose(d2, d1), t);
            // broadcast(reshape(x) adding or dropping size-1 axes) -> broadcast(x)
            case Broadcast(var x, var d, var t) when x.op() instanceof Reshape(var y, _)
                    && unitAxisMap(y.type().shape(), x.type().shape()) != null ->
                    b.broadcast(y, compose(d, unitAxisMap(y.type().shape(), x.type().shape())), t);
            // reduce_sum(x, []) -> x
            case ReduceSum(var x, var a) when a.size() == 0 -> x;
            // reduce_max(x, []) -> x
            case ReduceMax(var x, var a) when a.size() == 0 -> x;
            // slice(x) of a whole axis with step 1 -> x
            case Slice(var x, _, var start, var end, var step) when x.type().equals(v.type()) && start == 0 && step == 1 -> x;
            // pad(x, low=0, high=0) -> x
            case Pad(var x, _, var low, var high, _) when low == 0 && high == 0 -> x;
            // concat([x]) -> x
            case Concat(var xs, _) when xs.size() == 1 -> xs.getFirst();
            default -> null;
        };
    }

    /// The value every element of `v` has when that is known without evaluating anything, else null.
    public static Double splat(Value v) {
        return switch (v.op()) {
            case Const c -> c.value();
            case Dense d -> {
                if (d.data().size() == 0) yield null;
                boolean integer = d.data().dtype().isInteger();
                for (int i = 1; i < d.data().size(); i++)
                    if (integer ? d.data().getLong(i) != d.data().getLong(0)
                            : Double.doubleToLongBits(d.data().getDouble(i)) != Double.doubleToLongBits(d.data().getDouble(0))) yield null;
                yield d.data().getDouble(0);
            }
            case Broadcast(var x, _, _) -> splat(x);
            case Reshape(var x, _) -> splat(x);
            case Transpose(var x, _) -> splat(x);
            default -> null;
        };
    }

    /// `t`'s `reduce_max_grad` when `t` is one (or a reshape of one) taken of `x` or of a reshape
    /// of `x`; null otherwise.
    private static ReduceMaxGrad maxGradOf(Value x, Value t) {
        Value inner = t.op() instanceof Reshape(var u, var _) ? u : t;
        if (inner.op() instanceof ReduceMaxGrad r && (r.x() == x || r.x().op() instanceof Reshape(var y, var _) && y == x)) return r;
        return null;
    }

    static boolean isSplat(Value v, double c) {
        Double s = splat(v);
        return s != null && s == c;
    }

    private static boolean isInteger(Value v) { return v.type().dtype().isInteger(); }

    private static boolean isFloat(Value v) { return v.type().dtype().isFloat(); }

    /// `outer[inner[i]]` for each i: composes two axis maps.
    static Axes compose(Axes outer, Axes inner) {
        List<Integer> l = new ArrayList<>();
        for (int i : inner.values()) l.add(outer.get(i));
        return new Axes(l);
    }

    /// When `to` is `from` with size-1 axes inserted or removed (same elements, same order), the
    /// axis of `to` each axis of `from` becomes, as Axes; null otherwise (a dropped axis of size 1
    /// has no image, so it also gives null).
    static Axes unitAxisMap(Shape from, Shape to) {
        List<Integer> map = new ArrayList<>();
        int j = 0;
        for (int i = 0; i < from.rank(); i++) {
            while (j < to.rank() && !to.dim(j).equals(from.dim(i)) && to.dim(j).equals(Dim.of(1))) j++;
            if (j == to.rank() || !to.dim(j).equals(from.dim(i))) return null;
            map.add(j++);
        }
        for (; j < to.rank(); j++) if (!to.dim(j).equals(Dim.of(1))) return null;
        return new Axes(map);
    }
}
