package dev.kiln.passes;

import dev.kiln.ir.Builder;
import dev.kiln.ir.Graph;
import dev.kiln.ir.Op;
import dev.kiln.ir.Op.*;
import dev.kiln.ir.Ops;
import dev.kiln.ir.Value;

import java.util.HashMap;
import java.util.Map;

/// Common-subexpression elimination (`cse`): rebuilds the graph through a `Builder`, whose
/// interning merges equal ops, after putting the operands of commutative ops in a canonical
/// order (by definition order) so that `add(a, b)` and `add(b, a)` merge too.
/// Invariant: the output's body is the input's, less the values that equal an earlier one.
/// Regions are not looked into (two `fused` ops merge only if they share one body).
public final class Cse implements Pass {
    public static final Pass PASS = new Cse();

    @Override public String name() { return "cse"; }

    @Override public Graph run(Graph g) {
        Builder b = new Builder();
        Map<Value, Value> map = Rewrite.copyParams(g, b);
        Map<Value, Integer> order = new HashMap<>();
        for (Value p : map.values()) order.put(p, ((Param) p.op()).index());
        for (Value v : g.body()) {
            try (var _ = b.at(v.loc())) {
                Op op = Ops.mapOperands(v.op(), map::get);
                if (op instanceof Commutative && op instanceof Binary bin
                        && order.get(bin.lhs()) > order.get(bin.rhs()))
                    op = swapped(bin);
                Value nv = b.emit(op);
                order.putIfAbsent(nv, order.size());
                map.put(v, nv);
            }
        }
        return Rewrite.finish(g, b, map);
    }

    private static Op swapped(Binary op) {
        Ops.Info info = Ops.info(op.getClass());
        return Ops.construct(info, new Object[]{op.rhs(), op.lhs()});
    }
}
