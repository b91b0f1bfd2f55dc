package dev.kiln.codegen.jvm.jar;

import dev.kiln.codegen.jvm.JvmBackend;
import dev.kiln.codegen.jvm.rt.Pool;
import dev.kiln.ir.Axes;
import dev.kiln.ir.Builder;
import dev.kiln.ir.Graph;
import dev.kiln.ir.Ints;
import dev.kiln.ir.Value;
import dev.kiln.passes.PassManager;
import dev.kiln.runtime.DType;
import dev.kiln.runtime.NdArray;
import dev.kiln.runtime.Npy;
import dev.kiln.runtime.SafeTensors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.jar.JarFile;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static dev.kiln.ir.TensorType.f32;
import static org.junit.jupiter.api.Assertions.*;

/// Exported jars run in a fresh JVM started on the jar alone (`java -jar`), and must give the
/// same bits as the same graph compiled in this JVM.
class JarExporterTest {
    @TempDir Path dir;

    /// The graph as the exporter compiles it, run in this JVM by the JVM backend.
    static List<NdArray> inProcess(Graph g, List<NdArray> args) {
        Graph opt = PassManager.withFusion(PassManager.Options.fromSystemProperties()).run(g);
        return JvmBackend.compile(opt).run(args);
    }

    static List<NdArray> args(Graph g, Map<String, NdArray> inputs, Map<String, NdArray> weights) {
        List<NdArray> a = new ArrayList<>();
        for (String n : g.paramNames()) a.add(inputs.containsKey(n) ? inputs.get(n) : weights.get(n));
        return a;
    }

    JarExporter.Exported export(Graph g, Map<String, NdArray> weights, String fqn) {
        return JarExporter.export(g, weights, dir.resolve(fqn.substring(fqn.lastIndexOf('.') + 1).toLowerCase() + ".jar"),
                JarExporter.Options.named(fqn));
    }

    private void checkBitIdentical(String kir, NdArray x) {
        Graph g = Jars.graph(kir);
        Map<String, NdArray> w = Jars.weights(g, List.of("x"), 7);
        Path jar = export(g, w, "kiln.model.Net").jar();
        Npy.write(dir.resolve("x.npy"), x);
        Jars.Run r = Jars.runJar(jar, true, "--input", "x.npy", "--output", "y.npy");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("wrote output f32[" + x.dim(0) + ",10] to y.npy"), r.out());
        NdArray got = Npy.read(dir.resolve("y.npy"));
        NdArray want = inProcess(g, args(g, Map.of("x", x), w)).getFirst();
        assertTrue(want.contentEquals(got), "jar " + got.toString(6) + " vs in-process " + want.toString(6));
    }

    // Batches of 5 and 3 rows: the 10-wide last layers take the matrix kernel's dot-product path
    // (too few rows or columns for a whole tile), whose lane order once depended on JIT warm-up.
    @Test void mlpJarGivesTheInProcessBits() {
        checkBitIdentical("mlp.kir", Jars.random(DType.F32, new Random(1), 1, 5, 784));
    }

    @Test void mnistShapedJarGivesTheInProcessBits() {
        checkBitIdentical("mnist.kir", Jars.random(DType.F32, new Random(2), 1, 3, 1, 28, 28));
    }

    /// Large reductions split across 2 threads in both JVMs (the conv weight gradient sums
    /// per-thread partials over a batch of 32; a reduce_sum of 131072 elements): the jar's
    /// executor and the in-process one split them alike, so the sums round alike.
    @Test void parallelReductionsGiveTheInProcessBitsOnTwoThreads() {
        assertEquals(2, Pool.shared().size(), "the module's tests run with -Dkiln.threads=2");
        Builder b = new Builder();
        Value x = b.param("x", f32("N", 8, 16, 16)), gy = b.param("g", f32("N", 16, 16, 16));
        Value gw = b.conv2dGradWeight(x, gy, Ints.of(1, 1), Ints.of(1, 1), Ints.of(1, 1), 1, f32(16, 8, 3, 3));
        Value sq = b.reshape(b.mul(gy, gy), f32("N", 4096));
        Graph g = b.build("wgrad", gw, b.reduceSum(sq, Axes.of(0, 1)), b.reduceSum(sq, Axes.of(0)));
        Path jar = export(g, Map.of(), "kiln.model.WGrad").jar();
        Random r = new Random(11);
        NdArray xs = Jars.random(DType.F32, r, 1, 32, 8, 16, 16), gs = Jars.random(DType.F32, r, 1, 32, 16, 16, 16);
        Npy.write(dir.resolve("x.npy"), xs);
        Npy.write(dir.resolve("g.npy"), gs);
        List<NdArray> want = inProcess(g, List.of(xs, gs));
        Jars.Run run = Jars.runJar(List.of("-Dkiln.threads=2"), jar, true, "--input", "x=x.npy", "--input", "g=g.npy",
                "--output", "output0=gw.npy", "--output", "output1=sum.npy", "--output", "output2=cols.npy");
        assertEquals(0, run.code(), run.err());
        List<String> files = List.of("gw.npy", "sum.npy", "cols.npy");
        for (int i = 0; i < files.size(); i++) {
            NdArray got = Npy.read(dir.resolve(files.get(i)));
            assertTrue(want.get(i).contentEquals(got), files.get(i) + ": jar " + got.toString(4) + " vs in-process " + want.get(i).toString(4));
        }
    }

    @Test void jarHoldsTheGeneratedClassesWeightsAndRuntimeOnly() throws IOException {
        Graph g = Jars.graph("mlp.kir");
        Map<String, NdArray> w = Jars.weights(g, List.of("x"), 7);
        JarExporter.Exported e = export(g, w, "kiln.model.Mlp");
        List<String> names;
        String source, mainClass;
        try (JarFile jar = new JarFile(e.jar().toFile())) {
            names = Collections.list(jar.entries()).stream().map(java.util.zip.ZipEntry::getName).toList();
            source = new String(jar.getInputStream(jar.getEntry("kiln/model/Mlp.java")).readAllBytes());
            mainClass = jar.getManifest().getMainAttributes().getValue("Main-Class");
            assertEquals(w.keySet(), SafeTensors.read(jar.getInputStream(jar.getEntry("kiln/model/Mlp.safetensors")).readAllBytes(), "w").keySet());
        }
        assertEquals("kiln.model.Mlp", mainClass);
        for (String n : List.of("kiln/model/Mlp.class", "kiln/model/MlpKernels.class", "kiln/model/Mlp.java", "kiln/model/Mlp.plan",
                "kiln/model/Mlp.safetensors", "dev/kiln/runtime/NdArray.class", "dev/kiln/runtime/Npy.class",
                "dev/kiln/codegen/jvm/rt/Gemm.class", "dev/kiln/codegen/jvm/rt/VectorMicro.class", "dev/kiln/codegen/jvm/rt/JarMain.class"))
            assertTrue(names.contains(n), n + " missing from " + names);
        for (String n : names) {
            boolean allowed = n.equals("META-INF/MANIFEST.MF") || n.startsWith("kiln/model/Mlp")
                    || (n.startsWith("dev/kiln/runtime/") || n.startsWith("dev/kiln/codegen/jvm/rt/")) && n.endsWith(".class");
            assertTrue(allowed, "unexpected entry " + n);
            assertFalse(n.startsWith("org/objectweb/") || n.contains("javapoet") || n.startsWith("dev/kiln/ir/") || n.startsWith("dev/kiln/passes/"), n);
        }
        // the typed entry class documents its inputs and outputs
        assertTrue(source.contains("public NdArray run(NdArray x)"), source);
        assertTrue(source.contains("<li><code>x</code>: <code>f32[B,784]</code></li>"), source);
        assertTrue(source.contains("<li><code>output</code>: <code>f32[B,10]</code></li>"), source);
        assertEquals(e.bytes(), Files.size(e.jar()));
        // java.base is all it needs; the vector kernel (loaded only when present) is the one class that uses more
        var jdeps = java.util.spi.ToolProvider.findFirst("jdeps").orElseThrow();
        java.io.StringWriter deps = new java.io.StringWriter();
        assertEquals(0, jdeps.run(new java.io.PrintWriter(deps), new java.io.PrintWriter(System.err), "-verbose:class", e.jar().toString()));
        // class lines: "   from -> to   module"; keep those leaving the jar and java.base
        List<String[]> beyondBase = deps.toString().lines().filter(l -> l.startsWith(" ")).map(l -> l.strip().split("\\s+"))
                .filter(t -> t.length == 4 && !t[3].equals("java.base") && !t[3].equals(e.jar().getFileName().toString())).toList();
        assertFalse(beyondBase.isEmpty(), deps.toString());
        for (String[] t : beyondBase)
            assertTrue(t[0].startsWith("dev.kiln.codegen.jvm.rt.VectorMicro") && t[3].equals("jdk.incubator.vector"), String.join(" ", t));
        // the same model exports to the same bytes
        byte[] first = Files.readAllBytes(e.jar());
        Path again = JarExporter.export(g, w, Files.createDirectories(dir.resolve("again")).resolve("mlp.jar"),
                JarExporter.Options.named("kiln.model.Mlp")).jar();
        assertArrayEquals(first, Files.readAllBytes(again));
    }

    @Test void severalInputsAndOutputsByName() {
        Graph g = Jars.graph("loss.kir");
        Map<String, NdArray> w = Jars.weights(g, List.of("x", "target"), 3);
        Path jar = export(g, w, "kiln.model.Classify").jar();
        Random r = new Random(5);
        NdArray x = Jars.random(DType.F32, r, 2, 4, 6), t = Jars.random(DType.I64, r, 0, 4);
        Npy.write(dir.resolve("x.npy"), x);
        Npy.write(dir.resolve("t.npy"), t);
        List<NdArray> want = inProcess(g, args(g, Map.of("x", x, "target", t), w));

        Jars.Run run = Jars.runJar(jar, true, "--input", "target=t.npy", "--input", "x=x.npy", "--output", "output1=logits.npy",
                "--output", "output0=loss.npy");
        assertEquals(0, run.code(), run.err());
        assertTrue(want.get(0).contentEquals(Npy.read(dir.resolve("loss.npy"))));
        assertTrue(want.get(1).contentEquals(Npy.read(dir.resolve("logits.npy"))));

        // without --output: a summary line per output; unnamed inputs fill the inputs in order
        Jars.Run summary = Jars.runJar(jar, true, "--input", "x.npy", "--input", "t.npy");
        assertEquals(0, summary.code(), summary.err());
        assertTrue(summary.out().startsWith("output0: f32[] [" + new java.math.BigDecimal(want.get(0).getDouble(0))
                .round(new java.math.MathContext(6)).stripTrailingZeros().toPlainString() + "]\n"), summary.out());
        assertTrue(summary.out().contains("output1: f32[4,4] ["), summary.out());
    }

    @Test void badInputsGiveOneLineErrorsAndNonZeroExits() throws IOException {
        Graph g = Jars.graph("loss.kir");
        Path jar = export(g, Jars.weights(g, List.of("x", "target"), 3), "kiln.model.Classify").jar();
        Random r = new Random(5);
        Npy.write(dir.resolve("x.npy"), Jars.random(DType.F32, r, 1, 3, 6));
        Npy.write(dir.resolve("x5.npy"), Jars.random(DType.F32, r, 1, 3, 5));
        Npy.write(dir.resolve("x64.npy"), Jars.random(DType.F64, r, 1, 3, 6));
        Npy.write(dir.resolve("t.npy"), Jars.random(DType.I64, r, 0, 3));
        Npy.write(dir.resolve("t2.npy"), Jars.random(DType.I64, r, 0, 2));
        Files.write(dir.resolve("bad.npy"), new byte[]{(byte) 0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, 5, 0, '{', '}', 0, 0});

        record Case(int code, String expect, String... args) {}
        List<Case> cases = List.of(
                new Case(1, "input 'x' (x5.npy) is f32[3,5], expected f32[B,6]: axis 1 is 5, not 6", "--input", "x=x5.npy", "--input", "target=t.npy"),
                new Case(1, "input 'x' (x64.npy) is f64[3,6], expected f32[B,6]: dtype f64 instead of f32", "--input", "x64.npy", "--input", "t.npy"),
                new Case(1, "missing input 'target' (i64[B]); give it with --input target=FILE.npy", "--input", "x.npy"),
                new Case(1, "bad.npy", "--input", "x.npy", "--input", "target=bad.npy"),
                new Case(1, "input 'target' (t2.npy) is i64[2], expected i64[B]: axis 0 is 2, but B = 3 from input 'x'", "--input", "x.npy",
                        "--input", "t2.npy"),
                new Case(1, "input 'x': no such file: nope.npy", "--input", "nope.npy", "--input", "t.npy"),
                new Case(2, "the model has no input 'y' (its inputs: x, target)", "--input", "y=x.npy"),
                new Case(2, "unknown option '--inptu'", "--inptu", "x.npy"),
                new Case(2, "the model has 2 outputs (output0, output1); name the one to write with --output NAME=FILE.npy",
                        "--input", "x.npy", "--input", "t.npy", "--output", "y.npy"));
        for (Case c : cases) {
            Jars.Run run = Jars.runJar(jar, false, c.args());
            String err = run.errLines();
            assertEquals(c.code(), run.code(), String.join(" ", c.args()) + ": " + err);
            assertEquals(1, err.lines().count(), "one line for " + String.join(" ", c.args()) + ", got:\n" + err);
            assertTrue(err.startsWith("error: ") && err.contains(c.expect()), "expected '" + c.expect() + "' in:\n" + err);
            assertEquals("", run.out());
        }
    }

    @Test void usageListsTheModelsInputsAndOutputs() {
        Graph g = Jars.graph("loss.kir");
        Path jar = export(g, Jars.weights(g, List.of("x", "target"), 3), "kiln.model.Classify").jar();
        Jars.Run bare = Jars.runJar(jar, false);
        assertEquals(2, bare.code());
        Jars.Run help = Jars.runJar(jar, false, "--help");
        assertEquals(0, help.code(), help.err());
        for (String usage : List.of(bare.errLines(), help.out())) {
            assertTrue(usage.startsWith("usage: java -jar classify.jar --input x=x.npy --input target=target.npy [--output NAME=FILE.npy ...]"), usage);
            for (String s : List.of("x                f32[B,6]", "target           i64[B]", "output0          f32[]", "output1          f32[B,4]",
                    "B is taken from the inputs' shapes", "--add-modules jdk.incubator.vector"))
                assertTrue(usage.contains(s), s + " missing from\n" + usage);
        }
    }

    @Test void runsWithoutTheVectorModuleAndSaysHowToEnableIt() {
        Graph g = Jars.graph("mlp.kir");
        Map<String, NdArray> w = Jars.weights(g, List.of("x"), 7);
        Path jar = export(g, w, "kiln.model.Mlp").jar();
        NdArray x = Jars.random(DType.F32, new Random(1), 1, 2, 784);
        Npy.write(dir.resolve("x.npy"), x);
        Jars.Run r = Jars.runJar(jar, false, "--input", "x.npy", "--output", "y.npy");
        assertEquals(0, r.code(), r.err());
        assertEquals("note: Matrix products use the portable scalar kernel; for the faster vector one (worth its start-up time "
                + "on large batches and long runs) run java --add-modules jdk.incubator.vector -jar mlp.jar ...\n", r.err());
        float[] got = (float[]) Npy.read(dir.resolve("y.npy")).data();
        float[] want = (float[]) inProcess(g, args(g, Map.of("x", x), w)).getFirst().data();
        for (int i = 0; i < want.length; i++) assertEquals(want[i], got[i], 1e-4 * Math.max(1, Math.abs(want[i])), "element " + i);
    }

    @Test void entryClassIsATypedLibrary() throws Exception {
        Graph g = Jars.graph("loss.kir");
        Map<String, NdArray> w = Jars.weights(g, List.of("x", "target"), 3);
        Path jar = export(g, w, "com.example.Classifier").jar();
        Random r = new Random(9);
        NdArray x = Jars.random(DType.F32, r, 1, 2, 6), t = Jars.random(DType.I64, r, 0, 2);
        List<NdArray> want = inProcess(g, args(g, Map.of("x", x, "target", t), w));
        // the runtime classes come from this class path (the parent loader), the model from the jar
        try (URLClassLoader loader = new URLClassLoader(new URL[]{jar.toUri().toURL()}, getClass().getClassLoader())) {
            Class<?> c = loader.loadClass("com.example.Classifier");
            Object model = c.getMethod("load").invoke(null);
            Object out = c.getMethod("run", NdArray.class, NdArray.class).invoke(model, x, t);
            Class<?> outputs = loader.loadClass("com.example.Classifier$Outputs");
            assertTrue(outputs.isRecord());
            assertTrue(want.get(0).contentEquals((NdArray) outputs.getMethod("output0").invoke(out)));
            assertTrue(want.get(1).contentEquals((NdArray) outputs.getMethod("output1").invoke(out)));
            var bad = assertThrows(java.lang.reflect.InvocationTargetException.class,
                    () -> c.getMethod("run", NdArray.class, NdArray.class).invoke(model, t, x));
            assertEquals("input 'x' is i64[2], expected f32[B,6]: dtype i64 instead of f32", bad.getCause().getMessage());
        }
    }

    @Test void trainingStepJarContinuesTrainingAndLowersTheLoss() throws IOException {
        Graph g = Jars.graph("sgd.kir");
        Random r = new Random(11);
        int n = 64;
        NdArray x = Jars.random(DType.F32, r, 1, n, 3), y = NdArray.zeros(DType.F32, n, 1);
        for (int i = 0; i < n; i++)
            y.setDouble(i, x.getDouble(3 * i) - 2 * x.getDouble(3 * i + 1) + 0.5 * x.getDouble(3 * i + 2) + 0.3);
        Map<String, NdArray> w = Map.of("w", NdArray.zeros(DType.F32, 3, 1), "b", NdArray.zeros(DType.F32, 1));
        Path jar = JarExporter.export(g, w, dir.resolve("step.jar"), JarExporter.Options.named("kiln.model.Step")
                .withTrain(new JarExporter.Train(Map.of("w", 1, "b", 2), null, 0))).jar();
        Npy.write(dir.resolve("x.npy"), x);
        Npy.write(dir.resolve("y.npy"), y);
        int steps = 80, batch = 16;
        Jars.Run run = Jars.runJar(jar, true, "--input", "x.npy", "--target", "y.npy", "--steps", "" + steps, "--batch", "" + batch,
                "--log-every", "1", "--save", "out.safetensors");
        assertEquals(0, run.code(), run.err());
        List<Double> losses = new ArrayList<>();
        Matcher m = Pattern.compile("step (\\d+)  loss (\\S+)").matcher(run.out());
        while (m.find()) losses.add(Double.parseDouble(m.group(2)));
        assertEquals(steps, losses.size(), run.out());
        assertTrue(losses.getLast() < losses.getFirst() / 20, losses.toString());
        assertTrue(run.out().endsWith("saved 2 tensors to out.safetensors\n"), run.out());

        // the same steps in this JVM reach the same weights, bit for bit
        NdArray wi = w.get("w"), bi = w.get("b");
        for (int s = 0; s < steps; s++) {
            int lo = (s % (n / batch)) * batch;
            List<NdArray> out = inProcess(g, List.of(rows(x, lo, batch), rows(y, lo, batch), wi, bi));
            assertEquals(losses.get(s), out.get(0).getDouble(0), 1e-5 * Math.abs(losses.get(s)), "loss of step " + (s + 1));
            wi = out.get(1);
            bi = out.get(2);
        }
        Map<String, NdArray> saved = SafeTensors.read(dir.resolve("out.safetensors"));
        assertEquals(Set.of("w", "b"), saved.keySet());
        assertTrue(wi.contentEquals(saved.get("w")), saved.get("w") + " vs " + wi);
        assertTrue(bi.contentEquals(saved.get("b")));
        assertEquals(1.0, saved.get("w").getDouble(0), 0.05);
        assertEquals(-2.0, saved.get("w").getDouble(1), 0.05);
    }

    static NdArray rows(NdArray a, int lo, int count) {
        int row = a.size() / a.dim(0);
        int[] shape = a.shape();
        shape[0] = count;
        NdArray s = NdArray.zeros(a.dtype(), shape);
        System.arraycopy(a.data(), lo * row, s.data(), 0, count * row);
        return s;
    }
}
