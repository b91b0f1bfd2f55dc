package dev.kiln;

import dev.kiln.codegen.jvm.jar.JarExporter;
import dev.kiln.ir.text.Parser;
import dev.kiln.nn.Linear;
import dev.kiln.nn.MSELoss;
import dev.kiln.nn.Module;
import dev.kiln.nn.ReLU;
import dev.kiln.nn.Sequential;
import dev.kiln.optim.Adam;
import dev.kiln.runtime.NdArray;
import dev.kiln.runtime.Npy;
import dev.kiln.runtime.SafeTensors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.*;

/// `Kiln.export`, `Kiln.exportTrainStep` and `Kiln.saveTraced`, checked against the same model
/// compiled in this JVM on the JVM backend; jars run in a fresh JVM started on the jar alone.
class ExportTest {
    @TempDir Path dir;
    private Backend previous;

    @BeforeEach void jvmBackend() {
        previous = Kiln.backend();
        Kiln.setBackend(Backend.named("jvm"));
    }

    @AfterEach void restore() { Kiln.setBackend(previous); }

    record Run(int code, String out, String err) {}

    /// `java -jar jar args...`, in `dir`, with this JVM's java and no inherited options.
    Run java(Path jar, String... args) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-jar", jar.toString()));
        cmd.addAll(List.of(args));
        Path out = Files.createTempFile(dir, "out", ".txt"), err = Files.createTempFile(dir, "err", ".txt");
        ProcessBuilder pb = new ProcessBuilder(cmd).directory(dir.toFile()).redirectOutput(out.toFile()).redirectError(err.toFile());
        pb.environment().remove("JAVA_TOOL_OPTIONS");
        pb.environment().remove("JDK_JAVA_OPTIONS");
        Process p = pb.start();
        assertTrue(p.waitFor(120, TimeUnit.SECONDS), "jar timed out");
        return new Run(p.exitValue(), Files.readString(out), Files.readString(err));
    }

    static Module mlp() { return new Sequential(new Linear(6, 16), new ReLU(), new Linear(16, 3)); }

    /// `Kiln.export(..., Target.CUDA)` writes a jar without a GPU; its PTX compiles for sm_80 and
    /// sm_90; it runs the model on a GPU (equal to the JVM backend's result within float
    /// tolerance) and, without one, fails in one line.
    @org.junit.jupiter.api.Tag("gpu") // also run by the GPU suite, where it runs the jar on the GPU
    @Test void exportForCudaWritesPtxAndRunsOnlyOnAGpu() throws Exception {
        Kiln.manualSeed(1);
        Module m = mlp();
        Tensor example = Tensor.randn(4, 6);
        Path jar = dir.resolve("tiny-cuda.jar");
        long bytes = Kiln.export(m, example, jar, Kiln.Target.CUDA);
        assertEquals(Files.size(jar), bytes);
        try (var jf = new java.util.jar.JarFile(jar.toFile())) {
            String ptx = new String(jf.getInputStream(jf.getEntry("kiln/model.ptx")).readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
            var stored = SafeTensors.read(jf.getInputStream(jf.getEntry("kiln/weights.safetensors")).readAllBytes(), "weights");
            assertEquals(m.stateDict().keySet(), stored.keySet());
            if (dev.kiln.codegen.cuda.PtxCompiler.tool() != null)
                for (String arch : List.of("sm_80", "sm_90")) dev.kiln.codegen.cuda.PtxCompiler.compile(ptx, arch);
        }
        Tensor x = Tensor.randn(5, 6);
        Npy.write(dir.resolve("x.npy"), x.toNdArray());
        Run r = java(jar, "--input", "x.npy", "--output", "y.npy");
        if (dev.kiln.codegen.cuda.CudaBackend.available()) {
            assertEquals(0, r.code(), r.err());
            float[] want = m.forward(x).toFloatArray(), got = (float[]) Npy.read(dir.resolve("y.npy")).data();
            for (int i = 0; i < want.length; i++) assertEquals(want[i], got[i], 1e-5 * (1 + Math.abs(want[i])), "element " + i);
        } else {
            assertEquals(1, r.code(), r.err());
            assertEquals(1, r.err().lines().count(), r.err());
            assertTrue(r.err().startsWith("error: this jar runs on a GPU, and none is usable here: "), r.err());
        }
    }

    @Test void exportedModelGivesTheCompiledModelsBits() throws Exception {
        Kiln.manualSeed(1);
        Module m = mlp();
        Tensor example = Tensor.randn(4, 6);
        JarExporter.Exported e = Kiln.export(m, example, dir.resolve("tiny-mlp.jar"));
        assertEquals("kiln.model.TinyMlp", e.entryClass());
        Tensor x = Tensor.randn(5, 6);
        Npy.write(dir.resolve("x.npy"), x.toNdArray());
        Run r = java(e.jar(), "--input", "x.npy", "--output", "y.npy");
        assertEquals(0, r.code(), r.err());
        NdArray want = Kiln.compile(m, example).forward(x).toNdArray();
        assertTrue(want.contentEquals(Npy.read(dir.resolve("y.npy"))), "jar and compiled model differ");
        assertArrayEquals(m.forward(x).toFloatArray(), (float[]) want.data(), 1e-5f);
    }

    @Test void trainStepJarContinuesWhereTheInProcessStepsLeftOff() throws Exception {
        Kiln.manualSeed(2);
        int n = 48, batch = 16;
        Tensor x = Tensor.randn(n, 6);
        Tensor y = x.matmul(Tensor.of(new float[][]{{1}, {-1}, {0.5f}, {0}, {2}, {-0.5f}})).add(Tensor.scalar(0.25f));
        Module m = new Sequential(new Linear(6, 8), new ReLU(), new Linear(8, 1));
        Adam opt = new Adam(m.parameters(), 0.02);
        TrainStep step = Kiln.compileTrainStep(m, new MSELoss(), opt, rows(x, 0, batch), rows(y, 0, batch));
        double first = step.step(rows(x, 0, batch), rows(y, 0, batch)).item();   // one step here: the jar continues from step 1

        JarExporter.Exported e = Kiln.exportTrainStep(step, dir.resolve("step.jar"));
        Npy.write(dir.resolve("x.npy"), x.toNdArray());
        Npy.write(dir.resolve("y.npy"), y.toNdArray());
        int steps = 30;
        Run r = java(e.jar(), "--input", "x.npy", "--target", "y.npy", "--steps", "" + steps, "--batch", "" + batch, "--log-every", "1",
                "--save", "trained.safetensors");
        assertEquals(0, r.code(), r.err());
        List<Double> losses = new ArrayList<>();
        Matcher mt = Pattern.compile("step (\\d+)  loss (\\S+)").matcher(r.out());
        while (mt.find()) losses.add(Double.parseDouble(mt.group(2)));
        assertEquals(steps, losses.size(), r.out());
        assertTrue(r.out().startsWith("step 2  loss"), r.out());            // counting on from the step taken here
        assertTrue(losses.getLast() < first / 4, first + " -> " + losses);

        // the same steps here, on the same batches, reach the same state bit for bit
        for (int s = 0; s < steps; s++) {
            int lo = (s % (n / batch)) * batch;
            double loss = step.step(rows(x, lo, batch), rows(y, lo, batch)).item();
            assertEquals(losses.get(s), loss, 1e-5 * Math.abs(loss), "step " + (s + 2));
        }
        Map<String, NdArray> saved = SafeTensors.read(dir.resolve("trained.safetensors"));
        m.stateDict().forEach((k, v) -> assertTrue(v.toNdArray().contentEquals(saved.get(k)), k));
        opt.state().forEach((k, v) -> assertTrue(v.toNdArray().contentEquals(saved.get("optim." + k)), "optim." + k));
        assertEquals(steps + 1, saved.get("optim.step").getDouble(0));

        // the model's part of the saved file loads back into a model
        Map<String, Tensor> weights = new LinkedHashMap<>();
        Kiln.load(dir.resolve("trained.safetensors")).forEach((k, v) -> { if (!k.startsWith("optim.")) weights.put(k, v); });
        Module fresh = new Sequential(new Linear(6, 8), new ReLU(), new Linear(8, 1));
        fresh.loadStateDict(weights);
        assertArrayEquals(m.forward(x).toFloatArray(), fresh.forward(x).toFloatArray());
    }

    /// BatchNorm's running statistics are results of the step in the jar too: after the same
    /// steps, the jar's saved buffers equal the in-process ones bit for bit.
    @Test void trainStepJarUpdatesBatchNormBuffers() throws Exception {
        Kiln.manualSeed(4);
        int n = 32, batch = 16, steps = 3;
        Tensor x = Tensor.randn(n, 6), y = Tensor.randn(n, 1);
        Module m = new Sequential(new Linear(6, 8), new dev.kiln.nn.BatchNorm1d(8), new ReLU(), new Linear(8, 1));
        TrainStep step = Kiln.compileTrainStep(m, new MSELoss(), new dev.kiln.optim.SGD(m.parameters(), 0.05), rows(x, 0, batch),
                rows(y, 0, batch));
        JarExporter.Exported e = Kiln.exportTrainStep(step, dir.resolve("bn.jar"));
        Npy.write(dir.resolve("x.npy"), x.toNdArray());
        Npy.write(dir.resolve("y.npy"), y.toNdArray());
        Run r = java(e.jar(), "--input", "x.npy", "--target", "y.npy", "--steps", "" + steps, "--batch", "" + batch, "--save", "bn.safetensors");
        assertEquals(0, r.code(), r.err());
        for (int s = 0; s < steps; s++) step.step(rows(x, (s % 2) * batch, batch), rows(y, (s % 2) * batch, batch));
        Map<String, NdArray> saved = SafeTensors.read(dir.resolve("bn.safetensors"));
        assertEquals(steps, saved.get("1.num_batches_tracked").getLong(0));
        m.stateDict().forEach((k, v) -> assertTrue(v.toNdArray().contentEquals(saved.get(k)), k));
    }

    @Test void savedTraceRoundTripsThroughTheTextFormat() throws Exception {
        Kiln.manualSeed(3);
        Module m = mlp();
        Kiln.saveTraced(m, dir.resolve("saved"), Tensor.randn(2, 6));
        String text = Files.readString(dir.resolve("saved/model.kir"));
        var g = Parser.parse(text, "model.kir");
        assertEquals(List.of("x", "0.weight", "0.bias", "2.weight", "2.bias"), g.paramNames());
        assertTrue(text.contains("loc(ExportTest.java:"), text);   // the line that traced it
        Map<String, NdArray> w = SafeTensors.read(dir.resolve("saved/weights.safetensors"));
        assertEquals(List.of("0.weight", "0.bias", "2.weight", "2.bias"), List.copyOf(w.keySet()));
        m.stateDict().forEach((k, v) -> assertTrue(v.toNdArray().contentEquals(w.get(k)), k));
    }

    @Test void dropoutInTrainingModeIsRefusedBySaveTraced() {
        Module m = new Sequential(new Linear(6, 4), new dev.kiln.nn.Dropout(0.5));
        KilnException e = assertThrows(KilnException.class, () -> Kiln.saveTraced(m, dir.resolve("d"), Tensor.randn(2, 6)));
        assertTrue(e.getMessage().contains("call model.eval() before saving"), e.getMessage());
        m.eval();
        Kiln.saveTraced(m, dir.resolve("d"), Tensor.randn(2, 6));
        assertTrue(Files.exists(dir.resolve("d/model.kir")));
    }

    static Tensor rows(Tensor t, int lo, int count) {
        NdArray a = t.toNdArray();
        int row = a.size() / a.dim(0);
        int[] shape = a.shape();
        shape[0] = count;
        NdArray s = NdArray.zeros(a.dtype(), shape);
        System.arraycopy(a.data(), lo * row, s.data(), 0, count * row);
        return Tensor.of(s);
    }
}
