package dev.kiln.ir;

import dev.kiln.ir.Op.Param;
import dev.kiln.ir.text.Printer;

import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Set;

/// Checks the invariants every pass must keep, on any graph however it was built:
/// - parameter i is a `Param` op with index i, a unique name and its declared type;
/// - every operand is a parameter or an earlier body value of the same graph (a region sees only
///   its own parameters and values);
/// - no value is defined twice;
/// - each value's type is what its op's type rule gives;
/// - results are defined in the graph; regions are checked the same way.
///
/// Each error is an `IrError` at the culprit's location that names it (`%12: ...`) and, as JAX's
/// `check_jaxpr` does, shows the printed statements around it, the culprit marked `>>`.
/// Invariant: `check` never throws; it returns the errors found (at most 100), in graph order.
public final class Verifier {
    private Verifier() {}

    private static final int RADIUS = 5;
    private static final int MAX_ERRORS = 100;

    /// Every error in `g` (empty when it is valid).
    public static List<IrError> check(Graph g) {
        Checker c = new Checker(g);
        c.graph(g, List.of());
        return c.errors;
    }

    /// Throws the first error of `check(g)`, its message followed by the others, if there is one.
    public static void verify(Graph g) {
        List<IrError> errors = check(g);
        if (errors.isEmpty()) return;
        IrError first = errors.getFirst();
        if (errors.size() == 1) throw first;
        StringBuilder detail = new StringBuilder(first.detail());
        detail.append("\n(").append(errors.size() - 1).append(" more error").append(errors.size() == 2 ? "" : "s").append(')');
        for (IrError e : errors.subList(1, errors.size())) detail.append("\n\n").append(e.getMessage());
        throw new IrError(first.loc(), detail.toString());
    }

    private static final class Checker {
        final Graph root;
        final List<IrError> errors = new ArrayList<>();
        /// Every value defined so far anywhere in the root graph, to catch double definitions.
        final Set<Value> defined = Collections.newSetFromMap(new IdentityHashMap<>());

        Checker(Graph root) { this.root = root; }

        /// `outer` holds the scopes of the enclosing graphs, to explain a use across a region boundary.
        void graph(Graph g, List<Set<Value>> outer) {
            Set<Value> scope = Collections.newSetFromMap(new IdentityHashMap<>());
            Set<String> names = new HashSet<>();
            for (int i = 0; i < g.params().size(); i++) {
                Value p = g.params().get(i);
                if (!defined.add(p)) {
                    error(p, "is defined twice");
                    continue;
                }
                scope.add(p);
                if (!(p.op() instanceof Param(int index, String name, TensorType type))) {
                    error(p, "parameter #" + i + " is a '" + Ops.mnemonic(p.op()) + "' op, not a 'param'");
                    continue;
                }
                if (index != i) error(p, "parameter #" + i + " has index " + index);
                if (!names.add(name)) error(p, "parameter name '" + name + "' is used twice");
                if (!type.equals(p.type())) error(p, "parameter has type " + p.type() + ", but its op declares " + type);
            }
            Set<Value> later = Collections.newSetFromMap(new IdentityHashMap<>());
            later.addAll(g.body());
            for (Value v : g.body()) {
                later.remove(v);
                if (!defined.add(v)) {
                    error(v, "is defined twice");
                    continue;
                }
                operandsAndType(v, scope, later, outer);
                Graph region = Ops.region(v.op());
                if (region != null) {
                    List<Set<Value>> inner = new ArrayList<>(outer);
                    inner.add(scope);
                    graph(region, inner);
                }
                scope.add(v);
            }
            for (int i = 0; i < g.results().size(); i++) {
                Value r = g.results().get(i);
                if (!scope.contains(r))
                    errorAtReturn(g, r.loc(), (g == root ? "result #" : "yielded value #") + i + " (" + Ops.mnemonic(r.op())
                            + ") is not defined in this " + (g == root ? "graph" : "region"));
            }
        }

        private void operandsAndType(Value v, Set<Value> scope, Set<Value> later, List<Set<Value>> outer) {
            boolean operandsOk = true;
            for (Value o : Ops.operands(v.op())) {
                if (scope.contains(o)) continue;
                operandsOk = false;
                String why;
                if (later.contains(o) || o == v) why = "is used before its definition";
                else if (outer.stream().anyMatch(s -> s.contains(o))) why = "is defined outside this region (a region sees only its own values)";
                else why = "is not defined in this graph";
                error(v, "operand " + name(o) + " " + why);
            }
            if (v.op() instanceof Param) error(v, "a 'param' op in the body (parameters belong to the header)");
            if (!operandsOk) return;
            try {
                TensorType t = v.op().inferType();
                if (!t.equals(v.type())) error(v, "has type " + v.type() + ", but '" + Ops.mnemonic(v.op()) + "' gives " + t);
            } catch (IrError e) {
                error(v, e.detail());
            } catch (RuntimeException e) { // a type rule that failed on a malformed op
                error(v, "'" + Ops.mnemonic(v.op()) + "' has no valid type: " + e);
            }
        }

        private String name(Value v) { return Printer.name(root, v); }

        private void error(Value culprit, String what) {
            if (errors.size() >= MAX_ERRORS) return;
            errors.add(new IrError(culprit.loc(), name(culprit) + ": " + what + "\nin graph @" + root.name() + ":\n"
                    + Printer.excerpt(root, culprit, RADIUS).stripTrailing()));
        }

        private void errorAtReturn(Graph g, Loc loc, String what) {
            if (errors.size() >= MAX_ERRORS) return;
            errors.add(new IrError(loc, what + "\nin graph @" + root.name() + ":\n"
                    + Printer.excerptReturn(root, g, RADIUS).stripTrailing()));
        }
    }
}
