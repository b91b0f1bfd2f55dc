package dev.kiln;

import dev.kiln.ir.Dim;
import dev.kiln.ir.Graph;
import dev.kiln.ir.Op;
import dev.kiln.ir.Shape;
import dev.kiln.ir.TensorType;
import dev.kiln.ir.Value;
import dev.kiln.runtime.NdArray;

import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/// A graph traced from module code, with what each of its parameters stands for: a traced input,
/// a named tensor read at call time (a weight, an optimizer slot), a constant captured while
/// tracing, or a random seed drawn fresh on every call.
record Traced(Graph graph, List<Source> sources, List<Node> nodes) {

    sealed interface Source {
        /// Traced input `index` (of the compiled callable's arguments).
        record Input(int index) implements Source {}
        /// A tensor whose current values are read on each call (weights, optimizer state).
        record Named(Tensor tensor) implements Source {}
        /// Values captured while tracing (a tensor created inside forward).
        record Constant(NdArray data) implements Source {}
        /// A random seed, drawn from the generator on each call.
        record Seed() implements Source {}
    }

    /// Writes `dir/model.kir` and `dir/weights.safetensors` (see `Kiln.saveTraced`).
    void save(java.nio.file.Path dir) { Export.save(this, dir); }

    /// The arrays to run the graph with, given the call's input arrays.
    List<NdArray> arguments(List<NdArray> inputs) {
        List<NdArray> args = new ArrayList<>();
        for (Source s : sources)
            args.add(switch (s) {
                case Source.Input in -> inputs.get(in.index());
                case Source.Named n -> n.tensor().data();
                case Source.Constant c -> c.data();
                case Source.Seed _ -> NdArray.of(new long[]{Generator.nextSeed()});
            });
        return args;
    }

    /// Placeholders for `examples` with dimension 0 made the symbol `B` (when `symbolicBatch`
    /// and all examples of rank >= 1 agree on their size there), bound to the example size in `tracer`.
    static List<Tensor> placeholders(Tracer tracer, List<String> names, List<Tensor> examples, boolean symbolicBatch) {
        Integer batch = null;
        boolean agree = symbolicBatch;
        for (Tensor e : examples) {
            if (e.dim() == 0) continue;
            if (batch == null) batch = e.size(0);
            else agree &= batch == e.size(0);
        }
        if (batch != null && agree) tracer.bind("B", batch);
        List<Tensor> out = new ArrayList<>();
        for (int i = 0; i < examples.size(); i++) {
            Tensor e = examples.get(i);
            TensorType t = e.type();
            if (batch != null && agree && t.rank() > 0) t = t.withShape(t.shape().with(0, Dim.sym("B")));
            out.add(new Tensor(Node.placeholder(names.get(i), t), e.device()));
        }
        return out;
    }

    /// Extracts `results` into one graph named `name`. Parameters come in this order: the
    /// placeholders, the `named` tensors (in map order, by their names), then whatever else the
    /// results read: constants and seeds, in the order first reached.
    static Traced extract(String name, List<Tensor> placeholders, Map<String, Tensor> named, List<Node> results) {
        Map<Node, String> names = new IdentityHashMap<>();
        Map<Node, Source> sources = new IdentityHashMap<>();
        for (int i = 0; i < placeholders.size(); i++) sources.put(placeholders.get(i).node, new Source.Input(i));
        named.forEach((n, t) -> {
            names.putIfAbsent(t.node, n);
            sources.putIfAbsent(t.node, new Source.Named(t));
        });
        int[] counts = new int[2];
        Extract ex = new Extract(n -> {
            if (n.kind == Node.Kind.DETACHED && n.data == null)
                throw new KilnException("detach() of a value computed from a traced input cannot be traced (" + n.type() + ")");
            return n.kind == Node.Kind.OP && n.data == null ? Extract.Role.EXPAND : Extract.Role.INPUT;
        }, (n, i) -> {
            if (n.kind == Node.Kind.PLACEHOLDER) return ((Op.Param) n.value.op()).name();
            String known = names.get(n);
            if (known != null) return known;
            if (n.seed) {
                sources.put(n, new Source.Seed());
                return "seed" + counts[0]++;
            }
            sources.put(n, new Source.Constant(n.data));
            return "const" + counts[1]++;
        });
        for (Tensor p : placeholders) ex.add(p.node);
        for (Tensor t : named.values()) ex.add(t.node);
        List<Value> out = new ArrayList<>();
        for (Node r : results) out.add(ex.add(r));
        Graph g = ex.build(name, out);
        List<Source> src = new ArrayList<>();
        for (Node n : ex.inputs()) src.add(sources.get(n));
        return new Traced(g, src, List.copyOf(ex.inputs()));
    }

    /// Checks call-time inputs against the traced parameter types; throws naming the input.
    static void checkInputs(String what, Graph g, List<Source> sources, List<Tensor> inputs) {
        Map<String, Integer> bound = new LinkedHashMap<>();
        for (int i = 0; i < sources.size(); i++) {
            if (!(sources.get(i) instanceof Source.Input(int k))) continue;
            TensorType want = g.params().get(i).type();
            Tensor t = inputs.get(k);
            boolean ok = t.dtype() == want.dtype() && t.dim() == want.rank();
            for (int d = 0; ok && d < want.rank(); d++) {
                Dim dim = want.dim(d);
                if (dim instanceof Dim.Fixed(long s)) ok = s == t.size(d);
                else {
                    Integer old = bound.putIfAbsent(((Dim.Sym) dim).name(), t.size(d));
                    ok = old == null || old == t.size(d);
                }
            }
            if (!ok)
                throw new KilnException(what + ": input #" + k + " is " + t.dtype() + Shape.of((Object[]) box(t.shape()))
                        + ", but it was compiled for " + want + (bound.isEmpty() ? "" : " (with " + bound + ")"));
        }
    }

    private static Integer[] box(int[] a) {
        Integer[] b = new Integer[a.length];
        for (int i = 0; i < a.length; i++) b[i] = a[i];
        return b;
    }
}
