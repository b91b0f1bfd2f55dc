package dev.kiln.passes.autodiff;

import dev.kiln.ir.Builder;
import dev.kiln.ir.Graph;
import dev.kiln.ir.IrError;
import dev.kiln.ir.Loc;
import dev.kiln.ir.Op.*;
import dev.kiln.ir.Ops;
import dev.kiln.ir.Value;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/// Reverse-mode automatic differentiation as a graph transformation: from `g` it builds one new
/// graph (the *joint* graph) with the same parameters that computes `g`'s results and then the
/// gradient for each requested parameter. The VJP rules, one per op, are in `Vjp`; this class is
/// the driver: copy the forward, find which values need a cotangent, sweep the body backwards.
///
/// Seeding (what is differentiated):
/// - `joint`: when result #0 is a float scalar (a loss), its seed is the constant 1 and the other
///   results are auxiliary outputs passed through undifferentiated (JAX's `has_aux`). Otherwise
///   it behaves as `vjp`.
/// - `vjp`: every float result gets a cotangent parameter, appended after `g`'s parameters:
///   `%grad_out` when `g` has one result, else `%grad_out.<i>` for result i (non-float results
///   get none). The gradients are those of `sum_i <grad_out.i, result_i>`. When `g` already has
///   parameters by those names, the prefix becomes `grad_grad_out` (and so on), so that `vjp` of
///   a `vjp` graph works.
/// - `grad`: like `joint` but returns only the gradients (what `g` computed is pruned when the
///   gradients do not need it). `joint(grad(f))` is how second derivatives are taken.
///
/// Invariant: the joint graph's results are `g`'s results (in order) followed by one gradient per
/// entry of `wrt`, each of that parameter's type. Only cotangents that reach a requested
/// parameter are emitted: activity is computed before the sweep, and a rule builds only the
/// operand cotangents the driver asks for. Gradient ops carry `Loc.Grad` of the op they come from.
public final class Differentiate {
    private Differentiate() {}

    /// The default name of the cotangent parameters that `vjp` adds.
    public static final String SEED = "grad_out";

    /// Results of `g`, then the gradient of result #0 (seed 1 when it is a scalar; see the class
    /// comment) with respect to each parameter named in `wrt`.
    public static Graph joint(Graph g, List<String> wrt) {
        if (g.results().isEmpty()) throw new IrError("differentiate: graph @" + g.name() + " has no results");
        Value r0 = g.results().getFirst();
        boolean scalarLoss = r0.type().dtype().isFloat() && r0.type().rank() == 0;
        return differentiate(g, wrt, !scalarLoss);
    }

    /// Results of `g`, then the gradients of `sum_i <grad_out.i, result_i>` with respect to `wrt`;
    /// one cotangent parameter per float result is appended to the parameters.
    public static Graph vjp(Graph g, List<String> wrt) { return differentiate(g, wrt, true); }

    /// Only the gradients of `joint(g, wrt)`, with values they do not need removed.
    public static Graph grad(Graph g, List<String> wrt) {
        Graph j = joint(g, wrt);
        return prune(j, j.results().subList(g.results().size(), j.results().size()));
    }

    /// `g` with only `results` returned and only the body values they need; same parameters.
    static Graph prune(Graph g, List<Value> results) {
        Set<Value> live = ancestors(results);
        return new Graph(g.name(), g.params(), g.body().stream().filter(live::contains).toList(), results);
    }

    /// Every value `roots` depend on, themselves included.
    static Set<Value> ancestors(List<Value> roots) {
        Set<Value> seen = new HashSet<>();
        List<Value> stack = new ArrayList<>(roots);
        while (!stack.isEmpty()) {
            Value v = stack.removeLast();
            if (seen.add(v)) stack.addAll(Ops.operands(v.op()));
        }
        return seen;
    }

    private static Graph differentiate(Graph g, List<String> wrt, boolean seedParams) {
        List<Value> wrtParams = resolve(g, wrt);
        Builder b = new Builder();
        // Source value (of g, or of a fused region) -> its copy in b.
        Map<Value, Value> primal = new HashMap<>();
        for (Value p : g.params())
            try (var _ = b.at(p.loc())) { primal.put(p, b.param(name(p), p.type())); }
        for (Value v : g.body())
            try (var _ = b.at(v.loc())) { primal.put(v, b.emit(Ops.mapOperands(v.op(), primal::get))); }

        Set<Value> active = activity(g.body(), new HashSet<>(wrtParams));
        Map<Value, Value> ct = new HashMap<>();
        List<Value> results = g.results();
        if (seedParams) {
            String prefix = freshPrefix(g);
            for (int i = 0; i < results.size(); i++) {
                Value r = results.get(i);
                if (!r.type().dtype().isFloat()) continue;
                Value seed;
                try (var _ = b.at(new Loc.Grad(r.loc()))) {
                    seed = b.param(results.size() == 1 ? prefix : prefix + "." + i, r.type());
                }
                if (active.contains(r)) accumulate(b, ct, r, seed);
            }
        } else {
            Value r = results.getFirst();
            if (active.contains(r))
                try (var _ = b.at(new Loc.Grad(r.loc()))) { ct.put(r, b.constant(1.0, r.type())); }
        }

        new Vjp(b).sweep(g.body(), primal, ct, active);

        List<Value> out = new ArrayList<>();
        for (Value r : results) out.add(primal.get(r));
        for (Value p : wrtParams) {
            Value c = ct.get(p);
            if (c == null) // the result does not depend on p (or only through a.e.-constant ops such as sign)
                try (var _ = b.at(new Loc.Grad(p.loc()))) { c = b.constant(0.0, p.type()); }
            out.add(c);
        }
        // Only a fused region's recomputed ops can be dead here (a rule reads the intermediates it
        // needs, not all of them); they go, while g's own values are kept as they were.
        Graph j = b.build(g.name(), out);
        Set<Value> keep = ancestors(out);
        keep.addAll(primal.values());
        return new Graph(j.name(), j.params(), j.body().stream().filter(keep::contains).toList(), out);
    }

    private static List<Value> resolve(Graph g, List<String> wrt) {
        List<Value> out = new ArrayList<>();
        for (String n : wrt) {
            Value p = g.param(n);
            if (p == null)
                throw new IrError("differentiate: graph @" + g.name() + " has no parameter '%" + n + "' (it has "
                        + String.join(", ", g.paramNames().stream().map(s -> "%" + s).toList()) + ")");
            if (!p.type().dtype().isFloat())
                throw new IrError(p.loc(), "differentiate: cannot take the gradient with respect to '%" + n + "' of type "
                        + p.type() + ": only float parameters are differentiable");
            out.add(p);
        }
        return out;
    }

    /// The values (of `body`, plus `seeds`) whose cotangent can reach a seed: float values with an
    /// active operand. `sign` is excluded because its derivative is zero wherever it exists, so
    /// nothing that flows through it would reach a parameter; bool and integer values (compares,
    /// argmax, iota, casts to int) are excluded by their dtype.
    static Set<Value> activity(List<Value> body, Set<Value> seeds) {
        Set<Value> active = new HashSet<>(seeds);
        for (Value v : body) {
            if (!v.type().dtype().isFloat() || v.op() instanceof Sign) continue;
            for (Value o : Ops.operands(v.op()))
                if (active.contains(o)) { active.add(v); break; }
        }
        return active;
    }

    /// Fan-out: a value used several times receives the sum of its users' cotangents.
    static void accumulate(Builder b, Map<Value, Value> ct, Value v, Value c) {
        Value old = ct.get(v);
        ct.put(v, old == null ? c : b.add(old, c));
    }

    private static String freshPrefix(Graph g) {
        String p = SEED;
        while (true) {
            String q = p;
            if (g.paramNames().stream().noneMatch(n -> n.equals(q) || n.startsWith(q + "."))) return p;
            p = "grad_" + p;
        }
    }

    static String name(Value param) { return ((Param) param.op()).name(); }
}
