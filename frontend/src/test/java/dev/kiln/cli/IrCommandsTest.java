package dev.kiln.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import dev.kiln.cli.MainTest.Result;
import dev.kiln.ir.Builder;
import dev.kiln.ir.Graph;
import dev.kiln.ir.IrError;
import dev.kiln.ir.Loc;
import dev.kiln.ir.Op;
import dev.kiln.ir.TensorType;
import dev.kiln.ir.Value;
import dev.kiln.ir.Verifier;
import dev.kiln.ir.interp.Interpreter;
import dev.kiln.ir.kernel.KernelProgram;
import dev.kiln.ir.kernel.KirPrinter;
import dev.kiln.ir.text.Parser;
import dev.kiln.ir.text.Printer;
import dev.kiln.passes.lower.Lower;
import dev.kiln.runtime.DType;
import dev.kiln.runtime.NdArray;
import dev.kiln.runtime.Npy;

/// `kiln ir check|print|run|grad` in-process, on the files under `examples/ir/` and on broken ones.
class IrCommandsTest {
    @TempDir Path tmp;

    static String mlp() { return Examples.file("mlp.kir").toString(); }

    static String data() { return Examples.data().toString(); }

    private Path write(String name, String text) throws Exception {
        Path p = tmp.resolve(name);
        Files.writeString(p, text);
        return p;
    }

    // ---- check -------------------------------------------------------------------------------

    @Test void checkAcceptsEveryExample() {
        Map<String, String> counts = Map.of("mlp.kir", "27 ops, 6 params", "conv.kir", "15 ops, 7 params",
                "fused.kir", "6 ops, 4 params", "smooth_l1.kir", "12 ops, 2 params", "dropout.kir", "7 ops, 2 params");
        for (Path f : Examples.kirFiles()) {
            Result r = MainTest.run("ir", "check", f.toString());
            assertEquals(0, r.code(), r.err());
            String expected = counts.get(f.getFileName().toString());
            if (expected != null) assertEquals(f + ": ok (" + expected + ")\n", r.out());
            else assertTrue(r.out().startsWith(f + ": ok ("), r.out());
            assertEquals("", r.err());
        }
    }

    @Test void checkReportsEveryErrorWithLineAndColumn() throws Exception {
        Path bad = write("bad.kir", """
                graph @bad(%x: f32[4], %y: f32[3]) -> (f32[4]) {
                  %0 = add %x, %y : f32[4]
                  %1 = mul %0, %zz : f32[4]
                  %2 = frob %1 : f32[4]
                  return %2
                }
                """);
        Result r = MainTest.run("ir", "check", bad.toString());
        assertEquals(1, r.code());
        assertEquals("", r.out());
        List<String> diagnostics = r.errLines().stream().filter(l -> l.startsWith(bad.toString())).toList();
        assertEquals(List.of(
                bad + ":2:8: error: 'add' operand #1 has shape [3], incompatible with operand #0 [4] (broadcast explicitly)",
                bad + ":3:16: error: %zz is not defined",
                bad + ":4:8: error: unknown op 'frob'"), diagnostics);
        // each is followed by its source line and a caret under the column
        int i = r.errLines().indexOf(diagnostics.get(1));
        assertEquals("  %1 = mul %0, %zz : f32[4]", r.errLines().get(i + 1));
        assertEquals(15, r.errLines().get(i + 2).indexOf('^'));
        assertEquals("kiln: error: " + bad + ": 3 errors", r.errLines().getLast());
    }

    @Test void checkGoesOnAfterABadFileAndFailsOnce() throws Exception {
        Path bad = write("bad.kir", "graph @g() -> () {\n  %0 = nope : f32[]\n  return\n}\n");
        Result r = MainTest.run("ir", "check", bad.toString(), mlp(), tmp.resolve("missing.kir").toString());
        assertEquals(1, r.code());
        assertEquals(mlp() + ": ok (27 ops, 6 params)\n", r.out());
        assertTrue(r.err().contains(bad + ":2:8: error: unknown op 'nope'"), r.err());
        assertEquals("kiln: error: 2 of 3 files have errors: " + bad + ": 1 error; no such file: " + tmp.resolve("missing.kir"),
                r.errLines().getLast());
    }

    @Test void checkRefusesWhatIsNotAnIrFile() throws Exception {
        Path latin1 = tmp.resolve("latin1.kir");
        Files.write(latin1, "// caf\u00e9\n".getBytes(StandardCharsets.ISO_8859_1));
        Result r = MainTest.run("ir", "check", latin1.toString());
        assertEquals(List.of("kiln: error: " + latin1 + ": not UTF-8 text (bad byte at offset 6); IR files are UTF-8"), r.errLines());

        r = MainTest.run("ir", "check", tmp.toString());
        assertEquals(List.of("kiln: error: " + tmp + ": is a directory, not a .kir file"), r.errLines());

        Path empty = write("empty.kir", "// nothing here\n");
        r = MainTest.run("ir", "check", empty.toString());
        assertEquals(1, r.code());
        assertEquals(List.of(empty + ":2:1: error: expected a graph ('graph @name(%x: f32[4]) -> (f32[4]) {'), found end of file",
                "kiln: error: " + empty + ": 1 error"), r.errLines());
    }

    @Test void verifierErrorsArePlacedAtTheirStatement() {
        // The parser type-checks as it reads, so a parsed file rarely fails the verifier; a graph
        // built with a wrong declared type stands in for one that does.
        String text = "graph @g(%x: f32[4]) -> (f32[4]) {\n  %0 = neg %x : f32[4]\n  return %0\n}\n";
        Builder b = new Builder();
        Value x;
        try (var _ = b.at(Loc.of("g.kir", 1))) {
            x = b.param("x", TensorType.f32(4));
        }
        Value bad;
        try (var _ = b.at(Loc.of("g.kir", 2))) {
            bad = b.emitUnchecked(new Op.Neg(x), TensorType.f32(5));
        }
        Graph g = b.build("g", bad);
        List<IrError> errors = Verifier.check(g);
        assertEquals(1, errors.size());
        String d = KirFile.verifierDiagnostic("g.kir", text, g, errors.getFirst());
        assertTrue(d.startsWith("g.kir:2:3: error: %0: has type f32[5], but 'neg' gives f32[4]"), d);

        // a location in another file: placed at the graph's header, keeping its own location
        IrError elsewhere = new IrError(Loc.of("Mlp.java", 18), "%0: bad");
        assertEquals("g.kir:1:1: error: at Mlp.java:18: %0: bad", KirFile.verifierDiagnostic("g.kir", text, g, elsewhere));
    }

    /// Kernel IR (what a dump's `NN-kernels.txt` holds): `check` parses it, `print` gives it back,
    /// an error names its line and column, and the graph commands say what the file holds.
    @Test void checkAndPrintReadKernelIr() throws Exception {
        KernelProgram p = Lower.lower(Parser.parse(Files.readString(Examples.file("mlp.kir")), "mlp.kir"));
        String text = KirPrinter.print(p);
        Path kernels = write("07-kernels.txt", text);
        Result r = MainTest.run("ir", "check", kernels.toString());
        assertEquals(kernels + ": ok (kernel program @mlp, " + p.kernels().size() + " kernels, " + p.buffers().size() + " buffers)\n",
                r.out(), r.err());
        assertEquals(text, MainTest.run("ir", "print", kernels.toString()).out());

        int at = text.indexOf("relu("), line = 1 + (int) text.substring(0, at).chars().filter(c -> c == '\n').count();
        int column = at - text.lastIndexOf('\n', at);
        Path bad = write("bad-kernels.txt", text.replaceFirst("relu\\(", "frob("));
        r = MainTest.run("ir", "check", bad.toString());
        assertEquals(1, r.code());
        assertTrue(r.err().contains(bad + ":" + line + ":" + column + ": error: unknown function 'frob'"), r.err());

        // text that parses but breaks a rule of the kernel IR (a kernel stores into an input): at its kernel's line
        String firstStore = text.substring(text.indexOf("\nkernel ")).lines().filter(l -> l.strip().matches("b\\d+\\[.*\\] = .*"))
                .findFirst().orElseThrow().strip();
        int kernelAt = text.lastIndexOf("\nkernel ", text.indexOf(firstStore)) + 1;
        String header = text.substring(kernelAt + "kernel ".length()).split("\\s")[0];
        int kernelLine = 1 + (int) text.substring(0, kernelAt).chars().filter(c -> c == '\n').count();
        Path input = write("input-kernels.txt", text.replace(firstStore, firstStore.replaceFirst("^b\\d+\\[", "b0[")));
        r = MainTest.run("ir", "check", input.toString());
        assertEquals(1, r.code());
        assertTrue(r.err().contains(input + ":" + kernelLine + ": error: program @mlp, kernel " + header + " "), r.err());
        assertTrue(r.err().contains("writes b0, a param buffer"), r.err());

        r = MainTest.run("ir", "run", kernels.toString(), "--random-inputs");
        assertEquals("kiln: error: " + kernels + " holds kernel IR (program @mlp), not graphs; 'kiln ir check' and 'kiln ir print' read it",
                r.errLines().getLast());
    }

    // ---- print -------------------------------------------------------------------------------

    @Test void printIsCanonicalAndPrintsBackToItself() throws Exception {
        Result r = MainTest.run("ir", "print", mlp());
        assertEquals(0, r.code(), r.err());
        String canonical = Printer.print(Parser.parse(Files.readString(Examples.file("mlp.kir")), "mlp.kir"));
        assertEquals(canonical, r.out());
        assertFalse(r.out().contains("//"), "comments are not part of the canonical text");
        Path again = write("again.kir", r.out());
        assertEquals(r.out(), MainTest.run("ir", "print", again.toString()).out());
    }

    @Test void printWithLocationsShowsTheFileLines() {
        Result r = MainTest.run("ir", "print", "--locations", mlp());
        assertEquals(0, r.code(), r.err());
        // `%1 = matmul` is on line 18 of mlp.kir
        assertTrue(r.out().lines().anyMatch(l -> l.startsWith("  %1 = matmul %x, %0 : f32[B,128]") && l.endsWith("loc(" + mlp() + ":18)")),
                r.out());
    }

    // ---- run ---------------------------------------------------------------------------------

    @Test void runOnTheSampleDataMatchesAnIndependentComputation() {
        Result r = MainTest.run("ir", "run", mlp(), "--input-dir", data());
        assertEquals(0, r.code(), r.err());
        double[] logits = new double[Examples.BATCH * 10];
        double loss = Examples.mlpLossAndLogits(Examples.mlpInputs(), logits)[0];
        List<String> lines = r.out().lines().toList();
        assertEquals(2, lines.size(), r.out());
        assertEquals("result #0: f32[] " + Summary.number(loss), lines.get(0));
        assertTrue(lines.get(1).startsWith("result #1: f32[4,10] [" + Summary.number(logits[0]) + ", " + Summary.number(logits[1]) + ", "),
                lines.get(1));
    }

    @Test void runWritesTheResultsAsNpyFiles() {
        Path out = tmp.resolve("out");
        List<String> args = new ArrayList<>(List.of("ir", "run", mlp(), "--output", out.toString()));
        for (String p : Examples.mlpInputs().keySet()) args.addAll(List.of("--input", p + "=" + Examples.data().resolve(p + ".npy")));
        Result r = MainTest.run(args.toArray(String[]::new));
        assertEquals(0, r.code(), r.err());
        assertEquals("wrote " + out.resolve("mlp.0.npy") + "\nwrote " + out.resolve("mlp.1.npy") + "\n", r.out());
        double[] logits = new double[Examples.BATCH * 10];
        double loss = Examples.mlpLossAndLogits(Examples.mlpInputs(), logits)[0];
        NdArray l = Npy.read(out.resolve("mlp.0.npy")), z = Npy.read(out.resolve("mlp.1.npy"));
        assertEquals(DType.F32, l.dtype());
        assertEquals(0, l.rank());
        assertEquals(loss, l.getDouble(0), 1e-5);
        assertEquals(List.of(4, 10), List.of(z.dim(0), z.dim(1)));
        for (int i = 0; i < logits.length; i++) assertEquals(logits[i], z.getDouble(i), 1e-5, "logit " + i);
    }

    @Test void runTakesWeightsFromSafetensors() {
        Path w = tmp.resolve("w.safetensors");
        Map<String, NdArray> weights = new LinkedHashMap<>(Examples.mlpInputs());
        weights.remove("x");
        weights.remove("target");
        weights.put("unused.buffer", NdArray.scalar(DType.F32, 1));
        dev.kiln.runtime.SafeTensors.write(w, weights);
        Result r = MainTest.run("ir", "run", mlp(), "--weights", w.toString(),
                "--input", "x=" + Examples.data().resolve("x.npy"), "--input", "%target=" + Examples.data().resolve("target.npy"));
        assertEquals(0, r.code(), r.err());
        assertEquals(MainTest.run("ir", "run", mlp(), "--input-dir", data()).out(), r.out());
    }

    @Test void badInputsAreOneLineNamingExpectedAndGiven() throws Exception {
        Path x5 = tmp.resolve("x5.npy");
        Npy.write(x5, NdArray.zeros(DType.F32, 5, 784));
        Path x64 = tmp.resolve("x64.npy");
        Npy.write(x64, NdArray.zeros(DType.F64, 4, 784));
        Path flat = tmp.resolve("flat.npy");
        Npy.write(flat, NdArray.zeros(DType.F32, 784));
        Path broken = tmp.resolve("broken.npy");
        Files.write(broken, java.util.Arrays.copyOf(Files.readAllBytes(Examples.data().resolve("x.npy")), 100));
        Path bias = Examples.data().resolve("fc1.bias.npy");
        String target = Examples.data().resolve("target.npy").toString();

        Map<List<String>, String> cases = new LinkedHashMap<>();
        cases.put(List.of("--input", "xx=" + x5), "graph @mlp has no parameter %xx (did you mean %x?) (its parameters: %x, %target, "
                + "%fc1.weight, %fc1.bias, %fc2.weight, %fc2.bias)");
        cases.put(List.of("--input", "x=" + x64), "input %x (" + x64 + ") is f64[4,784], expected f32[B,784] (dtype f64 instead of f32)");
        cases.put(List.of("--input", "x=" + flat), "input %x (" + flat + ") is f32[784], expected f32[B,784] (rank 1 instead of 2)");
        cases.put(List.of("--input", "fc1.bias=" + Examples.data().resolve("fc2.bias.npy")),
                "input %fc1.bias (" + Examples.data().resolve("fc2.bias.npy") + ") is f32[10], expected f32[128] (axis 0 is 10, not 128)");
        cases.put(List.of("--input", "x=" + x5), "input %target (" + target + ") is i64[4], expected i64[B] with B = 5 (from %x), "
                + "but its axis 0 is 4");
        cases.put(List.of("--dim", "B=3"), "input %x (" + Examples.data().resolve("x.npy") + ") is f32[4,784], expected f32[B,784] "
                + "with B = 3 (from --dim B=3), but its axis 0 is 4");
        cases.put(List.of("--input", "x=" + broken), "input %x: " + broken + ": header length 118 runs past the end of the file (100 bytes)");
        cases.put(List.of("--input", "x=" + tmp.resolve("none.npy")), "input %x: " + tmp.resolve("none.npy") + ": cannot read");
        cases.put(List.of("--dim", "C=3"), "--dim C=3: graph @mlp has no dimension symbol C (it has B)");
        for (var c : cases.entrySet()) {
            List<String> args = new ArrayList<>(List.of("ir", "run", mlp(), "--input-dir", data()));
            args.addAll(c.getKey());
            Result r = MainTest.run(args.toArray(String[]::new));
            assertEquals(1, r.code(), c.getKey() + ": " + r.err());
            assertEquals(1, r.errLines().size(), r.err());
            assertTrue(r.errLines().getFirst().startsWith("kiln: error: " + c.getValue()), c.getKey() + ": " + r.err());
            assertEquals("", r.out());
        }
        Result r = MainTest.run("ir", "run", mlp(), "--input", "x=" + Examples.data().resolve("x.npy"));
        assertEquals(List.of("kiln: error: no input for %target (i64[B]), %fc1.weight (f32[128,784]), %fc1.bias (f32[128]), "
                + "%fc2.weight (f32[10,128]), %fc2.bias (f32[10]); give --input NAME=FILE.npy for each, or --random-inputs"), r.errLines());
        // malformed options are usage errors
        for (List<String> bad : List.of(List.of("--input", "x"), List.of("--dim", "B"), List.of("--dim", "B=-1"),
                List.of("--backend", "gpu"), List.of("--input", "x=a.npy", "--input", "x=b.npy"))) {
            List<String> args = new ArrayList<>(List.of("ir", "run", mlp()));
            args.addAll(bad);
            Result u = MainTest.run(args.toArray(String[]::new));
            assertEquals(2, u.code(), bad + ": " + u.err());
            assertTrue(u.err().endsWith("; see 'kiln ir run --help'\n"), u.err());
        }
    }

    @Test void randomInputsAreRepeatableAndNeedTheSymbolSizes() {
        Result a = MainTest.run("ir", "run", mlp(), "--random-inputs", "--dim", "B=3", "--seed", "7");
        assertEquals(0, a.code(), a.err());
        assertTrue(a.out().startsWith("random inputs (seed 7): %x, %target, %fc1.weight, %fc1.bias, %fc2.weight, %fc2.bias\n"), a.out());
        assertTrue(a.out().contains("result #1: f32[3,10] ["), a.out());
        assertEquals(a.out(), MainTest.run("ir", "run", mlp(), "--random-inputs", "--dim", "B=3", "--seed", "7").out());
        assertNotEquals(a.out().lines().skip(1).toList(),
                MainTest.run("ir", "run", mlp(), "--random-inputs", "--dim", "B=3", "--seed", "8").out().lines().skip(1).toList());

        Result missing = MainTest.run("ir", "run", mlp(), "--random-inputs");
        assertEquals(List.of("kiln: error: random input %x (f32[B,784]) needs the size of B; give it with --dim B=N"), missing.errLines());

        // given inputs bind the symbols for the random ones
        Result mixed = MainTest.run("ir", "run", mlp(), "--random-inputs", "--input", "x=" + Examples.data().resolve("x.npy"));
        assertEquals(0, mixed.code(), mixed.err());
        assertTrue(mixed.out().startsWith("random inputs (seed 0): %target, %fc1.weight"), mixed.out());
    }

    @Test void randomInputsFollowTheDocumentedRanges() {
        NdArray f = Inputs.random(TensorType.f32(1000), new int[] {1000}, 3, 0);
        NdArray i = Inputs.random(TensorType.i64(1000), new int[] {1000}, 3, 1);
        boolean[] seen = new boolean[10];
        for (int k = 0; k < 1000; k++) {
            assertTrue(f.getDouble(k) >= -1 && f.getDouble(k) < 1, "float " + f.getDouble(k));
            assertTrue(i.getLong(k) >= 0 && i.getLong(k) < 10, "int " + i.getLong(k));
            seen[(int) i.getLong(k)] = true;
        }
        for (boolean s : seen) assertTrue(s, "every integer in [0, 10) is drawn");
    }

    @Test void everyExampleRunsOnRandomInputs() throws Exception {
        for (Path f : Examples.kirFiles()) {
            Graph g = Parser.parse(Files.readString(f), f.toString());
            List<String> args = new ArrayList<>(List.of("ir", "run", f.toString(), "--random-inputs"));
            for (String s : Inputs.symbols(g)) args.addAll(List.of("--dim", s + "=2"));
            Result r = MainTest.run(args.toArray(String[]::new));
            assertEquals(0, r.code(), f + ": " + r.err());
            assertEquals(g.results().size(), r.out().lines().filter(l -> l.startsWith("result #")).count(), r.out());
        }
    }

    @Test void jvmBackendAgreesWithTheInterpreter() {
        Path a = tmp.resolve("interp"), b = tmp.resolve("jvm");
        assertEquals(0, MainTest.run("ir", "run", mlp(), "--input-dir", data(), "--output", a.toString()).code());
        Result r = MainTest.run("ir", "run", mlp(), "--input-dir", data(), "--output", b.toString(), "--backend", "jvm");
        assertEquals(0, r.code(), r.err());
        for (String f : List.of("mlp.0.npy", "mlp.1.npy")) {
            NdArray x = Npy.read(a.resolve(f)), y = Npy.read(b.resolve(f));
            assertEquals(List.of(x.dtype(), x.rank()), List.of(y.dtype(), y.rank()), f);
            for (int i = 0; i < x.size(); i++) assertEquals(x.getDouble(i), y.getDouble(i), 1e-5, f + "[" + i + "]");
        }
    }

    // ---- grad --------------------------------------------------------------------------------

    /// mlp.kir in f64, so that gradients can be compared with finite differences closely.
    private Path mlp64() throws Exception {
        return write("mlp64.kir", Files.readString(Examples.file("mlp.kir")).replace("f32", "f64"));
    }

    private static Map<String, NdArray> inputs64() {
        Map<String, NdArray> m = new LinkedHashMap<>();
        for (var e : Examples.mlpInputs().entrySet())
            m.put(e.getKey(), e.getValue().dtype() == DType.F32 ? e.getValue().cast(DType.F64) : e.getValue());
        return m;
    }

    @Test void gradMatchesCentralDifferences() throws Exception {
        Path f = mlp64();
        Result r = MainTest.run("ir", "grad", f.toString(), "--wrt", "fc2.bias,fc1.weight");
        assertEquals(0, r.code(), r.err());
        Graph joint = Parser.parse(r.out(), "joint.kir");
        Graph g = Parser.parse(Files.readString(f), f.toString());
        assertEquals(g.paramNames(), joint.paramNames());
        assertEquals(List.of("f64[]", "f64[B,10]", "f64[10]", "f64[128,784]"), joint.resultTypes().stream().map(Object::toString).toList());

        Map<String, NdArray> in = inputs64();
        List<NdArray> out = Interpreter.run(joint, in);
        assertEquals(Interpreter.run(g, in).getFirst().getDouble(0), out.get(0).getDouble(0), 0.0, "the loss is unchanged");
        double h = 1e-6;
        for (int k = 0; k < 10; k++) checkDerivative(g, in, "fc2.bias", k, out.get(2).getDouble(k), h);
        for (int k : new int[] {0, 785, 50_000, 100_351}) checkDerivative(g, in, "fc1.weight", k, out.get(3).getDouble(k), h);
    }

    private static void checkDerivative(Graph g, Map<String, NdArray> in, String param, int index, double grad, double h) {
        Map<String, NdArray> plus = new LinkedHashMap<>(in), minus = new LinkedHashMap<>(in);
        NdArray p = in.get(param).copy(), m = in.get(param).copy();
        p.setDouble(index, p.getDouble(index) + h);
        m.setDouble(index, m.getDouble(index) - h);
        plus.put(param, p);
        minus.put(param, m);
        double fd = (Interpreter.run(g, plus).getFirst().getDouble(0) - Interpreter.run(g, minus).getFirst().getDouble(0)) / (2 * h);
        assertEquals(fd, grad, 1e-7 + 1e-5 * Math.abs(fd), param + "[" + index + "]");
    }

    @Test void gradSplitPrintsForwardBackwardAndTheReport() throws Exception {
        Path f = mlp64();
        Result r = MainTest.run("ir", "grad", f.toString(), "--wrt", "fc1.bias,fc2.weight", "--split");
        assertEquals(0, r.code(), r.err());
        List<String> comments = r.out().lines().takeWhile(l -> l.startsWith("//")).toList();
        assertTrue(comments.getFirst().startsWith("// split @mlp: forward "), comments.toString());
        assertTrue(comments.stream().anyMatch(l -> l.startsWith("// saved for the backward")), comments.toString());
        assertTrue(comments.stream().anyMatch(l -> l.startsWith("// recomputed in the backward")), comments.toString());

        List<Graph> graphs = Parser.parseAll(r.out(), "split.kir");
        assertEquals(List.of("mlp_forward", "mlp_backward"), graphs.stream().map(Graph::name).toList());
        // forward, then backward on what it saved, gives the joint graph's gradients
        Map<String, NdArray> in = inputs64();
        Graph fwd = graphs.get(0), bwd = graphs.get(1);
        List<NdArray> saved = Interpreter.run(fwd, in);
        Map<String, NdArray> bin = new LinkedHashMap<>();
        for (String n : bwd.paramNames()) {
            if (in.containsKey(n)) bin.put(n, in.get(n));
            else bin.put(n, saved.get(2 + Integer.parseInt(n.substring(n.lastIndexOf('.') + 1))));
        }
        List<NdArray> grads = Interpreter.run(bwd, bin);
        Result jr = MainTest.run("ir", "grad", f.toString(), "--wrt", "fc1.bias,fc2.weight");
        List<NdArray> joint = Interpreter.run(Parser.parse(jr.out(), "joint.kir"), in);
        assertTrue(joint.get(2).contentEquals(grads.get(0)));
        assertTrue(joint.get(3).contentEquals(grads.get(1)));

        // the output is a valid multi-graph file for the other commands
        Path split = write("split.kir", r.out());
        assertEquals(split + ": ok (2 graphs: @mlp_forward " + fwd.body().size() + " ops, 6 params; @mlp_backward "
                + bwd.body().size() + " ops, " + bwd.params().size() + " params)\n", MainTest.run("ir", "check", split.toString()).out());
        Result which = MainTest.run("ir", "run", split.toString(), "--random-inputs", "--dim", "B=2");
        assertEquals(List.of("kiln: error: " + split + " holds 2 graphs (@mlp_forward, @mlp_backward); choose one with --graph NAME"),
                which.errLines());
        assertEquals(0, MainTest.run("ir", "run", split.toString(), "--graph", "mlp_forward", "--random-inputs", "--dim", "B=2").code());
    }

    @Test void gradNamesMustBeFloatParameters() {
        Result r = MainTest.run("ir", "grad", mlp(), "--wrt", "fc1.weigth");
        assertEquals(List.of("kiln: error: graph @mlp has no parameter %fc1.weigth (did you mean %fc1.weight?) (its parameters: "
                + "%x, %target, %fc1.weight, %fc1.bias, %fc2.weight, %fc2.bias)"), r.errLines());
        r = MainTest.run("ir", "grad", mlp(), "--wrt", "target");
        assertEquals(1, r.code());
        assertTrue(r.errLines().getFirst().contains("only float parameters are differentiable"), r.err());
        assertFalse(r.err().contains("error: " + mlp() + ":10: error"), "the error is not said twice: " + r.err());
        assertEquals(2, MainTest.run("ir", "grad", mlp()).code());
    }

    @Test void gradWithLocationsMarksTheBackward() {
        Result r = MainTest.run("ir", "grad", mlp(), "--wrt", "fc2.bias", "--locations");
        assertEquals(0, r.code(), r.err());
        Matcher m = Pattern.compile("loc\\(grad\\(" + Pattern.quote(mlp()) + ":\\d+\\)\\)").matcher(r.out());
        assertTrue(m.find(), r.out());
    }

    // ---- opt ---------------------------------------------------------------------------------

    @Test void optFusesAndKeepsTheInterpretersAnswer() throws Exception {
        Result r = MainTest.run("ir", "opt", mlp());
        assertEquals(0, r.code(), r.err());
        assertEquals("", r.err());
        Graph opt = Parser.parse(r.out(), "opt.kir");
        long kernels = opt.body().stream().filter(v -> v.op() instanceof Op.Fused).count();
        assertTrue(kernels >= 2 && opt.body().size() < 27, r.out());
        Graph g = Parser.parse(Files.readString(Examples.file("mlp.kir")), "mlp.kir");
        List<NdArray> before = Interpreter.run(g, Examples.mlpInputs()), after = Interpreter.run(opt, Examples.mlpInputs());
        for (int i = 0; i < before.size(); i++)
            for (int k = 0; k < before.get(i).size(); k++)
                assertEquals(before.get(i).getDouble(k), after.get(i).getDouble(k), 1e-5, "result " + i + "[" + k + "]");
    }

    @Test void optDumpAfterAllShowsEachPassInOrder() {
        Result r = MainTest.run("ir", "opt", mlp(), "--dump-after", "all");
        assertEquals(0, r.code(), r.err());
        List<String> heads = r.errLines().stream().filter(l -> l.startsWith("// ----- IR after ")).toList();
        assertEquals(List.of("input", "simplify", "fold-constants", "cse", "dce", "fuse"),
                heads.stream().map(l -> l.substring("// ----- IR after ".length(), l.indexOf(" (@"))).toList());
        assertTrue(r.err().contains("// fuse: "), "the fusion report heads the fuse stage: " + r.err());
        // stdout holds only the result
        assertEquals(MainTest.run("ir", "opt", mlp()).out(), r.out());

        Result one = MainTest.run("ir", "opt", mlp(), "--passes", "cse,dce", "--dump-after", "dce");
        assertEquals(1, one.errLines().stream().filter(l -> l.startsWith("// ----- IR after dce")).count(), one.err());
        assertFalse(one.out().contains("fused"), "no fuse pass was asked for");
    }

    @Test void optWritesEachStageToTheDumpDirectory() throws Exception {
        Path root = tmp.resolve("stages");
        Result r = MainTest.run("ir", "opt", mlp(), "--dump-dir", root.toString(), "--stats");
        assertEquals(0, r.code(), r.err());
        Path dir = root.resolve("001-mlp");
        List<String> files;
        try (var s = Files.list(dir)) {
            files = s.map(p -> p.getFileName().toString()).sorted().toList();
        }
        assertEquals(List.of("00-input.kir", "01-simplify.kir", "02-fold-constants.kir", "03-cse.kir", "04-dce.kir", "05-fuse.kir",
                "06-fuse-report.txt", "index.txt"), files);
        for (String f : files)
            if (f.endsWith(".kir")) Parser.parse(Files.readString(dir.resolve(f)), f);
        assertEquals(7, Files.readAllLines(dir.resolve("index.txt")).size());
        assertEquals(Files.readString(dir.resolve("05-fuse.kir")), r.out());
        assertEquals(1, Files.readAllLines(root.resolve("index.txt")).size());
        assertTrue(r.errLines().stream().anyMatch(l -> l.matches("// fuse +[0-9.]+ ms +\\d+ +\\d+")), r.err());
    }

    @Test void optUnknownPassIsAUsageError() {
        Result r = MainTest.run("ir", "opt", mlp(), "--passes", "simplfy,dce");
        assertEquals(2, r.code());
        assertEquals(List.of("kiln: error: unknown pass 'simplfy' (did you mean simplify?) (known: simplify, fold-constants, cse, dce, "
                + "fuse); see 'kiln ir opt --help'"), r.errLines());
        r = MainTest.run("ir", "opt", mlp(), "--dump-after", "fusion");
        assertEquals(2, r.code());
        assertTrue(r.errLines().getFirst().startsWith("kiln: error: --dump-after: unknown pass 'fusion'"), r.err());
    }
}
