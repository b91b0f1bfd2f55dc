package dev.kiln.passes;

import dev.kiln.ir.Axes;
import dev.kiln.ir.Builder;
import dev.kiln.ir.Graph;
import dev.kiln.ir.IrError;
import dev.kiln.ir.Loc;
import dev.kiln.ir.Op;
import dev.kiln.ir.Ops;
import dev.kiln.ir.TensorType;
import dev.kiln.ir.Value;
import dev.kiln.ir.text.Parser;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static dev.kiln.ir.TensorType.f32;
import static org.junit.jupiter.api.Assertions.*;

class PassManagerTest {
    /// `mul(exp(x) * 1, exp(x))` plus a dead op and a sum: something for every pass to do.
    static Graph sample() {
        Builder b = new Builder();
        Value x = b.param("x", f32(4, 3));
        try (var _ = b.at(Loc.of("Sample.java", 7))) {
            Value e = b.exp(x);
            Value one = b.constant(1.0, f32(4, 3));
            b.neg(x);
            Value m = b.mul(b.mul(e, one), e);
            return b.build("sample", b.reduceSum(m, Axes.of(1)));
        }
    }

    @Test void standardPipelineRunsItsPassesInOrder() {
        PassManager pm = PassManager.standard(PassManager.Options.none().withVerifyEach(true));
        assertEquals(List.of("simplify", "fold-constants", "cse", "dce"), pm.passes().stream().map(Pass::name).toList());
        Graph out = pm.run(sample());
        // exp, mul, reduce_sum remain: the multiply by 1 and the dead neg are gone
        assertEquals(List.of("exp", "mul", "reduce_sum"), out.body().stream().map(v -> Ops.mnemonic(v.op())).toList());
        assertEquals(List.of("input", "simplify", "fold-constants", "cse", "dce"), pm.stages().stream().map(PassManager.Stage::pass).toList());
        assertEquals(List.of(6, 4, 4, 4, 3), pm.stages().stream().map(PassManager.Stage::ops).toList());
    }

    @Test void dumpsEveryStageAsParsableTextWithAnIndex(@TempDir Path root) throws Exception {
        PassManager pm = PassManager.withFusion(PassManager.Options.none().withDump(root, "all"));
        Graph fused = pm.run(sample());
        Path dir = root.resolve("001-sample");
        List<String> names = List.of("00-input.kir", "01-simplify.kir", "02-fold-constants.kir", "03-cse.kir", "04-dce.kir", "05-fuse.kir");
        for (int i = 0; i < names.size(); i++) {
            String text = Files.readString(dir.resolve(names.get(i)));
            Graph g = Parser.parse(text, names.get(i)); // every dump is a reproducer
            assertEquals("sample", g.name());
            assertEquals(pm.stages().get(i).ops(), g.body().size(), names.get(i));
        }
        assertEquals(dev.kiln.ir.text.Printer.print(fused), Files.readString(dir.resolve("05-fuse.kir")));
        assertEquals("fuse: 1 kernel holds 3 of 3 ops\nkernel %2 exp_mul_reduce_sum: %0 %1 %2\n",
                Files.readString(dir.resolve("06-fuse-report.txt")));
        List<String> index = Files.readAllLines(dir.resolve("index.txt"));
        assertEquals(7, index.size());
        for (int i = 0; i < names.size(); i++) assertTrue(index.get(i).startsWith(names.get(i)), index.get(i));
        assertTrue(index.get(0).endsWith("ops=6  kernels=0  ops-in-kernels=0"), index.get(0));
        assertTrue(index.get(5).endsWith("ops=1  kernels=1  ops-in-kernels=3"), index.get(5));
        assertTrue(index.get(6).matches("06-fuse-report.txt +-  kernels=1"), index.get(6));
        try (var files = Files.list(dir)) {
            assertEquals(8, files.count(), "no temporary files left");
        }
        List<String> top = Files.readAllLines(root.resolve("index.txt"));
        assertEquals(1, top.size());
        assertTrue(top.getFirst().matches("001-sample +@sample  stages=7  [0-9.]+ ms  input-ops=6  ops=1  kernels=1"), top.getFirst());
    }

    @Test void eachGraphGetsItsOwnNumberedDirectoryAndARunContinuesTheNumbering(@TempDir Path root) throws Exception {
        PassManager pm = PassManager.standard(PassManager.Options.none().withDump(root, "all"));
        pm.run(sample());
        pm.run(sample());
        Files.createDirectory(root.resolve("007-old"));
        // a fresh process sees the directory as it is: a new DumpDir over the same path
        GraphDump third = new DumpDir(root).graph("other graph");
        assertEquals(root.resolve("008-other_graph"), third.dir());
        try (var files = Files.list(root)) {
            assertEquals(List.of("001-sample", "002-sample", "007-old", "008-other_graph", "index.txt"),
                    files.map(p -> p.getFileName().toString()).sorted().toList());
        }
        List<String> top = Files.readAllLines(root.resolve("index.txt"));
        assertEquals(List.of("001-sample", "002-sample", "008-other_graph"), top.stream().map(l -> l.split(" ")[0]).toList());
    }

    @Test void dumpsOnlyTheStagesAskedUnderTheirStageNumbers(@TempDir Path root) throws Exception {
        PassManager.standard(PassManager.Options.none().withDump(root, "cse")).run(sample());
        try (var files = Files.list(root.resolve("001-sample"))) {
            assertEquals(List.of("03-cse.kir", "index.txt"), files.map(p -> p.getFileName().toString()).sorted().toList());
        }
    }

    @Test void printsIrAfterChosenPassesToStderr() {
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        PassManager.Options o = PassManager.Options.none().withPrintAfter("dce").withPrintBefore("simplify")
                .withErr(new PrintStream(err, true, StandardCharsets.UTF_8));
        PassManager.standard(o).run(sample());
        String s = err.toString(StandardCharsets.UTF_8);
        assertTrue(s.contains("// ----- IR before simplify (@sample) -----\ngraph @sample(%x: f32[4,3]) -> (f32[4]) {"), s);
        assertTrue(s.contains("// ----- IR after dce (@sample) -----"), s);
        assertFalse(s.contains("after simplify"), s);
        assertTrue(s.indexOf("  %2 = neg %x : f32[4,3]") < s.indexOf("after dce"), "the dead neg shows before, not after");
        assertEquals(1, s.split("neg %x", -1).length - 1, s);
    }

    @Test void optionsFromSystemPropertiesAndUnknownNames() {
        String old = System.getProperty("kiln.printIrAfter");
        try {
            System.setProperty("kiln.printIrAfter", "simplify, fuse");
            assertEquals(java.util.Set.of("simplify", "fuse"), PassManager.Options.fromSystemProperties().printAfter());
            System.setProperty("kiln.printIrAfter", "simplfy");
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, PassManager.Options::fromSystemProperties);
            assertTrue(e.getMessage().startsWith("unknown pass 'simplfy' (known: all, simplify, fold-constants, cse, dce, fuse)"), e.getMessage());
        } finally {
            if (old == null) System.clearProperty("kiln.printIrAfter"); else System.setProperty("kiln.printIrAfter", old);
        }
        assertEquals(List.of("cse", "dce"), PassManager.parse("cse, dce", PassManager.Options.none()).passes().stream().map(Pass::name).toList());
        assertThrows(IllegalArgumentException.class, () -> PassManager.parse("cse,nope", PassManager.Options.none()));
    }

    @Test void verifyEachNamesThePassThatBrokeTheGraph() {
        // a pass that declares a wrong type: the verifier after it catches it and names it
        Pass broken = new Pass() {
            @Override public String name() { return "broken"; }
            @Override public Graph run(Graph g) {
                Builder b = new Builder();
                Value x = b.param("x", f32(4, 3));
                try (var _ = b.at(Loc.of("Broken.java", 3))) {
                    return b.build("sample", b.emitUnchecked(new Op.Neg(x), f32(4, 4)));
                }
            }
        };
        PassManager pm = new PassManager("p", List.of(Simplify.PASS, broken), PassManager.Options.none().withVerifyEach(true));
        IrError e = assertThrows(IrError.class, () -> pm.run(sample()));
        assertTrue(e.getMessage().startsWith("Broken.java:3: error: pass 'broken' produced an invalid graph: "), e.getMessage());
        // without verification the broken graph goes through
        new PassManager("p", List.of(broken), PassManager.Options.none()).run(sample());
    }

    @Test void surefireTurnsVerificationOn() {
        assertTrue(PassManager.Options.fromSystemProperties().verifyEach(), "-Dkiln.verifyEach=true is set for tests");
    }

    @Test void aRuleThatNeverSettlesIsReported() {
        // add(a, b) -> add(b, a) forever
        Pass flip = new Rewrite("flip", (b, v) -> v.op() instanceof Op.Add(var l, var r) ? b.add(r, l) : null);
        Builder b = new Builder();
        Value x = b.param("x", f32(2)), y = b.param("y", f32(2));
        Graph g;
        try (var _ = b.at(Loc.of("Flip.java", 9))) {
            g = b.build("flip", b.add(x, y));
        }
        IrError e = assertThrows(IrError.class, () -> flip.run(g));
        assertEquals("Flip.java:9: error: pass 'flip' did not converge on 'add' after 64 rewrites (last: 'add')", e.getMessage());
    }

    @Test void rewriteKeepsParamsAndTypes() {
        Graph g = sample();
        Graph s = Simplify.PASS.run(g);
        assertEquals(g.paramNames(), s.paramNames());
        assertEquals(TensorType.f32(4, 3), s.params().getFirst().type());
    }
}
