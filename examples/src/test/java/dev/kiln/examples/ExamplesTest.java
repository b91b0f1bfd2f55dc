package dev.kiln.examples;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.*;

/// Runs every example program and checks what it prints against values worked out by hand.
class ExamplesTest {
    interface Main { void run(String[] args) throws Exception; }

    static String run(Main main, String... args) throws Exception {
        PrintStream old = System.out;
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        System.setOut(new PrintStream(buf, true, StandardCharsets.UTF_8));
        try {
            main.run(args);
        } finally {
            System.setOut(old);
        }
        String out = buf.toString(StandardCharsets.UTF_8);
        old.print(out);
        return out;
    }

    static double number(String out, String regex) {
        Matcher m = Pattern.compile(regex).matcher(out);
        assertTrue(m.find(), "no match for " + regex + " in\n" + out);
        return Double.parseDouble(m.group(1));
    }

    @Test void tensorBasics() throws Exception {
        String out = run(TensorBasics::main);
        assertTrue(out.contains("of(float[][]) = tensor([[1., 2.],\n        [3., 4.]])"), out);
        assertTrue(out.contains("dtype f32, device cpu, shape [2, 3]"), out);
        assertTrue(out.contains("arange(5) = tensor([0, 1, 2, 3, 4])"), out);
        assertTrue(out.contains("scalar(2f) = tensor(2.)"), out);
    }

    @Test void autogradBasics() throws Exception {
        String out = run(AutogradBasics::main);
        assertTrue(out.contains("dy/dx at x=2: 7.0"), out);
        assertTrue(out.contains("after a second backward: 17.0"), out);
        assertTrue(out.contains("after zeroGrad: null"), out);
        assertTrue(out.contains("d(detach(x^2) * x)/dx: 4.0"), out);
        assertTrue(out.contains("under noGrad, requiresGrad = false"), out);
    }

    @Test void tensorOps() throws Exception {
        String out = run(TensorOps::main);
        assertTrue(out.contains("broadcast [[1,2],[3,4]] * [[5],[6]] = [5.0, 10.0, 18.0, 24.0]"), out);
        assertTrue(out.contains("t.slice(1, 1, 3) = tensor([[ 1,  2],\n        [ 5,  6],\n        [ 9, 10]])"), out);
        assertTrue(out.contains("a @ a = tensor([[ 7., 10.],\n        [15., 22.]])"), out);
        assertTrue(out.contains("a.argmax(1) = tensor([1, 1])"), out);
        assertTrue(out.contains("where(x < 0, -x, x) = tensor([4., 0., 9.])"), out);
        assertEquals(Math.exp(-4), number(out, "exp ([0-9.E-]+)"), 1e-8);
    }

    @Test void modules() throws Exception {
        String out = run(Modules::main);
        assertTrue(out.contains("  (fc): Linear(in_features=3136, out_features=10, bias=True)"), out);
        // 32*1*9 + 32 + 64*32*9 + 64 + 10*3136 + 10
        assertTrue(out.contains("parameters: 6 tensors, 50186 numbers"), out);
        assertTrue(out.contains("[conv.0.weight, conv.0.bias, conv.3.weight, conv.3.bias, fc.weight, fc.bias]"), out);
        assertTrue(out.contains("logits shape [2, 10]"), out);
        assertTrue(out.contains("eval-mode probabilities sum to tensor([1., 1., 1.]"), out);
    }

    @Test void smoothL1Regression() throws Exception {
        String out = run(SmoothL1Regression::main);
        assertTrue(number(out, "step 100  loss ([0-9.]+)") < 1e-3 * number(out, "step   0  loss ([0-9.]+)"), out);
        assertTrue(out.contains("learned weight tensor([[ 2.0000, -1.0000,  0.5000]]"), out);
        assertTrue(out.contains("bias tensor([1.0000]"), out);
    }

    @Test void trainClassifier() throws Exception {
        String out = run(TrainClassifier::main, "150");
        assertTrue(number(out, "sgd  accuracy ([0-9.]+)") > 0.9, out);
        assertTrue(number(out, "adam accuracy ([0-9.]+)") > 0.9, out);
        // -log softmax([2, 0, -1])[0] = log(1 + e^-2 + e^-3)
        assertEquals(Math.log(1 + Math.exp(-2) + Math.exp(-3)), number(out, "cross-entropy ([0-9.]+)"), 1e-6);
        assertTrue(out.contains("mse 2.5"), out);
    }

    @Test void normAndSchedule() throws Exception {
        String out = run(NormAndSchedule::main);
        for (int epoch = 0; epoch < 8; epoch++)                // cosine from 0.05 to 0 over 8 epochs
            assertEquals(0.05 * (1 + Math.cos(Math.PI * epoch / 8)) / 2, number(out, "epoch " + epoch + "  lr ([0-9.]+)"), 1e-6);
        assertTrue(out.contains("batches tracked: 48"), out);  // 8 epochs of 6 batches
        double first = number(out, "epoch 0  lr [0-9.]+  mean loss ([0-9.]+)"), last = number(out, "epoch 7  lr [0-9.]+  mean loss ([0-9.]+)");
        assertTrue(last < 0.5 * first, out);
        assertTrue(number(out, "eval accuracy ([0-9.]+)") > 0.9, out);
    }

    @Test void saveLoad(@TempDir Path dir) throws Exception {
        String out = run(SaveLoad::main, dir.resolve("m.safetensors").toString());
        assertTrue(out.contains("saved [0.weight, 0.bias, 2.weight, 2.bias]"), out);
        assertTrue(out.contains("loaded model gives the same outputs: true"), out);
    }

    @Test void traceAndCompile() throws Exception {
        String out = run(TraceAndCompile::main);
        assertTrue(out.contains("%x: f32[B,4],\n    %fc1.weight: f32[16,4],"), out);
        assertTrue(out.contains("loc(TraceAndCompile.java:24 in fc1)"), out);
        assertTrue(out.contains("compiled == eager: true"), out);
        assertTrue(out.contains("graphs compiled during the loop: 0"), out);
        assertTrue(number(out, "step 49  loss ([0-9.]+)") < 0.5 * number(out, "step  0  loss ([0-9.]+)"), out);
    }

    @Test void fashionMnistTrain() throws Exception {
        String out = run(FashionMnistTrain::main, "1", "4");
        double eager = number(out, "eager batch 1  loss ([0-9.]+)"), compiled = number(out, "compiled batch 1  loss ([0-9.]+)");
        // Ten classes and a fresh model: the first losses are near ln 10 = 2.30.
        assertTrue(eager > 1 && eager < 4, out);
        assertTrue(compiled > 0 && compiled < 4, out);
    }

    @Test void exportJar(@TempDir Path dir) throws Exception {
        String out = run(ExportJar::main, dir.toString());
        for (String f : new String[]{"classifier.jar", "finetune.jar", "model.kir", "weights.safetensors", "x.npy", "y.npy"})
            assertTrue(java.nio.file.Files.isRegularFile(dir.resolve(f)), f + " missing; printed:\n" + out);
        assertTrue(out.contains("entry class kiln.model.Classifier"), out);
        // the jar's own command line, in a class loader that sees only the jar
        Path logits = dir.resolve("logits.npy");
        try (var loader = new java.net.URLClassLoader(new java.net.URL[]{dir.resolve("classifier.jar").toUri().toURL()},
                ClassLoader.getPlatformClassLoader())) {
            var cli = loader.loadClass("kiln.model.Classifier").getMethod("cli", String[].class, java.io.PrintWriter.class,
                    java.io.PrintWriter.class);
            var sink = new java.io.StringWriter();
            int code = (Integer) cli.invoke(null, new String[]{"--input", dir.resolve("x.npy").toString(), "--output", logits.toString()},
                    new java.io.PrintWriter(sink), new java.io.PrintWriter(sink));
            assertEquals(0, code, sink.toString());
        }
        float[] row = java.util.Arrays.copyOf((float[]) dev.kiln.runtime.Npy.read(logits).data(), 10);
        int best = 0;
        for (int i = 1; i < 10; i++) if (row[i] > row[best]) best = i;
        assertEquals(best, (int) number(out, "class of the first input: (\\d+)"), out);
    }
}
