package dev.kiln.ir;

import dev.kiln.ir.Op.*;
import dev.kiln.runtime.DType;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/// Builds a graph one op at a time. `emit` infers the result type at once (so a shape error
/// surfaces at the line that made the op, with the current location), then interns: emitting an
/// op equal to an earlier one returns the earlier value, which is common-subexpression
/// elimination for free. Locations come from `at(loc)` scopes. Not thread-safe.
public final class Builder {
    private final List<Value> params = new ArrayList<>();
    private final Set<String> paramNames = new HashSet<>();
    private final List<Value> body = new ArrayList<>();
    private final Map<Op, Value> interned = new HashMap<>();
    private Loc loc = Loc.UNKNOWN;

    /// Restores the previous location when closed: `try (var _ = b.at(loc)) { ... }`.
    public final class Scope implements AutoCloseable {
        private final Loc previous;
        private Scope(Loc previous) { this.previous = previous; }
        @Override public void close() { loc = previous; }
    }

    public Scope at(Loc where) {
        Scope s = new Scope(loc);
        loc = where;
        return s;
    }

    public Loc loc() { return loc; }

    public Value param(String name, TensorType type) {
        // a set, not a scan: a parser may add a huge number of parameters
        if (!paramNames.add(name)) throw new IrError(loc, "parameter '%" + name + "' is defined twice");
        Value v = new Value(new Param(params.size(), name, type), type, loc);
        params.add(v);
        return v;
    }

    public List<Value> params() { return List.copyOf(params); }

    /// Adds `op` (or finds its equal), with its type inferred; throws IrError at the current location.
    public Value emit(Op op) {
        Value old = interned.get(op);
        if (old != null) return old;
        TensorType type;
        try {
            type = op.inferType();
        } catch (IrError e) {
            throw e.at(loc);
        }
        return add(op, type);
    }

    /// Adds `op` with a declared type that is not checked: for parsers that go on after an error so
    /// as to report every error in a file. The verifier flags the mismatch.
    public Value emitUnchecked(Op op, TensorType declared) {
        Value v = new Value(op, declared, loc);
        body.add(v);
        return v;
    }

    private Value add(Op op, TensorType type) {
        Value v = new Value(op, type, loc);
        body.add(v);
        interned.put(op, v);
        return v;
    }

    public Graph build(String name, List<Value> results) { return new Graph(name, params, body, results); }
    public Graph build(String name, Value... results) { return build(name, List.of(results)); }

    // ---- one method per op, named after the mnemonic ---------------------------------------

    public Value constant(double value, TensorType type) { return emit(new Const(value, type)); }
    public Value constant(double value, DType dtype) { return constant(value, new TensorType(dtype, Shape.SCALAR)); }
    public Value dense(DenseData data) { return emit(new Dense(data)); }
    public Value iota(int axis, TensorType type) { return emit(new Iota(axis, type)); }
    public Value randomUniform(Value seed, TensorType type) { return emit(new RandomUniform(seed, type)); }

    public Value neg(Value x) { return emit(new Neg(x)); }
    public Value abs(Value x) { return emit(new Abs(x)); }
    public Value sign(Value x) { return emit(new Sign(x)); }
    public Value relu(Value x) { return emit(new Relu(x)); }
    public Value exp(Value x) { return emit(new Exp(x)); }
    public Value log(Value x) { return emit(new Log(x)); }
    public Value sqrt(Value x) { return emit(new Sqrt(x)); }
    public Value tanh(Value x) { return emit(new Tanh(x)); }
    public Value not(Value x) { return emit(new Not(x)); }

    public Value add(Value a, Value b) { return emit(new Add(a, b)); }
    public Value sub(Value a, Value b) { return emit(new Sub(a, b)); }
    public Value mul(Value a, Value b) { return emit(new Mul(a, b)); }
    public Value div(Value a, Value b) { return emit(new Div(a, b)); }
    public Value pow(Value a, Value b) { return emit(new Pow(a, b)); }
    public Value max(Value a, Value b) { return emit(new Max(a, b)); }
    public Value min(Value a, Value b) { return emit(new Min(a, b)); }
    public Value and(Value a, Value b) { return emit(new And(a, b)); }
    public Value or(Value a, Value b) { return emit(new Or(a, b)); }
    public Value eq(Value a, Value b) { return emit(new Eq(a, b)); }
    public Value ne(Value a, Value b) { return emit(new Ne(a, b)); }
    public Value lt(Value a, Value b) { return emit(new Lt(a, b)); }
    public Value le(Value a, Value b) { return emit(new Le(a, b)); }
    public Value gt(Value a, Value b) { return emit(new Gt(a, b)); }
    public Value ge(Value a, Value b) { return emit(new Ge(a, b)); }
    public Value select(Value cond, Value onTrue, Value onFalse) { return emit(new Select(cond, onTrue, onFalse)); }
    public Value cast(Value x, DType dtype) { return x.type().dtype() == dtype ? x : emit(new Cast(x, dtype)); }

    public Value broadcast(Value x, Axes dims, TensorType type) { return emit(new Broadcast(x, dims, type)); }
    public Value reshape(Value x, TensorType type) { return emit(new Reshape(x, type)); }
    public Value transpose(Value x, Axes perm) { return emit(new Transpose(x, perm)); }
    public Value slice(Value x, int axis, int start, int end, int step) { return emit(new Slice(x, axis, start, end, step)); }
    public Value pad(Value x, int axis, int low, int high, double value) { return emit(new Pad(x, axis, low, high, value)); }
    public Value concat(List<Value> xs, int axis) { return emit(new Concat(xs, axis)); }

    public Value reduceSum(Value x, Axes axes) { return emit(new ReduceSum(x, axes)); }
    public Value reduceMax(Value x, Axes axes) { return emit(new ReduceMax(x, axes)); }
    public Value argmax(Value x, int axis) { return emit(new Argmax(x, axis)); }
    public Value reduceMaxGrad(Value x, Value max, Value g, Axes axes) { return emit(new ReduceMaxGrad(x, max, g, axes)); }

    public Value matmul(Value a, Value b) { return emit(new Matmul(a, b)); }
    public Value conv2d(Value x, Value w, Ints stride, Ints padding, Ints dilation, int groups) {
        return emit(new Conv2d(x, w, stride, padding, dilation, groups));
    }
    public Value conv2dGradInput(Value g, Value w, Ints stride, Ints padding, Ints dilation, int groups, TensorType type) {
        return emit(new Conv2dGradInput(g, w, stride, padding, dilation, groups, type));
    }
    public Value conv2dGradWeight(Value x, Value g, Ints stride, Ints padding, Ints dilation, int groups, TensorType type) {
        return emit(new Conv2dGradWeight(x, g, stride, padding, dilation, groups, type));
    }
    public Value fused(List<Value> inputs, Graph body, String kernel) { return emit(new Fused(inputs, body, kernel)); }

    // ---- small composites used by passes and the frontend -----------------------------------

    /// A scalar constant broadcast to `type` (one splat const of that type).
    public Value full(double value, TensorType type) { return constant(value, type); }

    /// Expands `x` to `type` by NumPy rules (align trailing axes; size-1 axes stretch).
    public Value broadcastTo(Value x, TensorType type) {
        TensorType t = x.type();
        if (t.shape().equals(type.shape())) return x;
        int offset = type.rank() - t.rank();
        if (offset < 0) throw new IrError(loc, "cannot broadcast " + t + " to " + type.shape());
        return broadcast(x, Axes.range(offset, type.rank()), type.withDType(t.dtype()));
    }

    /// Sums `g` down to `shape`, undoing `broadcastTo`: removes leading axes, then sums (keeping) size-1 axes.
    public Value sumTo(Value g, Shape shape) {
        Shape gs = g.type().shape();
        if (gs.equals(shape)) return g;
        int offset = gs.rank() - shape.rank();
        List<Integer> axes = new ArrayList<>();
        for (int i = 0; i < gs.rank(); i++)
            if (i < offset || (shape.dim(i - offset).equals(Dim.of(1)) && !gs.dim(i).equals(Dim.of(1)))) axes.add(i);
        Value s = reduceSum(g, new Axes(axes));
        return s.type().shape().equals(shape) ? s : reshape(s, g.type().withShape(shape));
    }
}
