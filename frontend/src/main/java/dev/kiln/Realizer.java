package dev.kiln;

import dev.kiln.ir.Graph;
import dev.kiln.ir.Value;
import dev.kiln.runtime.NdArray;

import java.util.ArrayList;
import java.util.Collection;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;

/// Computes pending nodes: cuts the graph they need out of the node DAG (computed nodes become its
/// parameters), looks it up in the compile cache (compiling on a miss), runs it and stores the
/// results in the nodes. Many nodes realized together share one graph and one run, on the
/// backend of `device` (nodes themselves belong to no device: a tensor moved with `to` shares its
/// node, and whoever reads it first decides where it is computed). Leaves whose values are on
/// the GPU (a resident train step's weights) are copied back first.
final class Realizer {
    private Realizer() {}

    static void realize(Collection<Node> targets, Device device) {
        List<Node> todo = new ArrayList<>();
        Map<Node, Boolean> seen = new IdentityHashMap<>();
        for (Node t : targets) {
            if (t.data != null || seen.put(t, true) != null) continue;
            if (t.kind == Node.Kind.DETACHED) resolveDetached(t, device);
            else if (t.kind == Node.Kind.LEAF) t.fetch();
            else todo.add(t);
        }
        if (todo.isEmpty()) return;
        Extract ex = new Extract(n -> role(n, device), (n, i) -> "p" + i);
        List<Value> results = new ArrayList<>();
        Map<Value, Integer> index = new IdentityHashMap<>();
        int[] slot = new int[todo.size()];
        for (int i = 0; i < todo.size(); i++) {
            Value v = ex.add(todo.get(i));
            Integer k = index.get(v);
            if (k == null) {
                k = results.size();
                index.put(v, k);
                results.add(v);
            }
            slot[i] = k;
        }
        Graph g = ex.build("eager", results);
        List<NdArray> in = new ArrayList<>();
        for (Node n : ex.inputs()) in.add(n.data);
        List<NdArray> out = Compiler.run(g, device, in);
        for (int i = 0; i < todo.size(); i++) {
            Node t = todo.get(i);
            t.data = out.get(slot[i]);
            if (!t.requiresGrad()) t.inputs = List.of(); // no gradient will need its history
        }
    }

    private static Extract.Role role(Node n, Device device) {
        if (n.data != null) return Extract.Role.INPUT;
        return switch (n.kind) {
            case OP -> Extract.Role.EXPAND;
            case DETACHED -> {
                resolveDetached(n, device);
                yield Extract.Role.INPUT;
            }
            case PLACEHOLDER -> throw new KilnException(
                    "cannot read the values of a tensor computed from a traced input (" + n.type()
                            + "): values exist only when the compiled graph runs");
            case LEAF -> {
                n.fetch();
                yield Extract.Role.INPUT;
            }
        };
    }

    private static void resolveDetached(Node n, Device device) {
        realize(List.of(n.source), device);
        n.data = n.source.data;
    }

}
