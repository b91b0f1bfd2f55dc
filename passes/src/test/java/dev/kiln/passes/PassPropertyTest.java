package dev.kiln.passes;

import dev.kiln.ir.Graph;
import dev.kiln.ir.Op;
import dev.kiln.ir.Ops;
import dev.kiln.ir.Value;
import dev.kiln.ir.Verifier;
import dev.kiln.ir.text.Printer;
import dev.kiln.ir.interp.Interpreter;
import dev.kiln.passes.fusion.Fuse;
import dev.kiln.passes.fusion.KernelShape;
import dev.kiln.runtime.NdArray;
import org.junit.jupiter.api.Test;

import java.util.HashSet;
import java.util.List;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.*;

/// Every pass, and every pipeline, keeps the interpreter's answer on random graphs. A failure
/// names the seed (rerun just it with `-Dseed=N`) and prints the graph before and after.
class PassPropertyTest {
    static final int GRAPHS = Integer.getInteger("graphs", 300);

    static List<Long> seeds() {
        String one = System.getProperty("seed");
        if (one != null) return List.of(Long.parseLong(one));
        return java.util.stream.LongStream.range(1, GRAPHS + 1).boxed().toList();
    }

    @Test void everyPassKeepsTheAnswer() {
        List<Pass> passes = List.of(Simplify.PASS, FoldConstants.PASS, Cse.PASS, Dce.PASS, Fuse.PASS);
        List<PassManager> pipelines = List.of(PassManager.standard(PassManager.Options.none().withVerifyEach(true)),
                PassManager.withFusion(PassManager.Options.none().withVerifyEach(true)),
                PassManager.parse("fuse,fuse,simplify,cse,dce", PassManager.Options.none().withVerifyEach(true)));
        for (long seed : seeds()) {
            Graph g = RandomGraphs.generate(seed);
            List<NdArray> inputs = RandomGraphs.inputs(g, seed);
            try {
                Verifier.verify(g);
                Interpreter.run(g, inputs);
                for (Pass p : passes) check(g, p.run(g), inputs, "seed " + seed + ", pass " + p.name());
                for (PassManager pm : pipelines) check(g, pm.run(g), inputs, "seed " + seed + ", pipeline " + pm.name());
            } catch (AssertionError e) {
                throw e;
            } catch (RuntimeException e) {
                throw new AssertionError("seed " + seed + ": " + e + "\n" + Printer.print(g), e);
            }
        }
    }

    private static void check(Graph before, Graph after, List<NdArray> inputs, String what) {
        try {
            Verifier.verify(after);
        } catch (RuntimeException e) {
            fail(what + ": invalid output: " + e.getMessage() + "\n--- before:\n" + Printer.print(before) + "\n--- after:\n" + Printer.print(after));
        }
        assertEquals(before.params(), before.params());
        assertEquals(before.paramNames(), after.paramNames(), what);
        assertEquals(before.params().stream().map(Value::type).toList(), after.params().stream().map(Value::type).toList(), what);
        GraphCheck.assertSameOutputs(before, after, inputs, what);
    }

    @Test void dceLeavesNoDeadValuesAndCseNoEqualOps() {
        for (long seed : seeds()) {
            Graph g = RandomGraphs.generate(seed);
            Graph d = Dce.PASS.run(g);
            assertEquals(d.body().size(), Rewrite.reachable(d.results()).stream().filter(v -> !(v.op() instanceof Op.Param)).count(),
                    "seed " + seed + ": dead values after dce\n" + Printer.print(d));
            Graph c = Cse.PASS.run(g);
            Set<Object> keys = new HashSet<>();
            for (Value v : c.body()) {
                Object key = v.op() instanceof Op.Commutative && v.op() instanceof Op.Binary bin
                        ? List.of(v.op().getClass(), new HashSet<>(List.of(bin.lhs(), bin.rhs()))) : v.op();
                assertTrue(keys.add(key), "seed " + seed + ": two equal ops after cse: " + Ops.mnemonic(v.op()) + "\n" + Printer.print(c));
            }
        }
    }

    /// Fusion of raw and of simplified graphs: primitive regions, one result, at least two ops,
    /// and each kernel one of the three shapes the lowering expects.
    @Test void fusedRegionsHaveAKernelShape() {
        for (long seed : seeds()) {
            Graph raw = RandomGraphs.generate(seed);
            for (Graph g : List.of(Fuse.PASS.run(raw), Fuse.PASS.run(PassManager.standard(PassManager.Options.none()).run(raw))))
                for (Value v : g.body())
                    if (v.op() instanceof Op.Fused f) checkKernel(seed, g, f);
        }
    }

    private static void checkKernel(long seed, Graph g, Op.Fused f) {
        assertFalse(f.kernel().isEmpty(), "seed " + seed);
        assertEquals(1, f.body().results().size());
        assertTrue(f.body().body().stream().filter(x -> !(x.op() instanceof Op.Const || x.op() instanceof Op.Iota)).count() >= 2,
                "seed " + seed + ": a kernel of one op\n" + Printer.print(g));
        for (Value x : f.body().body()) assertFalse(x.op() instanceof Op.Fused, "seed " + seed + ": nested kernel");
        try {
            KernelShape.of(f);
        } catch (RuntimeException e) {
            fail("seed " + seed + ": " + e.getMessage() + "\n" + Printer.print(g));
        }
    }
}
