package dev.kiln.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.jar.JarFile;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import dev.kiln.ir.Graph;
import dev.kiln.ir.interp.Interpreter;
import dev.kiln.ir.text.Parser;
import dev.kiln.runtime.NdArray;
import dev.kiln.runtime.Npy;
import dev.kiln.runtime.SafeTensors;

/// `kiln compile`, `kiln run` and `kiln bench` in-process on `examples/ir/mlp.kir` with its
/// sample data (weights gathered into a safetensors file, as a user would have them).
class ModelCommandsTest {
    @TempDir Path dir;
    Path kir, weights, x, target;
    Map<String, NdArray> inputs;

    @BeforeEach void files() throws Exception {
        kir = Examples.file("mlp.kir");
        inputs = Examples.mlpInputs();
        Map<String, NdArray> w = new LinkedHashMap<>(inputs);
        x = dir.resolve("x.npy");
        target = dir.resolve("target.npy");
        Npy.write(x, w.remove("x"));
        Npy.write(target, w.remove("target"));
        weights = dir.resolve("mlp.safetensors");
        SafeTensors.write(weights, w);
    }

    /// The graph's results on the sample inputs, by the reference interpreter.
    List<NdArray> reference() throws Exception {
        Graph g = Parser.parse(Files.readString(kir), "mlp.kir");
        return Interpreter.run(g, g.paramNames().stream().map(inputs::get).toList());
    }

    static void close(NdArray want, NdArray got, double tol) {
        assertEquals(want.dtype(), got.dtype());
        assertEquals(List.of(want.shape().length), List.of(got.shape().length));
        for (int i = 0; i < want.size(); i++)
            assertEquals(want.getDouble(i), got.getDouble(i), tol * Math.max(1, Math.abs(want.getDouble(i))), "element " + i);
    }

    @Test void compileWritesAJarThatRunAndTheKirFileAgreeOn() throws Exception {
        Path jar = dir.resolve("mlp.jar");
        MainTest.Result c = MainTest.run("compile", kir.toString(), "--weights", weights.toString(), "-o", jar.toString());
        assertEquals(0, c.code(), c.err());
        assertTrue(c.out().startsWith("wrote " + jar + " ("), c.out());
        assertTrue(c.out().contains("entry class kiln.model.Mlp"), c.out());
        assertTrue(c.out().contains("inputs:  x f32[B,784], target i64[B]"), c.out());
        assertTrue(c.out().contains("outputs: output0 f32[], output1 f32[B,10]"), c.out());
        try (JarFile jf = new JarFile(jar.toFile())) {
            assertEquals("kiln.model.Mlp", jf.getManifest().getMainAttributes().getValue("Main-Class"));
        }

        Path fromJar = dir.resolve("jar.npy"), fromKir = dir.resolve("kir.npy");
        MainTest.Result rj = MainTest.run("run", jar.toString(), "--input", "x=" + x, "--input", "target=" + target,
                "--output", "output1=" + fromJar);
        assertEquals(0, rj.code(), rj.err());
        MainTest.Result rk = MainTest.run("run", kir.toString(), "--weights", weights.toString(), "--input", x.toString(),
                "--input", target.toString(), "--output", "output1=" + fromKir);
        assertEquals(0, rk.code(), rk.err());
        assertEquals("wrote output1 f32[4,10] to " + fromKir + "\n", rk.out());
        // same passes, same kernels: the jar and the in-process compile agree bit for bit
        assertTrue(Npy.read(fromJar).contentEquals(Npy.read(fromKir)));
        close(reference().get(1), Npy.read(fromKir), 1e-5);

        // without --output: a summary per output
        MainTest.Result summary = MainTest.run("run", kir.toString(), "--weights", weights.toString(), "--input", x.toString(),
                "--input", target.toString(), "--backend", "interp");
        assertEquals(0, summary.code(), summary.err());
        assertTrue(summary.out().startsWith("output0: f32[] "), summary.out());
        assertTrue(summary.out().contains("\noutput1: f32[4,10] ["), summary.out());
    }

    /// `--target cuda` needs no GPU to write the jar: it holds the PTX (which NVIDIA's PTX compiler
    /// accepts for sm_80 and sm_90), the run-time plan, the weights, Kiln's runtime and CUDA
    /// run-time classes, JCuda and its driver library, and no compiler. Run without a GPU, the jar says so in one line and exits 1;
    /// with one, it computes what the interpreter computes.
    @org.junit.jupiter.api.Tag("gpu") // also run by the GPU suite, where it runs the jar on the GPU
    @Test void compileForCudaWritesAJarWithValidPtx() throws Exception {
        Path jar = dir.resolve("m.jar");
        MainTest.Result r = MainTest.run("compile", kir.toString(), "--weights", weights.toString(), "-o", jar.toString(), "--target", "cuda");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().startsWith("wrote " + jar + " ("), r.out());
        assertTrue(r.out().contains("PTX for CUDA"), r.out());
        try (var jf = new java.util.jar.JarFile(jar.toFile())) {
            assertEquals("dev.kiln.codegen.cuda.rt.CudaJarMain", jf.getManifest().getMainAttributes().getValue("Main-Class"));
            for (String e : List.of("kiln/plan.txt", "kiln/weights.safetensors", "kiln/constants.safetensors", "lib/libJCudaDriver-12.0.0-linux-x86_64.so",
                    "jcuda/driver/JCudaDriver.class", "dev/kiln/codegen/cuda/rt/CudaJarMain.class"))
                assertNotNull(jf.getEntry(e), e);
            for (String e : List.of("dev/kiln/passes/lower/Lower.class", "dev/kiln/ir/Graph.class", "dev/kiln/codegen/cuda/PtxGen.class"))
                org.junit.jupiter.api.Assertions.assertNull(jf.getEntry(e), e + ": the jar carries no compiler");
            String ptx = new String(jf.getInputStream(jf.getEntry("kiln/model.ptx")).readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
            assertTrue(ptx.contains(".entry"), ptx);
            if (dev.kiln.codegen.cuda.PtxCompiler.tool() != null) // there is one wherever jcuda-natives is on the class path
                for (String arch : List.of("sm_80", "sm_90"))
                    assertFalse(dev.kiln.codegen.cuda.PtxCompiler.compile(ptx, arch).resources().isEmpty(), arch);
        }
        Path out = dir.resolve("loss.npy");
        Process p = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-jar", jar.toString(),
                "--input", "x=" + x, "--input", "target=" + target, "--output", "output0=" + out).start();
        String stdout = new String(p.getInputStream().readAllBytes()), stderr = new String(p.getErrorStream().readAllBytes());
        int code = p.waitFor();
        if (dev.kiln.codegen.cuda.CudaBackend.available()) {
            assertEquals(0, code, stderr);
            close(reference().getFirst(), Npy.read(out), 1e-4);
        } else {
            assertEquals(1, code, stderr);
            assertEquals(1, stderr.lines().count(), stderr);
            assertTrue(stderr.startsWith("error: this jar runs on a GPU, and none is usable here: "), stderr);
            assertEquals("", stdout);
        }
    }

    @Test void badInputsToRunAreOneLineErrors() throws Exception {
        Path wrong = dir.resolve("wrong.npy");
        Npy.write(wrong, NdArray.zeros(dev.kiln.runtime.DType.F32, 4, 783));
        MainTest.Result r = MainTest.run("run", kir.toString(), "--weights", weights.toString(), "--input", "x=" + wrong,
                "--input", "target=" + target);
        assertEquals(1, r.code());
        assertEquals(1, r.errLines().size(), r.err());
        assertTrue(r.err().startsWith("kiln: error: input %x (" + wrong + ") is f32[4,783], expected f32[B,784]"), r.err());

        Path jar = dir.resolve("mlp.jar");
        assertEquals(0, MainTest.run("compile", kir.toString(), "--weights", weights.toString(), "-o", jar.toString()).code());
        MainTest.Result rj = MainTest.run("run", jar.toString(), "--input", "x=" + wrong, "--input", "target=" + target);
        assertEquals(1, rj.code());
        assertEquals(List.of("error: input 'x' (" + wrong + ") is f32[4,783], expected f32[B,784]: axis 1 is 783, not 784"), rj.errLines());
    }

    @Test void benchTimesTheModelAndProfilesItsKernels() {
        MainTest.Result r = MainTest.run("bench", kir.toString(), "--weights", weights.toString(), "--dim", "B=8", "--iters", "5",
                "--warmup", "1", "--profile");
        assertEquals(0, r.code(), r.err());
        List<String> lines = r.out().lines().toList();
        assertTrue(lines.getFirst().startsWith("bench @mlp on jvm: B=8, "), r.out());
        for (String s : List.of("compile ", "first run ", "latency ", "throughput ", "kernel ", "total "))
            assertTrue(lines.stream().anyMatch(l -> l.startsWith(s)), s + " missing in\n" + r.out());
        assertTrue(r.out().contains("items/s"), r.out());
        // the two matrix products are the two kernels with a GFLOP/s figure, and each ran 5 times
        List<String> rows = lines.stream().filter(l -> l.matches("k\\d+_.*")).toList();
        assertEquals(2, rows.stream().filter(l -> l.contains("matmul")).count(), r.out());
        for (String row : rows) assertTrue(row.matches("\\S+\\s+5\\s.*"), row);

        MainTest.Result interp = MainTest.run("bench", kir.toString(), "--backend", "interp", "--iters", "2", "--warmup", "0");
        assertEquals(0, interp.code(), interp.err());
        assertTrue(interp.out().startsWith("bench @mlp on interp: B=1, "), interp.out());
        MainTest.Result bad = MainTest.run("bench", kir.toString(), "--backend", "interp", "--profile");
        assertEquals(2, bad.code());
    }

    /// `--dump-dir` is one flag with one layout on every command that compiles: a numbered
    /// directory per graph with the passes' stages, the fusion report, the kernel IR and the
    /// bytecode, the index's counts those of the graph each stage holds.
    @Test void compileRunAndBenchDumpEveryStageOfTheirCompile() throws Exception {
        Path dumps = dir.resolve("dumps");
        assertEquals(0, MainTest.run("compile", kir.toString(), "--weights", weights.toString(), "-o", dir.resolve("m.jar").toString(),
                "--dump-dir", dumps.toString()).code());
        MainTest.Result run = MainTest.run("run", kir.toString(), "--weights", weights.toString(), "--input", "x=" + x, "--input",
                "target=" + target, "--dump-dir", dumps.toString());
        assertEquals(0, run.code(), run.err());
        assertEquals(0, MainTest.run("bench", kir.toString(), "--weights", weights.toString(), "--iters", "1", "--warmup", "0",
                "--dump-dir", dumps.toString()).code());
        List<String> top = Files.readAllLines(dumps.resolve("index.txt"));
        assertEquals(List.of("001-mlp", "002-mlp", "003-mlp"), top.stream().map(l -> l.split(" ")[0]).toList());
        for (String sub : List.of("001-mlp", "002-mlp", "003-mlp")) {
            Path d = dumps.resolve(sub);
            List<String> files;
            try (var f = Files.list(d)) {
                files = f.map(p -> p.getFileName().toString()).sorted().toList();
            }
            assertEquals(List.of("00-input.kir", "01-simplify.kir", "02-fold-constants.kir", "03-cse.kir", "04-dce.kir", "05-fuse.kir",
                    "06-fuse-report.txt", "07-kernels.txt", "08-bytecode.txt", "index.txt"), files, sub);
            List<String> index = Files.readAllLines(d.resolve("index.txt"));
            for (int i = 0; i < 6; i++) {
                Graph g = Parser.parse(Files.readString(d.resolve(files.get(i))), files.get(i)); // each parses back
                long kernels = g.body().stream().filter(v -> v.op() instanceof dev.kiln.ir.Op.Fused).count();
                assertTrue(index.get(i).startsWith(files.get(i)) && index.get(i).contains(" ms  ops=" + g.body().size() + "  kernels=" + kernels + "  "),
                        index.get(i));
            }
            String kernelIr = Files.readString(d.resolve("07-kernels.txt"));
            long kernels = kernelIr.lines().filter(l -> l.startsWith("kernel ")).count();
            assertTrue(kernels > 0, kernelIr);
            assertTrue(index.get(7).matches("07-kernels.txt +[0-9.]+ ms  kernels=" + kernels + "  buffers=\\d+"), index.get(7) + "\n" + kernelIr);
            String bytecode = Files.readString(d.resolve("08-bytecode.txt"));
            assertTrue(bytecode.startsWith("// class version ") && bytecode.contains(sub.equals("001-mlp") ? "class kiln/model/MKernels"
                    : "class dev/kiln/codegen/jvm/Graph_mlp"), bytecode.substring(0, Math.min(400, bytecode.length())));
            assertTrue(index.get(8).matches("08-bytecode.txt +[0-9.]+ ms  classes=1  bytes=\\d+"), index.get(8));
        }
        MainTest.Result jar = MainTest.run("run", dir.resolve("m.jar").toString(), "--dump-dir", dumps.toString());
        assertEquals(2, jar.code());
        assertTrue(jar.err().contains("--dump-dir shows the stages of a compile"), jar.err());
    }

    /// A program that compiles without a flag dumps where `KILN_DUMP_DIR` says, unless
    /// `-Dkiln.dumpDir` says otherwise (the property wins). A fresh JVM each, for its environment.
    @Test void theEnvironmentVariableAndThePropertyChooseTheDumpDirectory() throws Exception {
        Path fromEnv = dir.resolve("env"), fromProperty = dir.resolve("prop");
        runKiln(fromEnv, null);
        runKiln(fromEnv, fromProperty);
        assertEquals(List.of("001-mlp", "index.txt"), list(fromEnv));
        assertEquals(List.of("001-mlp", "index.txt"), list(fromProperty));
        assertTrue(list(fromProperty.resolve("001-mlp")).contains("08-bytecode.txt"));
    }

    private void runKiln(Path env, Path property) throws Exception {
        List<String> cmd = new java.util.ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-cp", System.getProperty("java.class.path")));
        if (property != null) cmd.add("-Dkiln.dumpDir=" + property);
        cmd.addAll(List.of("dev.kiln.cli.Main", "run", kir.toString(), "--weights", weights.toString(), "--input", "x=" + x, "--input",
                "target=" + target));
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
        pb.environment().put("KILN_DUMP_DIR", env.toString());
        Process p = pb.start();
        String out = new String(p.getInputStream().readAllBytes());
        assertEquals(0, p.waitFor(), out);
    }

    private static List<String> list(Path d) throws Exception {
        try (var f = Files.list(d)) {
            return f.map(p -> p.getFileName().toString()).sorted().toList();
        }
    }
}
