package dev.kiln.ir.interp;

import dev.kiln.ir.Graph;
import dev.kiln.ir.Op;
import dev.kiln.ir.Ops;
import dev.kiln.ir.TensorType;
import dev.kiln.ir.Value;
import dev.kiln.ir.text.KirFiles;
import dev.kiln.ir.text.Parser;
import dev.kiln.runtime.NdArray;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.*;

/// Runs the interpreter on the cases in `ir/eval/*.kir`: each graph with its `// INPUT %name
/// [shape] = v, v, ...` values must give its `// OUTPUT i [shape] = v, v, ...` values, which were
/// worked out by hand. The shape is needed only where the type has a symbol.
class EvalGoldenTest {
    private static final Pattern LINE = Pattern.compile("// (INPUT %(\\S+)|OUTPUT (\\d+))\\s*(\\[[\\d,]*\\])?\\s*=(.*)");

    record Tensor(int[] shape, List<String> values) {}

    @TestFactory
    List<DynamicTest> cases() {
        return KirFiles.allCases("ir/eval").stream()
                .map(c -> DynamicTest.dynamicTest(c.name(), () -> check(c))).toList();
    }

    private static void check(KirFiles.Case c) {
        Graph g = Parser.parse(c.text(), c.file());
        Map<String, Tensor> inputs = new HashMap<>();
        Map<Integer, Tensor> outputs = new HashMap<>();
        for (String line : c.text().split("\n")) {
            Matcher m = LINE.matcher(line.strip());
            if (!m.matches()) continue;
            int[] shape = m.group(4) == null ? null : parseShape(m.group(4));
            List<String> values = List.of(m.group(5).strip().split("\\s*,\\s*"));
            if (m.group(2) != null) inputs.put(m.group(2), new Tensor(shape, values));
            else outputs.put(Integer.parseInt(m.group(3)), new Tensor(shape, values));
        }
        assertEquals(g.results().size(), outputs.size(), "every result needs an OUTPUT line");
        List<NdArray> args = new ArrayList<>();
        for (Value p : g.params()) {
            String name = ((Op.Param) p.op()).name();
            Tensor t = inputs.get(name);
            assertNotNull(t, "no INPUT line for %" + name);
            args.add(array(p.type(), t));
        }
        List<NdArray> out = Interpreter.run(g, args);
        for (int i = 0; i < out.size(); i++) {
            NdArray got = out.get(i), want = array(g.results().get(i).type(), outputs.get(i));
            assertArrayEquals(want.shape(), got.shape(), "result #" + i + " shape");
            assertEquals(want.dtype(), got.dtype(), "result #" + i + " dtype");
            for (int k = 0; k < want.size(); k++) {
                if (want.dtype().isInteger()) assertEquals(want.getLong(k), got.getLong(k), "result #" + i + " element " + k);
                else {
                    double w = want.getDouble(k), v = got.getDouble(k);
                    if (Double.isNaN(w)) assertTrue(Double.isNaN(v), "result #" + i + " element " + k + ": " + v);
                    else assertEquals(w, v, 1e-6 * Math.max(1, Math.abs(w)), "result #" + i + " element " + k);
                }
            }
        }
    }

    private static int[] parseShape(String s) {
        String inner = s.substring(1, s.length() - 1);
        if (inner.isEmpty()) return new int[0];
        String[] parts = inner.split(",");
        int[] out = new int[parts.length];
        for (int i = 0; i < parts.length; i++) out[i] = Integer.parseInt(parts[i]);
        return out;
    }

    private static NdArray array(TensorType type, Tensor t) {
        int[] shape = t.shape() != null ? t.shape() : type.shape().resolve(Map.of());
        NdArray a = NdArray.zeros(type.dtype(), shape);
        assertEquals(a.size(), t.values().size(), "number of values for " + type);
        for (int i = 0; i < a.size(); i++) {
            String v = t.values().get(i);
            switch (v) {
                case "true" -> a.setBool(i, true);
                case "false" -> a.setBool(i, false);
                case "inf" -> a.setDouble(i, Double.POSITIVE_INFINITY);
                case "-inf" -> a.setDouble(i, Double.NEGATIVE_INFINITY);
                case "nan" -> a.setDouble(i, Double.NaN);
                default -> {
                    if (type.dtype().isInteger()) a.setLong(i, Long.parseLong(v)); else a.setDouble(i, Double.parseDouble(v));
                }
            }
        }
        return a;
    }

    /// Every op has at least one interpreter golden.
    @Test
    void everyOpIsEvaluated() {
        Set<String> seen = new HashSet<>();
        for (KirFiles.Case c : KirFiles.allCases("ir/eval"))
            for (String line : c.canonical().split("\n")) {
                Matcher m = Pattern.compile("= ([a-z0-9_]+)").matcher(line);
                if (m.find()) seen.add(m.group(1));
            }
        List<String> missing = Ops.all().stream().map(Ops.Info::mnemonic)
                .filter(n -> !n.equals("param") && !seen.contains(n)).toList();
        assertEquals(List.of(), missing, "ops without an interpreter golden");
    }
}
