package dev.kiln.tests;

import dev.kiln.codegen.jvm.JvmBackend;
import dev.kiln.codegen.jvm.Parity;
import dev.kiln.ir.Dim;
import dev.kiln.ir.Graph;
import dev.kiln.ir.IrError;
import dev.kiln.ir.Value;
import dev.kiln.ir.interp.Interpreter;
import dev.kiln.ir.text.KirFiles;
import dev.kiln.ir.text.Parser;
import dev.kiln.passes.PassManager;
import dev.kiln.runtime.NdArray;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/// Every per-op golden of the IR (the printer's `ir/ops` cases and the interpreter's `ir/eval`
/// cases) through the JVM backend, as written and after the pipeline with fusion, against the
/// interpreter on random inputs; every dimension symbol is bound to 3, then to 1 (fused regions
/// nested in fused regions included, which fusion never makes but the lowering takes). A graph
/// whose types name a symbol no input binds cannot run: its compile must fail saying so.
class OpGoldenBackendTest {
    @TestFactory
    Stream<DynamicTest> everyOpGoldenRunsOnTheJvmBackend() {
        PassManager pipeline = PassManager.withFusion(PassManager.Options.none());
        List<KirFiles.Case> cases = new ArrayList<>(KirFiles.allCases("ir/eval"));
        cases.addAll(KirFiles.allCases("ir/ops"));
        return cases.stream().flatMap(c -> Parser.parseAll(c.text(), c.file()).stream().map(g ->
                DynamicTest.dynamicTest(c.name() + " @" + g.name(), () -> {
                    if (!symbolsBoundByInputs(g)) { // nothing can run it: the lowering says why
                        IrError e = assertThrows(IrError.class, () -> JvmBackend.compile(g));
                        assertTrue(e.getMessage().contains("but no input binds"), e.getMessage());
                        return;
                    }
                    Graph fused = pipeline.run(g);
                    for (int size : new int[]{3, 1}) {
                        List<NdArray> in = inputs(g, size, new Random(size));
                        List<NdArray> want = Interpreter.run(g, in);
                        Parity.compare(g.name() + " as written, symbols = " + size, want, JvmBackend.compile(g).run(in));
                        Parity.compare(g.name() + " fused, symbols = " + size, want, JvmBackend.compile(fused).run(in));
                    }
                })));
    }

    static boolean symbolsBoundByInputs(Graph g) {
        java.util.Set<String> bound = new java.util.HashSet<>();
        for (Value p : g.params()) for (Dim d : p.type().shape().dims()) if (d instanceof Dim.Sym(String s)) bound.add(s);
        for (Value v : g.body())
            for (Dim d : v.type().shape().dims()) if (d instanceof Dim.Sym(String s) && !bound.contains(s)) return false;
        return true;
    }

    /// Random inputs with every symbol bound to `size`: floats in (0.1, 2) so log, sqrt and pow
    /// stay real, small integers, random bools; an i64 scalar (a seed) is 7.
    private static List<NdArray> inputs(Graph g, int size, Random r) {
        List<NdArray> out = new ArrayList<>();
        for (Value p : g.params()) {
            Map<String, Integer> bind = new HashMap<>();
            for (Dim d : p.type().shape().dims()) if (d instanceof Dim.Sym(String s)) bind.put(s, size);
            NdArray a = NdArray.zeros(p.type().dtype(), p.type().shape().resolve(bind));
            for (int i = 0; i < a.size(); i++) {
                switch (a.dtype()) {
                    case BOOL -> a.setBool(i, r.nextBoolean());
                    case I32, I64 -> a.setLong(i, a.rank() == 0 ? 7 : r.nextInt(9) - 4);
                    default -> a.setDouble(i, 0.1 + r.nextDouble() * 1.9);
                }
            }
            out.add(a);
        }
        return out;
    }
}
