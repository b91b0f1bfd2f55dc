package dev.kiln.passes.fusion;

import dev.kiln.ir.Axes;
import dev.kiln.ir.Builder;
import dev.kiln.ir.Graph;
import dev.kiln.ir.Loc;
import dev.kiln.ir.Op;
import dev.kiln.ir.Op.*;
import dev.kiln.ir.Ops;
import dev.kiln.ir.Shape;
import dev.kiln.ir.Value;
import dev.kiln.passes.Pass;
import dev.kiln.passes.Rewrite;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/// Fusion (`fuse`): groups ops into `fused` kernels, each a region of plain primitive ops with
/// one result, named after its ops (`matmul_add_relu`) and located at its members' locations.
///
/// A kernel is one of three shapes, which is what lets the lowering emit one loop nest for it:
/// - **loop**: elementwise and layout ops (`broadcast`, `reshape`, `transpose`, `slice`, `pad`,
///   `concat`, plus `const`, `iota`, `random_uniform`), computed per output element;
/// - **contraction**: one `matmul` or convolution, its operands read from memory, followed by
///   elementwise ops on its output shape (the epilogue: bias add, activation, ...), whose other
///   operands may be any loop-kernel expression (a broadcast bias);
/// - **row reduction**: reductions (`reduce_sum`, `reduce_max`, `argmax`) that all reduce the same
///   shape S over the same axes A, with a loop-kind prologue; a reduced value may be used by
///   elementwise ops on the reduced shape, or broadcast back to S along A (only that way) and used
///   there, including by another reduction. So softmax is max, then sum, then divide, all per row
///   of S: one kernel; log-softmax and a per-row cross-entropy likewise.
/// - **reduce_max_grad**: alone, its operands read from memory (the lowering gives it a loop
///   nest of its own, one pass per reduced group).
///
/// The rules that keep one result per kernel. A value is either written to memory (the result of
/// its own kernel: graph results, and anything that cannot be inlined) or inlined into *every*
/// kernel that uses it. Inlining into several kernels recomputes it: allowed for constants and
/// layout ops (index arithmetic, free) and for elementwise ops up to `MAX_COPIES` kernels, never
/// for a reduction or a contraction. Contractions take their epilogue first (a chain of
/// single-use elementwise ops of the same shape), so a bias add lands with its matmul rather than
/// in the next kernel; then the graph is walked from its results back, inlining each producer
/// into the kernels of its consumers when the shapes above allow it. One look-ahead: a value
/// computed from two-stage reductions (softmax's max, then sum) is not inlined into a kernel
/// that cannot hold those reductions (a contraction, or reductions over other axes); it ends
/// a row kernel of its own instead. Inlining it would leave the first stage feeding two
/// kernels: three kernels for a cross-entropy where two do.
///
/// A group with a single op (constants aside) stays a plain op: the backend treats it as a
/// kernel of one. Why a producer was not fused into its consumer's kernel is kept in the
/// `FusionReport` where a reader would expect otherwise.
public final class Fuse implements Pass {
    /// Most kernels an elementwise op is recomputed in before it is written to memory instead.
    public static final int MAX_COPIES = 4;

    public static final Pass PASS = new Fuse();

    /// The fused graph and what was done.
    public record Result(Graph graph, FusionReport report) {}

    @Override public String name() { return "fuse"; }

    @Override public Graph run(Graph g) { return fuse(g).graph(); }

    @Override public Outcome runWithNotes(Graph g) {
        Result r = fuse(g);
        return new Outcome(r.graph(), r.report().lines());
    }

    public static Result fuse(Graph g) { return new Fuse.Run(g).run(); }

    /// How fusion sees an op.
    enum Kind {
        /// Recomputed anywhere for free: `const`, `iota`.
        LEAF,
        /// Elementwise (and `random_uniform`, a pure function of the element index).
        MAP,
        /// Index arithmetic: each output element is one input element (or a constant).
        LAYOUT,
        REDUCE,
        CONTRACT,
        /// Never fused: dense data, parameters, existing kernels, `reduce_max_grad`.
        OPAQUE
    }

    static Kind kind(Op op) {
        return switch (op) {
            case Const _, Iota _ -> Kind.LEAF;
            case Elementwise _, RandomUniform _ -> Kind.MAP;
            case Broadcast _, Reshape _, Transpose _, Slice _, Pad _, Concat _ -> Kind.LAYOUT;
            case ReduceSum _, ReduceMax _, Argmax _ -> Kind.REDUCE;
            case Matmul _, Conv2d _, Conv2dGradInput _, Conv2dGradWeight _ -> Kind.CONTRACT;
            // its own loop nest, over the reduced groups (see Lower)
            case Dense _, Param _, Fused _, ReduceMaxGrad _ -> Kind.OPAQUE;
        };
    }

    /// A kernel under construction. Invariant: every member but the root is used only by members
    /// (or by other groups that hold their own copy).
    private static final class Group {
        final Value root;
        final Set<Value> members = new LinkedHashSet<>();
        Value contraction;
        final List<Value> reductions = new ArrayList<>();

        Group(Value root) { this.root = root; }
    }

    /// Reduced shape and axes of a reduction.
    private record Signature(Shape in, Axes axes) {
        static Signature of(Op op) {
            return switch (op) {
                case ReduceSum(var x, var a) -> new Signature(x.type().shape(), a);
                case ReduceMax(var x, var a) -> new Signature(x.type().shape(), a);
                case Argmax(var x, var a) -> new Signature(x.type().shape(), Axes.of(a));
                default -> throw new IllegalArgumentException(Ops.mnemonic(op));
            };
        }
    }

    private static final class Run {
        final Graph g;
        final Map<Value, Integer> pos = new HashMap<>();
        final Map<Value, List<Value>> consumers = new HashMap<>();
        final Set<Value> results;
        final Map<Value, Group> rootOf = new HashMap<>();
        final Map<Value, List<Group>> inlinedInto = new HashMap<>();
        final Set<FusionReport.NotFused> notFused = new LinkedHashSet<>();
        /// For each value, the nearest reductions it is computed from through loop-kind ops, by
        /// signature, each with whether it is two-stage (itself computed from a reduction of its
        /// signature that way, as softmax's sum is from its max).
        final Map<Value, Map<Signature, Boolean>> rowDeps = new HashMap<>();

        Run(Graph g) {
            this.g = g;
            this.results = new HashSet<>(g.results());
            for (int i = 0; i < g.body().size(); i++) pos.put(g.body().get(i), i);
            for (Value v : g.body())
                for (Value x : new LinkedHashSet<>(Ops.operands(v.op()))) consumers.computeIfAbsent(x, _ -> new ArrayList<>()).add(v);
            for (Value v : g.body()) {
                Map<Signature, Boolean> deps = new HashMap<>();
                switch (kind(v.op())) {
                    case REDUCE -> {
                        Signature sig = Signature.of(v.op());
                        deps.put(sig, rowDeps.getOrDefault(Ops.operands(v.op()).getFirst(), Map.of()).containsKey(sig));
                    }
                    case LEAF, MAP, LAYOUT -> {
                        for (Value x : Ops.operands(v.op()))
                            rowDeps.getOrDefault(x, Map.of()).forEach((sig, two) -> deps.merge(sig, two, Boolean::logicalOr));
                    }
                    default -> {}
                }
                if (!deps.isEmpty()) rowDeps.put(v, deps);
            }
        }

        Result run() {
            for (Value v : g.body()) if (kind(v.op()) == Kind.CONTRACT) contractionWithEpilogue(v);
            for (Value v : g.body().reversed()) if (!rootOf.containsKey(v) && !inlinedInto.containsKey(v)) place(v);
            return build();
        }

        List<Value> consumersOf(Value v) { return consumers.getOrDefault(v, List.of()); }

        /// Makes the group of contraction `m` and its epilogue: follows single-use elementwise ops
        /// of m's shape until a value is used twice, is a graph result, or is used by anything else.
        void contractionWithEpilogue(Value m) {
            List<Value> chain = new ArrayList<>(List.of(m));
            Value r = m;
            while (!results.contains(r) && consumersOf(r).size() == 1) {
                Value c = consumersOf(r).getFirst();
                if (!(c.op() instanceof Elementwise) || !c.type().shape().equals(m.type().shape())
                        || rootOf.containsKey(c) || inlinedInto.containsKey(c)) break;
                chain.add(c);
                r = c;
            }
            Group group = new Group(r);
            group.members.addAll(chain);
            group.contraction = m;
            rootOf.put(r, group);
            for (Value c : chain) if (c != r) inlinedInto.put(c, List.of(group));
            String mm = Ops.mnemonic(m.op());
            String why = results.contains(r) ? "it is a graph result, so it is written to memory"
                    : consumersOf(r).size() > 1 ? "it is used by " + consumersOf(r).size() + " ops, so it ends the kernel of "
                      + mm + " %" + pos.get(m) + ", which is never recomputed"
                    : "only elementwise ops of the same shape follow a " + mm + " in its kernel";
            for (Value c : consumersOf(r))
                if (kind(c.op()) != Kind.CONTRACT && kind(c.op()) != Kind.OPAQUE) note(r, c, why);
        }

        /// Inlines `v` into every kernel that uses it, or makes it the result of a kernel of its own.
        void place(Value v) {
            Set<Group> users = new LinkedHashSet<>();
            for (Value c : consumersOf(v)) {
                Group own = rootOf.get(c);
                if (own != null) users.add(own);
                else users.addAll(inlinedInto.get(c));
            }
            Refusal why = whyNot(v, users);
            if (why == null) {
                for (Group grp : users) add(grp, v);
                inlinedInto.put(v, List.copyOf(users));
                return;
            }
            Group own = new Group(v);
            add(own, v);
            rootOf.put(v, own);
            if (why.reason().isEmpty()) return;
            for (Group grp : users) {
                Value user = firstUserIn(grp, v);
                String reason = why.blocker() == null || grp == why.blocker() ? why.reason()
                        : "it is written to memory for %" + pos.get(firstUserIn(why.blocker(), v)) + " "
                          + Ops.mnemonic(firstUserIn(why.blocker(), v).op()) + ": " + why.reason();
                note(v, user, reason);
            }
        }

        /// Why a value stays out of its users' kernels; `blocker` is the kernel that refused it
        /// (null when the reason concerns all of them); an empty reason is not reported.
        record Refusal(String reason, Group blocker) {}

        void add(Group grp, Value v) {
            grp.members.add(v);
            switch (kind(v.op())) {
                case CONTRACT -> grp.contraction = v;
                case REDUCE -> grp.reductions.add(v);
                default -> {}
            }
        }

        /// Null when `v` can be inlined into all of `users`.
        Refusal whyNot(Value v, Set<Group> users) {
            Kind k = kind(v.op());
            if (k == Kind.OPAQUE || users.isEmpty()) return new Refusal("", null);
            if (k == Kind.LEAF && users.stream().anyMatch(grp -> grp.root.op() instanceof ReduceMaxGrad)) return new Refusal("", null);
            if (results.contains(v)) return new Refusal("it is a graph result, so it is written to memory", null);
            String op = Ops.mnemonic(v.op());
            if (k == Kind.REDUCE && users.size() > 1)
                return new Refusal("its result is used by " + users.size() + " kernels and a " + op + " is never recomputed", null);
            if (k == Kind.MAP && users.size() > MAX_COPIES)
                return new Refusal("it is used by " + users.size() + " kernels, more than the " + MAX_COPIES + " that may recompute it", null);
            // a contraction operand first: it must be written to memory whatever else holds
            for (Group grp : users)
                if (grp.contraction != null && Ops.operands(grp.contraction.op()).contains(v))
                    return new Refusal(Ops.mnemonic(grp.contraction.op()) + " operands are read from memory", grp);
            for (Group grp : users)
                if (grp.root.op() instanceof ReduceMaxGrad)
                    return new Refusal("reduce_max_grad operands are read from memory", grp);
            for (Group grp : users) {
                String why = legal(grp, v);
                if (why != null) return new Refusal(why, grp);
            }
            return null; // leaves (free to copy) and layout ops are copied into any number of kernels
        }

        /// Null when `v` can join `grp` given the members it feeds (contraction operands aside,
        /// checked before); else why not. Contractions never get here: each starts its own kernel.
        String legal(Group grp, Value v) {
            // A value computed from a two-stage reduction (softmax's max then sum) that this kernel
            // cannot host ends here, so that those reductions share one kernel that writes it:
            // inlining it would leave the first stage feeding two kernels, so three kernels in all.
            Signature here = grp.reductions.isEmpty() ? null : Signature.of(grp.reductions.getFirst().op());
            if (grp.contraction != null || here != null)
                for (var e : rowDeps.getOrDefault(v, Map.of()).entrySet())
                    if (e.getValue() && !e.getKey().equals(here))
                        return "it is computed from two-stage reductions of " + e.getKey().in() + " over " + e.getKey().axes()
                                + ", which get a kernel of their own ending here";
            switch (kind(v.op())) {
                case REDUCE -> {
                    if (grp.contraction != null) return "a reduction cannot join a " + Ops.mnemonic(grp.contraction.op()) + " kernel";
                    Signature sig = Signature.of(v.op());
                    if (!grp.reductions.isEmpty() && !Signature.of(grp.reductions.getFirst().op()).equals(sig))
                        return "the kernel already reduces " + Signature.of(grp.reductions.getFirst().op()).in()
                                + " over " + Signature.of(grp.reductions.getFirst().op()).axes() + ", not " + sig.in() + " over " + sig.axes();
                    Shape reduced = v.type().shape();
                    for (Value d : descendants(grp, v)) {
                        boolean ok = switch (d.op()) {
                            case Elementwise _ -> true;
                            case ReduceSum _, ReduceMax _, Argmax _ -> true; // same signature, checked when it joined
                            case Broadcast(var x, var dims, var t) -> x.type().shape().equals(reduced)
                                    && t.shape().equals(sig.in()) && dims.equals(sig.axes().complement(sig.in().rank()));
                            default -> false;
                        };
                        if (!ok) return "a reduced value can only be broadcast back along the reduced axes in its kernel, not used by "
                                + Ops.mnemonic(d.op()) + " %" + pos.get(d);
                    }
                }
                default -> {}
            }
            return null;
        }

        /// Members of `grp` that use `v`, directly or through other members.
        List<Value> descendants(Group grp, Value v) {
            Set<Value> dep = new HashSet<>(List.of(v));
            List<Value> out = new ArrayList<>();
            for (Value m : sorted(grp.members)) {
                for (Value x : Ops.operands(m.op()))
                    if (dep.contains(x)) {
                        dep.add(m);
                        out.add(m);
                        break;
                    }
            }
            return out;
        }

        Value firstUserIn(Group grp, Value v) {
            for (Value m : sorted(grp.members)) if (Ops.operands(m.op()).contains(v)) return m;
            return grp.root;
        }

        void note(Value producer, Value consumer, String why) {
            notFused.add(new FusionReport.NotFused(pos.get(producer), Ops.mnemonic(producer.op()),
                    pos.get(consumer), Ops.mnemonic(consumer.op()), why));
        }

        List<Value> sorted(Set<Value> vs) {
            List<Value> l = new ArrayList<>(vs);
            l.sort(Comparator.comparing(pos::get));
            return l;
        }

        // ---- output ------------------------------------------------------------------------

        Result build() {
            Builder b = new Builder();
            Map<Value, Value> map = Rewrite.copyParams(g, b);
            List<FusionReport.Kernel> kernels = new ArrayList<>();
            for (Value v : g.body()) {
                Group grp = rootOf.get(v);
                if (grp == null) continue;
                List<Value> members = sorted(grp.members);
                if (members.stream().filter(m -> kind(m.op()) != Kind.LEAF).count() < 2) {
                    for (Value m : members)
                        try (var _ = b.at(m.loc())) {
                            map.put(m, b.emit(Ops.mapOperands(m.op(), map::get)));
                        }
                    continue;
                }
                String name = kernelName(members);
                try (var _ = b.at(fusedLoc(members))) {
                    map.put(v, emitKernel(b, grp, members, name, map));
                }
                kernels.add(new FusionReport.Kernel(pos.get(v), name, members.stream().map(pos::get).toList(),
                        members.stream().filter(m -> inlinedInto.getOrDefault(m, List.of()).size() > 1 && kind(m.op()) != Kind.LEAF)
                                .map(pos::get).toList()));
            }
            Graph out = b.build(g.name(), g.results().stream().map(map::get).toList());
            List<FusionReport.NotFused> notes = new ArrayList<>(notFused);
            notes.sort(Comparator.comparing(FusionReport.NotFused::producer).thenComparing(FusionReport.NotFused::consumer));
            return new Result(out, new FusionReport(g.body().size(), kernels, notes));
        }

        Value emitKernel(Builder b, Group grp, List<Value> members, String name, Map<Value, Value> outer) {
            Builder body = new Builder();
            Map<Value, Value> local = new LinkedHashMap<>();
            List<Value> inputs = new ArrayList<>();
            for (Value m : members)
                for (Value x : Ops.operands(m.op()))
                    if (!grp.members.contains(x) && !local.containsKey(x)) {
                        local.put(x, body.param("arg" + inputs.size(), x.type()));
                        inputs.add(outer.get(x));
                    }
            for (Value m : members)
                try (var _ = body.at(m.loc())) {
                    local.put(m, body.emit(Ops.mapOperands(m.op(), local::get)));
                }
            return b.fused(inputs, body.build(name, local.get(grp.root)), name);
        }

        /// The ops that do the work, in order (layout ops and constants only when nothing else is there),
        /// repeats in a row dropped; a long list keeps its first four and its last.
        static String kernelName(List<Value> members) {
            List<String> parts = new ArrayList<>();
            for (Value m : members) {
                Kind k = kind(m.op());
                if (k != Kind.LEAF && k != Kind.LAYOUT) addPart(parts, Ops.mnemonic(m.op()));
            }
            if (parts.isEmpty())
                for (Value m : members) if (kind(m.op()) != Kind.LEAF) addPart(parts, Ops.mnemonic(m.op()));
            if (parts.size() > 5) parts = new ArrayList<>(List.of(parts.get(0), parts.get(1), parts.get(2), parts.get(3), parts.getLast()));
            return String.join("_", parts);
        }

        private static void addPart(List<String> parts, String p) {
            if (parts.isEmpty() || !parts.getLast().equals(p)) parts.add(p);
        }

        /// The members' distinct known locations, in order (a fused location's parts count one by one).
        static Loc fusedLoc(List<Value> members) {
            Set<Loc> parts = new LinkedHashSet<>();
            for (Value m : members) {
                if (m.loc() instanceof Loc.Fused f) parts.addAll(f.parts());
                else if (m.loc().isKnown()) parts.add(m.loc());
            }
            return parts.isEmpty() ? Loc.UNKNOWN : new Loc.Fused(List.copyOf(parts));
        }
    }
}
