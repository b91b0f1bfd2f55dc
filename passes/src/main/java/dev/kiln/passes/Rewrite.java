package dev.kiln.passes;

import dev.kiln.ir.Builder;
import dev.kiln.ir.Graph;
import dev.kiln.ir.IrError;
import dev.kiln.ir.Op;
import dev.kiln.ir.Ops;
import dev.kiln.ir.Value;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/// A pass made of one rule function: rebuilds each op in order on rewritten operands, then
/// applies the rule to the new value until it returns null (or the value itself). Rebuilding
/// goes through a `Builder`, so equal ops merge as they are emitted.
///
/// Invariant: the output holds what its results use plus the images of the input's dead values,
/// and nothing else. What the rewrite itself made dead (`mul(x, 1)` once it became `x`, the
/// constant `1`) is dropped; what was already dead in the input stays, since removing it is
/// `dce`'s job. Regions of `fused` ops are left as they are.
public record Rewrite(String name, Rule rule) implements Pass {
    /// Maximum rule applications to one value before the pass gives up.
    public static final int MAX_STEPS = 64;

    /// One rewrite step: a replacement for `v` (emitted through `b`), or null when no rule applies.
    @FunctionalInterface
    public interface Rule {
        Value apply(Builder b, Value v);
    }

    @Override public Graph run(Graph g) {
        Builder b = new Builder();
        Map<Value, Value> map = copyParams(g, b);
        for (Value v : g.body()) {
            try (var _ = b.at(v.loc())) {
                Value nv = b.emit(Ops.mapOperands(v.op(), map::get));
                for (int step = 0; ; step++) {
                    Value r = rule.apply(b, nv);
                    if (r == null || r == nv) break;
                    if (step == MAX_STEPS)
                        throw new IrError(v.loc(), "pass '" + name + "' did not converge on '" + Ops.mnemonic(v.op())
                                + "' after " + MAX_STEPS + " rewrites (last: '" + Ops.mnemonic(r.op()) + "')");
                    nv = r;
                }
                map.put(v, nv);
            }
        }
        return finish(g, b, map);
    }

    /// Builds the rewritten graph from `b`, where `map` takes each input value to its image, and
    /// drops what the rewrite made dead (see the class comment).
    public static Graph finish(Graph input, Builder b, Map<Value, Value> map) {
        List<Value> results = input.results().stream().map(map::get).toList();
        Graph full = b.build(input.name(), results);
        List<Value> roots = new ArrayList<>(results);
        Set<Value> live = reachable(input.results());
        for (Value v : input.body()) if (!live.contains(v)) roots.add(map.get(v));
        return keepReachable(full, roots);
    }

    /// A builder's fresh copies of `g`'s parameters (same names, types, locations), keyed by the originals.
    public static Map<Value, Value> copyParams(Graph g, Builder b) {
        Map<Value, Value> map = new HashMap<>();
        for (Value p : g.params()) {
            try (var _ = b.at(p.loc())) {
                map.put(p, b.param(((Op.Param) p.op()).name(), p.type()));
            }
        }
        return map;
    }

    /// `g` with only the body values that `roots` use, transitively (parameters always stay).
    public static Graph keepReachable(Graph g, List<Value> roots) {
        Set<Value> live = reachable(roots);
        List<Value> body = g.body().stream().filter(live::contains).toList();
        return body.size() == g.body().size() ? g : new Graph(g.name(), g.params(), body, g.results());
    }

    /// `roots` and every value they use, transitively.
    public static Set<Value> reachable(List<Value> roots) {
        Set<Value> live = new HashSet<>();
        List<Value> work = new ArrayList<>(roots);
        while (!work.isEmpty()) {
            Value v = work.removeLast();
            if (live.add(v)) work.addAll(Ops.operands(v.op()));
        }
        return live;
    }
}
