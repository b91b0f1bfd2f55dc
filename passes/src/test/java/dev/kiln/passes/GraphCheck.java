package dev.kiln.passes;

import dev.kiln.ir.Graph;
import dev.kiln.ir.Op;
import dev.kiln.ir.Ops;
import dev.kiln.ir.Value;
import dev.kiln.ir.interp.Interpreter;
import dev.kiln.runtime.DType;
import dev.kiln.runtime.NdArray;

import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.fail;

/// Test helpers: run a graph, compare outputs, and show a graph in a failure message.
final class GraphCheck {
    private GraphCheck() {}

    /// Null when `expected` and `actual` agree: same dtype and shape, integers and bools equal,
    /// floats equal up to a few ulps of the dtype (NaN matches NaN, an infinity only itself).
    static String difference(List<NdArray> expected, List<NdArray> actual) {
        if (expected.size() != actual.size()) return "result count " + actual.size() + ", expected " + expected.size();
        for (int r = 0; r < expected.size(); r++) {
            NdArray e = expected.get(r), a = actual.get(r);
            if (e.dtype() != a.dtype() || !Arrays.equals(e.shape(), a.shape()))
                return "result #" + r + " is " + a.dtype() + Arrays.toString(a.shape()) + ", expected " + e.dtype() + Arrays.toString(e.shape());
            double tol = e.dtype() == DType.F64 ? 1e-12 : e.dtype() == DType.F32 ? 1e-6 : 1e-2;
            for (int i = 0; i < e.size(); i++) {
                boolean same;
                if (!e.dtype().isFloat()) same = e.getLong(i) == a.getLong(i);
                else {
                    double x = e.getDouble(i), y = a.getDouble(i);
                    same = Double.isNaN(x) ? Double.isNaN(y)
                            : Double.isInfinite(x) || Double.isInfinite(y) ? x == y
                            : Math.abs(x - y) <= tol * Math.max(1, Math.abs(x));
                }
                if (!same) return "result #" + r + " element " + i + " is " + a.toString(64) + ", expected " + e.toString(64);
            }
        }
        return null;
    }

    static void assertSameOutputs(Graph before, Graph after, List<NdArray> inputs, String what) {
        List<NdArray> e = Interpreter.run(before, inputs), a = Interpreter.run(after, inputs);
        String d = difference(e, a);
        if (d != null) fail(what + ": " + d + "\n--- before:\n" + text(before) + "\n--- after:\n" + text(after));
    }

    /// A plain listing of `g` (op, operands by number, attributes, type), regions indented.
    static String text(Graph g) {
        StringBuilder s = new StringBuilder();
        text(g, s, "", new HashMap<>());
        return s.toString();
    }

    private static void text(Graph g, StringBuilder s, String indent, Map<Value, String> names) {
        s.append(indent).append("graph @").append(g.name()).append('(');
        for (int i = 0; i < g.params().size(); i++) {
            Value p = g.params().get(i);
            names.put(p, "%" + ((Op.Param) p.op()).name());
            s.append(i > 0 ? ", " : "").append(names.get(p)).append(": ").append(p.type());
        }
        s.append(") {\n");
        for (Value v : g.body()) {
            names.put(v, "%" + names.size());
            s.append(indent).append("  ").append(names.get(v)).append(" = ").append(Ops.mnemonic(v.op()));
            List<Value> xs = Ops.operands(v.op());
            for (int i = 0; i < xs.size(); i++) s.append(i > 0 ? ", " : " ").append(names.getOrDefault(xs.get(i), "%?"));
            Map<String, Object> attrs = Ops.attributes(v.op());
            if (!attrs.isEmpty()) s.append(" ").append(attrs);
            s.append(" : ").append(v.type()).append('\n');
            if (v.op() instanceof Op.Fused f) text(f.body(), s, indent + "    ", names);
        }
        s.append(indent).append("  return");
        for (Value r : g.results()) s.append(' ').append(names.getOrDefault(r, "%?"));
        s.append('\n').append(indent).append("}\n");
    }
}
