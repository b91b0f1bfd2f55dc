package dev.kiln.passes.fusion;

import dev.kiln.ir.Axes;
import dev.kiln.ir.Graph;
import dev.kiln.ir.IrError;
import dev.kiln.ir.Op;
import dev.kiln.ir.Op.*;
import dev.kiln.ir.Ops;
import dev.kiln.ir.Shape;
import dev.kiln.ir.Value;

import java.util.HashSet;
import java.util.List;
import java.util.Set;

/// Which of the three kernel shapes a `fused` body has (see `Fuse`), read from the body alone,
/// for the lowering to switch on. Invariant: `of` accepts every body `fuse` makes, and refuses
/// (with an IrError naming the op) a body that breaks the rules:
/// - `LOOP`: no reduction and no contraction;
/// - `CONTRACTION`: one contraction whose operands are the body's parameters; every op that
///   uses its result, directly or not, is elementwise of the contraction's shape;
/// - `ROW_REDUCTION`: reductions that all reduce `rowShape` over `rowAxes`; every op that uses a
///   reduced value is elementwise, another such reduction, or a broadcast of a reduced-shape value
///   back to `rowShape` along `rowAxes`.
public record KernelShape(Kind kind, Value contraction, List<Value> reductions, Shape rowShape, Axes rowAxes) {
    public enum Kind { LOOP, CONTRACTION, ROW_REDUCTION }

    public KernelShape { reductions = List.copyOf(reductions); }

    public static KernelShape of(Fused f) { return of(f.body()); }

    public static KernelShape of(Graph body) {
        Value contraction = null;
        List<Value> reductions = new java.util.ArrayList<>();
        for (Value v : body.body()) {
            switch (Fuse.kind(v.op())) {
                case CONTRACT -> {
                    if (contraction != null) throw fail(v, "is a second contraction in kernel @" + body.name());
                    for (Value x : Ops.operands(v.op()))
                        if (!body.params().contains(x)) throw fail(v, "operand is computed in kernel @" + body.name() + ", not read from memory");
                    contraction = v;
                }
                case REDUCE -> reductions.add(v);
                case OPAQUE -> throw fail(v, "cannot be inside kernel @" + body.name());
                default -> {}
            }
        }
        if (contraction != null) {
            if (!reductions.isEmpty()) throw fail(reductions.getFirst(), "shares kernel @" + body.name() + " with a contraction");
            for (Value d : users(body, Set.of(contraction)))
                if (!(d.op() instanceof Elementwise) || !d.type().shape().equals(contraction.type().shape()))
                    throw fail(d, "follows a contraction in kernel @" + body.name() + " but is not elementwise of its shape");
            return new KernelShape(Kind.CONTRACTION, contraction, List.of(), null, null);
        }
        if (reductions.isEmpty()) return new KernelShape(Kind.LOOP, null, List.of(), null, null);
        Shape in = Ops.operands(reductions.getFirst().op()).getFirst().type().shape();
        Axes axes = axes(reductions.getFirst().op());
        Shape reduced = in.without(axes);
        for (Value r : reductions)
            if (!Ops.operands(r.op()).getFirst().type().shape().equals(in) || !axes(r.op()).equals(axes))
                throw fail(r, "reduces other axes than the first reduction of kernel @" + body.name());
        for (Value d : users(body, new HashSet<>(reductions))) {
            boolean ok = switch (d.op()) {
                case Elementwise _, ReduceSum _, ReduceMax _, Argmax _ -> true;
                case Broadcast(var x, var dims, var t) -> x.type().shape().equals(reduced) && t.shape().equals(in)
                        && dims.equals(axes.complement(in.rank()));
                default -> false;
            };
            if (!ok) throw fail(d, "uses a reduced value in kernel @" + body.name() + " other than elementwise or broadcast back along the reduced axes");
        }
        return new KernelShape(Kind.ROW_REDUCTION, null, reductions, in, axes);
    }

    private static Axes axes(Op op) {
        return switch (op) {
            case ReduceSum r -> r.axes();
            case ReduceMax r -> r.axes();
            case Argmax a -> Axes.of(a.axis());
            default -> throw new IllegalArgumentException(Ops.mnemonic(op));
        };
    }

    /// Body values that use any of `from`, directly or not (excluding `from` themselves).
    private static List<Value> users(Graph body, Set<Value> from) {
        Set<Value> dep = new HashSet<>(from);
        List<Value> out = new java.util.ArrayList<>();
        for (Value v : body.body())
            if (!from.contains(v) && Ops.operands(v.op()).stream().anyMatch(dep::contains)) {
                dep.add(v);
                out.add(v);
            }
        return out;
    }

    private static IrError fail(Value v, String what) { return new IrError(v.loc(), "'" + Ops.mnemonic(v.op()) + "' " + what); }
}
