package dev.kiln;

import dev.kiln.ir.Graph;
import dev.kiln.ir.Ops;
import dev.kiln.ir.Value;

import java.util.IdentityHashMap;
import java.util.Map;

/// The compile-cache key of a graph: its structure with types and attributes, without names or
/// source locations. Two graphs with equal keys compute the same function of their inputs, so
/// one compiled executable serves both.
final class GraphKey {
    private GraphKey() {}

    static String of(Graph g) {
        StringBuilder s = new StringBuilder(256);
        Map<Value, Integer> ids = new IdentityHashMap<>();
        for (Value p : g.params()) {
            ids.put(p, ids.size());
            s.append(p.type()).append(',');
        }
        s.append('|');
        for (Value v : g.body()) {
            ids.put(v, ids.size());
            s.append(Ops.mnemonic(v.op()));
            for (Value o : Ops.operands(v.op())) s.append(' ').append(ids.get(o));
            Map<String, Object> attrs = Ops.attributes(v.op());
            if (!attrs.isEmpty()) s.append(' ').append(attrs);
            Graph region = Ops.region(v.op());
            if (region != null) s.append('{').append(of(region)).append('}');
            s.append(':').append(v.type()).append(';');
        }
        s.append("->");
        for (Value r : g.results()) s.append(' ').append(ids.get(r));
        return s.toString();
    }
}
