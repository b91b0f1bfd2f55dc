package dev.kiln.passes;

import dev.kiln.ir.Axes;
import dev.kiln.ir.Builder;
import dev.kiln.ir.DenseData;
import dev.kiln.ir.Dim;
import dev.kiln.ir.Graph;
import dev.kiln.ir.Ints;
import dev.kiln.ir.Loc;
import dev.kiln.ir.Op;
import dev.kiln.ir.Shape;
import dev.kiln.ir.TensorType;
import dev.kiln.ir.Value;
import dev.kiln.runtime.DType;
import dev.kiln.runtime.NdArray;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import java.util.function.Supplier;

/// Random well-typed graphs over the whole primitive set, reproducible from a seed. Every op is
/// made from operands whose types fit it, so `Builder.emit` never refuses one; the mix leans
/// toward the shapes passes look for (constants 0, 1, -1, 2; double negations; chains of
/// reshapes, transposes and broadcasts; parameter-free subgraphs; softmax rows; dense layers).
public final class RandomGraphs {
    private final Random rnd;
    private final Builder b = new Builder();
    private final List<Value> pool = new ArrayList<>();
    private int params;
    private int line = 1;

    private RandomGraphs(long seed) { rnd = new Random(seed); }

    public static Graph generate(long seed) { return new RandomGraphs(seed).build("g" + seed); }

    /// Random inputs for `g`'s parameters: floats in [-2, 2], integers in [-5, 5], random bools;
    /// every dimension symbol is bound to 3.
    public static List<NdArray> inputs(Graph g, long seed) {
        Random r = new Random(seed * 31 + 7);
        List<NdArray> out = new ArrayList<>();
        for (Value p : g.params()) {
            TensorType t = p.type();
            java.util.Map<String, Integer> bindings = new java.util.HashMap<>();
            for (Dim d : t.shape().dims()) if (d instanceof Dim.Sym(String name)) bindings.put(name, 3); // every symbol is 3
            int[] shape = t.shape().resolve(bindings);
            NdArray a = NdArray.zeros(t.dtype(), shape);
            for (int i = 0; i < a.size(); i++) {
                if (t.dtype().isFloat()) a.setDouble(i, r.nextInt(9) == 0 ? r.nextInt(3) - 1 : r.nextDouble() * 4 - 2);
                else if (t.dtype() == DType.BOOL) a.setBool(i, r.nextBoolean());
                else a.setLong(i, r.nextInt(11) - 5);
            }
            out.add(a);
        }
        return out;
    }

    private Graph build(String name) {
        int n = 1 + rnd.nextInt(3);
        for (int i = 0; i < n; i++) newParam(randomType(pick(DType.F32, DType.F32, DType.F32, DType.F64, DType.I32, DType.BOOL)));
        int ops = 4 + rnd.nextInt(22);
        for (int i = 0; i < ops; i++) {
            try (var _ = b.at(Loc.of("Gen.java", line++))) {
                Value v = step();
                if (v != null && !pool.contains(v)) pool.add(v);
            }
        }
        // Results: most values nothing else uses, so that nearly all the graph is checked; the
        // others are dead code for dce.
        java.util.Set<Value> used = new java.util.HashSet<>();
        for (Value v : pool) used.addAll(dev.kiln.ir.Ops.operands(v.op()));
        List<Value> sinks = pool.stream().filter(v -> !(v.op() instanceof Op.Param) && !used.contains(v)).toList();
        List<Value> results = new ArrayList<>();
        for (Value v : sinks) if (results.size() < 8 && rnd.nextInt(5) > 0) results.add(v);
        if (results.isEmpty()) results.add(sinks.isEmpty() ? pool.getLast() : sinks.getLast());
        if (rnd.nextInt(8) == 0) results.add(results.getFirst()); // a value returned twice
        return b.build(name, results);
    }

    // ---- one random op -------------------------------------------------------------------

    private Value step() {
        int k = rnd.nextInt(100);
        if (k < 10) return leaf();
        if (k < 24) return unary();
        if (k < 44) return binary();
        if (k < 50) return compareOrLogic();
        if (k < 54) return select();
        if (k < 57) return b.emit(new Op.Cast(any(), pick(DType.F32, DType.F64, DType.I32, DType.BOOL, DType.I64)));
        if (k < 70) return layout();
        if (k < 80) return reduce();
        if (k < 84) return matmul();
        if (k < 86) return conv();
        if (k < 93) return pattern();
        if (k < 96) return softmax();
        return dense();
    }

    private Value leaf() {
        TensorType t = rnd.nextBoolean() ? any().type() : randomType(pick(DType.F32, DType.I32));
        return switch (rnd.nextInt(6)) {
            case 0, 1, 2 -> constantFor(t);
            case 3 -> t.rank() > 0 && t.dtype() != DType.BOOL ? b.iota(rnd.nextInt(t.rank()), t) : constantFor(t);
            case 4 -> b.randomUniform(b.constant(rnd.nextInt(3), DType.I64), t.withDType(DType.F32));
            default -> b.randomUniform(b.constant(rnd.nextInt(3), DType.I64), t.withDType(DType.F64));
        };
    }

    private Value constantFor(TensorType t) {
        if (t.dtype() == DType.BOOL) return b.constant(rnd.nextInt(2), t);
        double[] special = {0, 1, -1, 2, 0.5, 3};
        double c = rnd.nextInt(4) == 0 ? Math.round((rnd.nextDouble() * 6 - 3) * 8) / 8.0 : special[rnd.nextInt(special.length)];
        return b.constant(t.dtype().isInteger() ? Math.rint(c) : c, t);
    }

    private Value unary() {
        Value x = numeric();
        if (!x.type().dtype().isFloat()) return switch (rnd.nextInt(4)) {
            case 0 -> b.neg(x);
            case 1 -> b.abs(x);
            case 2 -> b.sign(x);
            default -> b.relu(x);
        };
        return switch (rnd.nextInt(9)) {
            case 0 -> b.neg(x);
            case 1 -> b.abs(x);
            case 2 -> b.sign(x);
            case 3 -> b.relu(x);
            case 4 -> b.exp(b.tanh(x)); // bounded, so chains of exp stay finite
            case 5 -> b.log(x);
            case 6 -> b.sqrt(x);
            case 7 -> b.tanh(x);
            default -> b.neg(b.neg(x));
        };
    }

    private Value binary() {
        Value x = numeric(), y = partner(x);
        if (rnd.nextBoolean()) { Value t = x; x = y; y = t; }
        return switch (rnd.nextInt(8)) {
            case 0, 1 -> b.add(x, y);
            case 2 -> b.sub(x, y);
            case 3, 4 -> b.mul(x, y);
            case 5 -> b.div(x, y);
            case 6 -> rnd.nextBoolean() ? b.pow(x, y) : b.max(x, y);
            default -> b.min(x, y);
        };
    }

    /// A value of `x`'s type: x itself, another of that type, a constant, or x converted.
    private Value partner(Value x) {
        List<Value> same = new ArrayList<>(pool.stream().filter(v -> v.type().equals(x.type())).toList());
        same.add(x);
        return switch (rnd.nextInt(6)) {
            case 0 -> x;
            case 1, 2 -> same.get(rnd.nextInt(same.size()));
            case 3, 4 -> constantFor(x.type());
            default -> x.type().rank() > 0 && x.type().dtype() != DType.BOOL ? b.broadcast(b.reduceSum(x, Axes.of(x.type().rank() - 1)),
                    Axes.range(x.type().rank() - 1), x.type()) : constantFor(x.type());
        };
    }

    private Value compareOrLogic() {
        List<Value> bools = pool.stream().filter(v -> v.type().dtype() == DType.BOOL).toList();
        if (!bools.isEmpty() && rnd.nextInt(3) == 0) {
            Value p = bools.get(rnd.nextInt(bools.size()));
            List<Value> same = bools.stream().filter(v -> v.type().equals(p.type())).toList();
            Value q = same.get(rnd.nextInt(same.size()));
            return switch (rnd.nextInt(4)) {
                case 0 -> b.and(p, q);
                case 1 -> b.or(p, q);
                case 2 -> b.not(p);
                default -> b.ne(p, q);
            };
        }
        Value x = numeric(), y = partner(x);
        return switch (rnd.nextInt(6)) {
            case 0 -> b.eq(x, y);
            case 1 -> b.ne(x, y);
            case 2 -> b.lt(x, y);
            case 3 -> b.le(x, y);
            case 4 -> b.gt(x, y);
            default -> b.ge(x, y);
        };
    }

    private Value select() {
        Value x = any(), y = partner(x);
        TensorType ct = x.type().withDType(DType.BOOL);
        List<Value> conds = pool.stream().filter(v -> v.type().equals(ct)).toList();
        Value c = !conds.isEmpty() && rnd.nextBoolean() ? conds.get(rnd.nextInt(conds.size()))
                : rnd.nextInt(3) == 0 ? b.constant(rnd.nextInt(2), ct)
                : x.type().dtype() == DType.BOOL ? x : b.gt(x, constantFor(x.type()));
        return b.select(c, x, y);
    }

    private Value layout() {
        Value x = any();
        TensorType t = x.type();
        int r = t.rank();
        switch (rnd.nextInt(7)) {
            case 0, 1 -> { // broadcast: new axes and stretched unit axes
                List<Dim> out = new ArrayList<>();
                List<Integer> dims = new ArrayList<>();
                for (int i = 0; i < r; i++) {
                    if (out.size() < 4 && rnd.nextInt(3) == 0) out.add(Dim.of(1 + rnd.nextInt(3)));
                    dims.add(out.size());
                    out.add(t.dim(i).equals(Dim.of(1)) && rnd.nextBoolean() ? Dim.of(1 + rnd.nextInt(3)) : t.dim(i));
                }
                if (out.size() < 4 && rnd.nextBoolean()) out.add(Dim.of(1 + rnd.nextInt(3)));
                return b.broadcast(x, new Axes(dims), t.withShape(new Shape(out)));
            }
            case 2 -> {
                return b.reshape(x, t.withShape(factor(t.shape().numel())));
            }
            case 3 -> {
                if (r < 2) return b.reshape(x, t.withShape(factor(t.shape().numel())));
                List<Integer> perm = new ArrayList<>(Axes.range(r).values());
                Collections.shuffle(perm, rnd);
                return b.transpose(x, new Axes(perm));
            }
            case 4 -> {
                if (r == 0) return null;
                int axis = rnd.nextInt(r);
                int d = (int) t.dim(axis).size(), start = rnd.nextInt(d), end = start + 1 + rnd.nextInt(d - start);
                return b.slice(x, axis, rnd.nextBoolean() ? 0 : start, rnd.nextBoolean() ? d : end, 1 + rnd.nextInt(2));
            }
            case 5 -> {
                if (r == 0) return null;
                return b.pad(x, rnd.nextInt(r), rnd.nextInt(2), rnd.nextInt(3), t.dtype() == DType.BOOL ? 1 : rnd.nextInt(3) - 1);
            }
            default -> {
                if (r == 0) return null;
                int axis = rnd.nextInt(r);
                List<Value> xs = new ArrayList<>(List.of(x));
                for (Value v : pool) {
                    if (xs.size() >= 3) break;
                    if (v != x && v.type().dtype() == t.dtype() && v.type().rank() == r && sameBut(v.type().shape(), t.shape(), axis)) xs.add(v);
                }
                if (rnd.nextBoolean()) xs.add(x);
                return b.concat(xs, axis);
            }
        }
    }

    private static boolean sameBut(Shape a, Shape c, int axis) {
        for (int i = 0; i < a.rank(); i++) if (i != axis && !a.dim(i).equals(c.dim(i))) return false;
        return true;
    }

    /// A random shape of `n` elements, rank at most 4.
    private Shape factor(long n) {
        List<Long> dims = new ArrayList<>();
        long left = n;
        for (long p = 2; p <= left; p++) while (left % p == 0) { dims.add(p); left /= p; }
        List<Long> merged = new ArrayList<>();
        for (long d : dims) {
            if (!merged.isEmpty() && (merged.size() >= 4 || rnd.nextBoolean())) merged.set(merged.size() - 1, merged.getLast() * d);
            else merged.add(d);
        }
        while (merged.size() < 4 && rnd.nextInt(4) == 0) merged.add(rnd.nextInt(merged.size() + 1), 1L);
        Collections.shuffle(merged, rnd);
        return Shape.of(merged.stream().mapToLong(Long::longValue).toArray());
    }

    private Value reduce() {
        Value x = numeric();
        int r = x.type().rank();
        if (r == 0) return b.reduceSum(x, Axes.of());
        if (rnd.nextInt(4) == 0) return b.argmax(x, rnd.nextInt(r));
        List<Integer> axes = new ArrayList<>();
        for (int i = 0; i < r; i++) if (rnd.nextInt(2) == 0) axes.add(i);
        return rnd.nextBoolean() ? b.reduceSum(x, new Axes(axes)) : b.reduceMax(x, new Axes(axes));
    }

    private Value matmul() {
        Value x = pickWhere(v -> v.type().rank() >= 2 && v.type().dtype().isFloat(), () -> newParam(TensorType.f32(2 + rnd.nextInt(3), 1 + rnd.nextInt(4))));
        TensorType t = x.type();
        int r = t.rank();
        Value w;
        if (rnd.nextBoolean()) {
            List<Integer> perm = new ArrayList<>(Axes.range(r).values());
            Collections.swap(perm, r - 1, r - 2);
            w = b.transpose(x, new Axes(perm));
        } else {
            List<Dim> dims = new ArrayList<>(t.shape().dims().subList(0, r - 2));
            dims.add(t.dim(r - 1));
            dims.add(Dim.of(1 + rnd.nextInt(4)));
            w = newParam(t.withShape(new Shape(dims)));
        }
        Value y = b.matmul(x, w);
        if (rnd.nextBoolean()) { // a dense layer: bias, then an activation
            Value bias = newParam(t.withShape(Shape.of(y.type().dim(r - 1))));
            y = b.add(y, b.broadcast(bias, Axes.of(r - 1), y.type()));
            if (rnd.nextBoolean()) y = b.relu(y);
        }
        return y;
    }

    private Value conv() {
        int n = 1 + rnd.nextInt(2), groups = 1 + rnd.nextInt(2), c = groups * (1 + rnd.nextInt(2)), o = groups * (1 + rnd.nextInt(2));
        int k = 1 + rnd.nextInt(3), stride = 1 + rnd.nextInt(2), pad = rnd.nextInt(2), dil = 1 + rnd.nextInt(2);
        int h = 3 + rnd.nextInt(3) + dil * (k - 1);
        Value x = newParam(TensorType.f32(n, c, h, h)), w = newParam(TensorType.f32(o, c / groups, k, k));
        Ints s = Ints.of(stride, stride), p = Ints.of(pad, pad), d = Ints.of(dil, dil);
        Value y = b.conv2d(x, w, s, p, d, groups);
        return switch (rnd.nextInt(4)) {
            case 0 -> b.conv2dGradInput(b.relu(y), w, s, p, d, groups, x.type());
            case 1 -> b.conv2dGradWeight(x, b.mul(y, y), s, p, d, groups, w.type());
            default -> b.relu(b.add(y, b.broadcast(newParam(TensorType.f32(o)), Axes.of(1), y.type())));
        };
    }

    /// Shapes the simplifier and folder look for.
    private Value pattern() {
        Value x = any();
        TensorType t = x.type();
        int r = t.rank();
        return switch (rnd.nextInt(9)) {
            case 0 -> t.dtype() == DType.BOOL ? b.not(b.not(x)) : b.neg(b.neg(x));
            case 1 -> b.emit(new Op.Cast(x, t.dtype()));
            case 2 -> b.reshape(b.reshape(x, t.withShape(factor(t.shape().numel()))), t.withShape(factor(t.shape().numel())));
            case 3 -> {
                if (r < 2) yield b.reshape(x, t);
                List<Integer> p = new ArrayList<>(Axes.range(r).values());
                Collections.shuffle(p, rnd);
                List<Integer> q = new ArrayList<>(Axes.range(r).values());
                Collections.shuffle(q, rnd);
                yield b.transpose(b.transpose(x, new Axes(p)), new Axes(q));
            }
            case 4 -> { // keepdim-style: reshape adding a unit axis, then broadcast
                List<Dim> d = new ArrayList<>(t.shape().dims());
                int at = rnd.nextInt(r + 1);
                d.add(at, Dim.of(1));
                Value y = b.reshape(x, t.withShape(new Shape(d)));
                List<Dim> out = new ArrayList<>(d);
                out.set(at, Dim.of(3));
                yield b.broadcast(y, Axes.range(r + 1), t.withShape(new Shape(out)));
            }
            case 5 -> { // parameter-free arithmetic
                TensorType it = TensorType.f32(2 + rnd.nextInt(3), 3);
                yield b.mul(b.cast(b.iota(rnd.nextInt(2), it.withDType(DType.I32)), DType.F32), b.constant(rnd.nextInt(3), it));
            }
            case 6 -> t.dtype().isFloat() ? b.pow(x, b.constant(1 + rnd.nextInt(2), t))
                    : t.dtype() == DType.BOOL ? b.and(x, x) : b.mul(x, b.constant(rnd.nextInt(2), t));
            case 7 -> t.dtype() == DType.BOOL ? b.and(x, x) : b.sub(x, x);
            default -> {
                Value z = b.broadcast(b.constant(rnd.nextInt(2), t.withShape(Shape.SCALAR)), Axes.of(), t);
                yield t.dtype() == DType.BOOL ? b.or(x, z) : b.add(b.mul(x, b.broadcast(b.constant(1, t.withShape(Shape.SCALAR)), Axes.of(), t)), z);
            }
        };
    }

    /// softmax or log-softmax over the last axis, and sometimes a cross-entropy against a one-hot.
    private Value softmax() {
        Value x = pickWhere(v -> v.type().rank() >= 1 && v.type().dtype().isFloat(), () -> newParam(TensorType.f32(2, 3)));
        TensorType t = x.type();
        int r = t.rank();
        Axes last = Axes.of(r - 1), keep = Axes.range(r - 1);
        Value m = b.broadcast(b.reduceMax(x, last), keep, t);
        Value z = b.sub(x, m);
        Value e = b.exp(z);
        Value s = b.broadcast(b.reduceSum(e, last), keep, t);
        if (rnd.nextBoolean()) return b.div(e, s);
        Value logSoftmax = b.sub(z, b.log(s));
        if (rnd.nextBoolean()) return logSoftmax;
        Value oneHot = b.cast(b.eq(b.iota(r - 1, t.withDType(DType.I32)), b.constant(1, t.withDType(DType.I32))), t.dtype());
        Value loss = b.neg(b.reduceSum(b.mul(oneHot, logSoftmax), Axes.range(r)));
        return b.mul(loss, b.constant(1.0 / Math.max(1, t.shape().numel() / t.dim(r - 1).size()), loss.type()));
    }

    private Value dense() {
        TensorType t = randomType(pick(DType.F32, DType.I32));
        NdArray a = NdArray.zeros(t.dtype(), t.shape().resolve(java.util.Map.of()));
        double c = rnd.nextInt(3);
        for (int i = 0; i < a.size(); i++) a.setDouble(i, rnd.nextInt(3) == 0 ? c : rnd.nextInt(7) - 3);
        return b.dense(new DenseData(a));
    }

    // ---- picking -------------------------------------------------------------------------

    private Value newParam(TensorType t) {
        Value p = b.param("p" + params++, t);
        pool.add(p);
        return p;
    }

    private TensorType randomType(DType d) {
        int rank = rnd.nextInt(4);
        long[] dims = new long[rank];
        for (int i = 0; i < rank; i++) dims[i] = 1 + rnd.nextInt(4);
        return new TensorType(d, Shape.of(dims));
    }

    /// A pool value, the recent ones likelier.
    private Value any() {
        int n = pool.size();
        return pool.get(rnd.nextInt(3) == 0 ? rnd.nextInt(n) : n - 1 - rnd.nextInt(Math.min(n, 4)));
    }

    private Value numeric() {
        Value x = any();
        return x.type().dtype() == DType.BOOL ? b.cast(x, rnd.nextBoolean() ? DType.F32 : DType.I32) : x;
    }

    private Value pickWhere(java.util.function.Predicate<Value> p, Supplier<Value> otherwise) {
        List<Value> ok = pool.stream().filter(p).toList();
        return ok.isEmpty() || rnd.nextInt(4) == 0 ? otherwise.get() : ok.get(rnd.nextInt(ok.size()));
    }

    @SafeVarargs
    private <T> T pick(T... options) { return options[rnd.nextInt(options.length)]; }
}
