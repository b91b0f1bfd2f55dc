package dev.kiln.passes;

import dev.kiln.ir.Builder;
import dev.kiln.ir.DenseData;
import dev.kiln.ir.Graph;
import dev.kiln.ir.Op;
import dev.kiln.ir.Op.*;
import dev.kiln.ir.Ops;
import dev.kiln.ir.TensorType;
import dev.kiln.ir.Value;
import dev.kiln.ir.interp.Interpreter;
import dev.kiln.runtime.DType;
import dev.kiln.runtime.NdArray;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/// Constant folding (`fold-constants`), in two steps, both computing with the reference
/// interpreter so that a folded value is exactly what the unfolded graph would give:
/// 1. Rules on splats: an elementwise op on splat constants becomes a splat `const` (evaluated
///    once, on scalars); layout ops of a splat and dense constants whose elements are all equal
///    become splats too.
/// 2. Whole parameter-free subgraphs: each value computed from constants alone that is a result
///    or feeds a non-constant op is evaluated and replaced by a splat `const`, or by a `dense`
///    constant of at most `MAX_DENSE` elements; larger results stay as computed.
///
/// Choices: `random_uniform` is never folded, although with a constant seed it is deterministic:
/// its numbers are cheap to regenerate and folding would only copy them into the IR. Leaves
/// (`const`, `dense`, `iota`) are never replaced by a bigger leaf. A subgraph whose evaluation
/// would cost more than `MAX_WORK` element operations (or whatever is left of four times that
/// for the whole graph), or has a symbolic shape, is left alone.
/// An i64 splat beyond 2^53 (which a `const`'s double cannot hold) stays dense or unfolded.
public final class FoldConstants implements Pass {
    public static final int MAX_DENSE = 4096;
    public static final long MAX_WORK = 1L << 22;

    public static final Pass PASS = new FoldConstants();
    private static final Pass SPLATS = new Rewrite("fold-constants", FoldConstants::rewrite);

    @Override public String name() { return "fold-constants"; }

    @Override public Graph run(Graph g) { return foldSubgraphs(SPLATS.run(g)); }

    public static Value rewrite(Builder b, Value v) {
        return switch (v.op()) {
            case Const _, Iota _, RandomUniform _, Param _ -> null;
            // dense [c, c, ..., c] -> const c
            case Dense _ when Simplify.splat(v) != null && exact(Simplify.splat(v), v.type()) -> b.constant(Simplify.splat(v), v.type());
            // op(c1, c2, ...) -> const op(c1, c2, ...), for elementwise ops
            case Elementwise e when allSplat(e) -> evalSplat(b, v);
            // broadcast(c) -> c; reshape(c) -> c; transpose(c) -> c; slice(c) -> c
            case Broadcast _, Reshape _, Transpose _, Slice _ when isSplatConst(Ops.operands(v.op()).getFirst()) ->
                    b.constant(Simplify.splat(Ops.operands(v.op()).getFirst()), v.type());
            // pad(c, value=c) -> c
            case Pad(var x, _, _, _, var value) when isSplatConst(x) && Simplify.splat(x) == value -> b.constant(value, v.type());
            default -> null;
        };
    }

    private static boolean isSplatConst(Value v) { return v.op() instanceof Const; }

    private static boolean allSplat(Op op) {
        for (Value x : Ops.operands(op)) if (!(x.op() instanceof Const)) return false;
        return true;
    }

    /// Evaluates `v`'s op on scalar copies of its splat operands; null when the result does not fit a const.
    private static Value evalSplat(Builder b, Value v) {
        Builder s = new Builder();
        Op scalarOp = Ops.mapOperands(v.op(), x -> s.constant(((Const) x.op()).value(), x.type().dtype()));
        Value r = s.emit(scalarOp);
        double value = Interpreter.run(s.build("splat", r), List.of()).getFirst().getDouble(0);
        return exact(value, v.type()) ? b.constant(value, v.type()) : null;
    }

    /// Whether a `const` of `type` can hold `value` exactly (i64 beyond 2^53 cannot).
    private static boolean exact(double value, TensorType type) {
        return !type.dtype().isInteger() || Math.abs(value) <= 0x1p53;
    }

    // ---- step 2: parameter-free subgraphs --------------------------------------------------

    private static Graph foldSubgraphs(Graph g) {
        Set<Value> constant = new HashSet<>();
        for (Value v : g.body()) if (isConstant(v, constant)) constant.add(v);
        Set<Value> frontier = new HashSet<>(g.results());
        for (Value v : g.body())
            if (!constant.contains(v)) frontier.addAll(Ops.operands(v.op()));
        List<Value> candidates = new ArrayList<>();
        Set<Value> cone = new HashSet<>();
        double budget = 4.0 * MAX_WORK; // for the whole graph, so that many small subgraphs cannot add up to hours
        for (Value v : g.body()) {
            if (!constant.contains(v) || !frontier.contains(v) || isLeaf(v.op())) continue;
            Set<Value> mine = Rewrite.reachable(List.of(v));
            double work = 0;
            for (Value c : mine) if (!cone.contains(c)) work += cost(c);
            if (work > MAX_WORK || work > budget) continue;
            budget -= work;
            candidates.add(v);
            cone.addAll(mine);
        }
        if (candidates.isEmpty()) return g;
        List<Value> body = g.body().stream().filter(cone::contains).toList();
        List<NdArray> values = Interpreter.run(new Graph("fold", List.of(), body, candidates), List.of());

        Map<Value, Op> replacement = new HashMap<>();
        for (int i = 0; i < candidates.size(); i++) {
            Op leaf = leafFor(values.get(i), candidates.get(i).type());
            if (leaf != null) replacement.put(candidates.get(i), leaf);
        }
        if (replacement.isEmpty()) return g;
        Builder b = new Builder();
        Map<Value, Value> map = Rewrite.copyParams(g, b);
        for (Value v : g.body()) {
            try (var _ = b.at(v.loc())) {
                Op leaf = replacement.get(v);
                map.put(v, b.emit(leaf != null ? leaf : Ops.mapOperands(v.op(), map::get)));
            }
        }
        return Rewrite.finish(g, b, map);
    }

    private static boolean isConstant(Value v, Set<Value> constantSoFar) {
        if (!v.type().shape().isStatic()) return false;
        return switch (v.op()) {
            case Param _, RandomUniform _ -> false;
            default -> constantSoFar.containsAll(Ops.operands(v.op()));
        };
    }

    private static boolean isLeaf(Op op) { return op instanceof Const || op instanceof Dense || op instanceof Iota; }

    /// Element operations the interpreter spends on `v` (in double, so a hostile shape cannot
    /// overflow it): its size, times the inner length of a contraction or the size of a region.
    private static double cost(Value v) {
        double inner = switch (v.op()) {
            case Matmul m -> (double) m.lhs().type().dim(m.lhs().type().rank() - 1).size();
            case Conv2d c -> numel(c.w());
            case Conv2dGradInput c -> numel(c.w());
            case Conv2dGradWeight c -> numel(c.g());
            case Fused f -> f.body().body().size();
            default -> 1;
        };
        return Math.max(1, numel(v)) * Math.max(1, inner);
    }

    private static double numel(Value v) {
        double n = 1;
        for (var d : v.type().shape().dims()) n *= d.size();
        return n;
    }

    /// A splat `const` when every element is the same (and fits), else a `dense` constant when small enough, else null.
    private static Op leafFor(NdArray a, TensorType type) {
        boolean same = a.size() > 0;
        long first = same ? bits(a, 0) : 0;
        for (int i = 1; i < a.size() && same; i++) same = bits(a, i) == first;
        if (same && exact(a.getDouble(0), type) && (a.dtype() != DType.I64 || Math.abs(a.getLong(0)) <= 1L << 53))
            return new Const(a.getDouble(0), type);
        return a.size() <= MAX_DENSE ? new Dense(new DenseData(a)) : null;
    }

    private static long bits(NdArray a, int i) {
        return a.dtype().isInteger() ? a.getLong(i) : Double.doubleToLongBits(a.getDouble(i));
    }
}
