package dev.kiln.passes;

import dev.kiln.codegen.jvm.JvmBackend;
import dev.kiln.ir.Dim;
import dev.kiln.ir.Graph;
import dev.kiln.ir.IrError;
import dev.kiln.ir.Value;
import dev.kiln.ir.interp.Interpreter;
import dev.kiln.ir.text.Parser;
import dev.kiln.runtime.DType;
import dev.kiln.runtime.NdArray;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.*;

/// The JVM backend against the interpreter on every graph the other modules test with: the
/// random graphs of the pass property test (over the whole primitive set), as built and after
/// the standard pipeline (so through fused kernels), and every graph of the op and pass golden
/// files. Tolerances per dtype: exact for bool and integers; for floats
/// `|got - want| <= tol * max(1, max|want|)` over a result with tol 1e-12 (f64), 2e-5 (f32),
/// 2^-10 (f16), 2^-7 (bf16): elementwise ops and reductions match to the bit, f32 matmul and
/// convolutions accumulate in f32 in another order.
/// (In package `dev.kiln.passes` to reach the package-private `RandomGraphs` of passes' tests.)
class JvmBackendParityTest {
    @TestFactory Stream<DynamicTest> randomGraphs() {
        List<DynamicTest> tests = new ArrayList<>();
        PassManager pm = PassManager.standard(PassManager.Options.none());
        for (long seed = 1; seed <= 150; seed++) {
            long s = seed;
            tests.add(DynamicTest.dynamicTest("random graph " + s, () -> {
                Graph g = RandomGraphs.generate(s);
                List<NdArray> in = RandomGraphs.inputs(g, s);
                List<NdArray> want = Interpreter.run(g, in);
                compare("g" + s, want, JvmBackend.compile(g).run(in));
                compare("g" + s + " fused", want, JvmBackend.compile(pm.run(g)).run(in));
            }));
        }
        return tests.stream();
    }

    @TestFactory Stream<DynamicTest> goldenGraphs() throws IOException {
        List<DynamicTest> tests = new ArrayList<>();
        for (String dir : List.of("../ir/src/test/resources/ir/ops", "../ir/src/test/resources/ir/eval", "../passes/src/test/resources/ir")) {
            try (Stream<Path> files = Files.walk(Path.of(dir))) {
                for (Path f : files.filter(p -> p.toString().endsWith(".kir")).sorted().toList()) {
                    String[] cases = Files.readString(f).split("(?m)^// -----\\s*$");
                    for (int c = 0; c < cases.length; c++) {
                        String text = cases[c];
                        String name = f.getFileName() + " case " + (c + 1);
                        tests.add(DynamicTest.dynamicTest(name, () -> {
                            List<Graph> graphs;
                            try {
                                graphs = Parser.parseAll(text, name);
                            } catch (RuntimeException e) {
                                return; // a case that is meant not to parse
                            }
                            for (Graph g : graphs) runBoth(name, g);
                        }));
                    }
                }
            }
        }
        assertTrue(tests.size() >= 60, "golden cases found: " + tests.size());
        return tests.stream();
    }

    static void runBoth(String name, Graph g) {
        List<NdArray> in = inputs(g, 11);
        List<NdArray> want;
        try {
            want = Interpreter.run(g, in);
        } catch (IrError e) {
            return; // the interpreter refuses these inputs (e.g. an empty axis): nothing to match
        }
        compare(name + " @" + g.name(), want, JvmBackend.compile(g).run(in));
    }

    static List<NdArray> inputs(Graph g, long seed) {
        Random r = new Random(seed);
        Map<String, Integer> bind = new HashMap<>();
        List<NdArray> out = new ArrayList<>();
        for (Value p : g.params()) {
            for (Dim d : p.type().shape().dims()) if (d instanceof Dim.Sym(String s)) bind.putIfAbsent(s, 3);
            NdArray a = NdArray.zeros(p.type().dtype(), p.type().shape().resolve(bind));
            for (int i = 0; i < a.size(); i++) {
                if (a.dtype() == DType.BOOL) a.setBool(i, r.nextBoolean());
                else if (a.dtype().isInteger()) a.setLong(i, r.nextInt(11) - 5);
                else a.setDouble(i, r.nextDouble() * 4 - 2);
            }
            out.add(a);
        }
        return out;
    }

    static void compare(String what, List<NdArray> want, List<NdArray> got) {
        assertEquals(want.size(), got.size(), what);
        for (int r = 0; r < want.size(); r++) {
            NdArray w = want.get(r), x = got.get(r);
            String at = what + " result #" + r;
            assertEquals(w.dtype(), x.dtype(), at);
            assertArrayEquals(w.shape(), x.shape(), at);
            double scale = 1;
            for (int i = 0; i < w.size(); i++) if (Double.isFinite(w.getDouble(i))) scale = Math.max(scale, Math.abs(w.getDouble(i)));
            double tol = switch (w.dtype()) {
                case BOOL, I32, I64 -> 0;
                case F64 -> 1e-12 * scale;
                case F32 -> 2e-5 * scale;
                case F16 -> 0x1p-10 * scale;
                case BF16 -> 0x1p-7 * scale;
            };
            for (int i = 0; i < w.size(); i++) {
                if (!w.dtype().isFloat()) {
                    assertEquals(w.getLong(i), x.getLong(i), at + " element " + i);
                    continue;
                }
                double a = w.getDouble(i), b = x.getDouble(i);
                if (Double.isNaN(a) || Double.isNaN(b)) assertTrue(Double.isNaN(a) && Double.isNaN(b), at + " element " + i + ": " + a + " vs " + b);
                else if (Double.isInfinite(a) || Double.isInfinite(b)) assertEquals(a, b, at + " element " + i);
                else assertEquals(a, b, tol, at + " element " + i);
            }
        }
    }
}
