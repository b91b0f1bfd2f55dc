package dev.kiln.examples.mnist;

import dev.kiln.Backend;
import dev.kiln.Kiln;
import dev.kiln.Tensor;
import dev.kiln.data.DataLoader;
import dev.kiln.data.Dataset;
import dev.kiln.data.Example;
import dev.kiln.data.FashionMnist;
import dev.kiln.data.Progress;
import dev.kiln.nn.CrossEntropyLoss;
import dev.kiln.optim.Adam;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.InputStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/// The seed program end to end on the JVM backend: MNISTNet learns Fashion-MNIST, its saved
/// weights reload into a fresh model with identical predictions, and a run resumed from its
/// checkpoint ends exactly where the uninterrupted run ends.
class MnistTrainTest {
    static final Path DEBIAN = Path.of("/usr/share/datasets/fashion-mnist");

    Backend before;

    @BeforeEach void jvmBackend() {
        before = Kiln.backend();
        Kiln.setBackend(Backend.named("jvm"));
    }

    @AfterEach void restoreBackend() { Kiln.setBackend(before); }

    /// 4,000 training images, one epoch (63 steps of Adam): measured 0.777 on the first 2,000 test
    /// images. The bound leaves room for other kernels' rounding, not for a broken step: a model
    /// that learns nothing scores 0.1, and a wrong gradient or update rule far below 0.7.
    @Test void learnsFashionMnistThenReloadsWithIdenticalPredictions(@TempDir Path dir) {
        boolean present = Files.isDirectory(DEBIAN);
        if (!present) System.err.println("SKIPPED: " + DEBIAN + " is missing; install the Debian package dataset-fashion-mnist");
        Assumptions.assumeTrue(present, DEBIAN + " is missing; install the Debian package dataset-fashion-mnist");
        Dataset<Example> train = FashionMnist.train(DEBIAN).slice(0, 4000), test = FashionMnist.test(DEBIAN).slice(0, 2000);

        Kiln.manualSeed(0);
        var model = new MnistNet();
        var optimizer = new Adam(model.parameters(), 1e-3);
        var loader = new DataLoader<>(train, 64, true);
        StringWriter log = new StringWriter();
        try (var progress = new Progress("epoch 1", loader.batchCount(), new PrintWriter(log), false)) {
            Train.trainEpoch(model, new CrossEntropyLoss(), optimizer, loader, progress);
        }
        System.out.print(log);
        assertEquals(63, optimizer.stepCount());
        long[] predictions = Train.predict(model, test);
        double accuracy = Train.accuracy(predictions, test);
        System.out.println("accuracy on 2,000 test images after one epoch on 4,000: " + accuracy);
        assertTrue(accuracy > 0.7, "accuracy " + accuracy);

        Path weights = dir.resolve("mnist.safetensors");
        Kiln.save(model.stateDict(), weights);
        Kiln.manualSeed(1);
        var fresh = new MnistNet();
        assertFalse(Arrays.equals(predictions, Train.predict(fresh, test)), "an untrained model predicts differently");
        fresh.loadStateDict(Kiln.load(weights));
        assertArrayEquals(predictions, Train.predict(fresh, test));
        Tensor x = Tensor.of(new float[1][1][28][28]);
        try (var _ = Kiln.noGrad()) {
            assertArrayEquals(model.forward(x).toFloatArray(), fresh.forward(x).toFloatArray(), 0f);
        }
    }

    /// The embedded subset in a directory of its own (500 test images: a quick evaluation).
    static Path embeddedData(Path dir) throws Exception {
        Files.createDirectories(dir);
        for (String f : List.of("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"))
            try (InputStream in = FashionMnist.class.getResourceAsStream("/dev/kiln/data/fashion-mnist-subset/" + f)) {
                Files.copy(in, dir.resolve(f));
            }
        return dir;
    }

    @Test void theProgramResumesFromItsCheckpointExactly(@TempDir Path dir) throws Exception {
        String data = embeddedData(dir.resolve("data")).toString();
        for (String mode : List.of("eager", "compiled")) {
            List<String> common = List.of("--data", data, "--subset", "320");
            if (mode.equals("compiled")) common = List.of("--data", data, "--subset", "320", "--compiled");
            String whole = run(args(common, "--epochs", "2", "--out", dir.resolve(mode + "-whole").toString()));
            String first = run(args(common, "--epochs", "1", "--out", dir.resolve(mode + "-split").toString()));
            String rest = run(args(common, "--epochs", "2", "--resume", "--out", dir.resolve(mode + "-split").toString()));
            assertTrue(whole.contains("backend: jvm, " + (mode.equals("compiled") ? "compiled train step" : "eager loop")), whole);
            assertTrue(whole.contains("320 training and 500 test images"), whole);
            assertFalse(first.contains("epoch 2"), first);
            assertTrue(rest.contains("resumed from " + dir.resolve(mode + "-split").resolve("checkpoint.safetensors") + ": epoch 2, batch 0, step 5"), rest);
            assertFalse(rest.contains("epoch 1"), rest);
            assertEquals(line(whole, "epoch 1: test accuracy"), line(first, "epoch 1: test accuracy"));
            assertEquals(mean(line(whole, "epoch 2: 5 batches")), mean(line(rest, "epoch 2: 5 batches")));
            assertEquals(line(whole, "epoch 2: test accuracy"), line(rest, "epoch 2: test accuracy"));
            assertTrue(rest.contains("same predictions: true"), rest);
        }
    }

    /// Runs `Train.main`, returning what it printed (and echoing it).
    static String run(String... args) throws Exception {
        java.io.PrintStream old = System.out;
        var buf = new java.io.ByteArrayOutputStream();
        System.setOut(new java.io.PrintStream(buf, true, java.nio.charset.StandardCharsets.UTF_8));
        try {
            Train.main(args);
        } finally {
            System.setOut(old);
        }
        String out = buf.toString(java.nio.charset.StandardCharsets.UTF_8);
        old.print(out);
        return out;
    }

    static String[] args(List<String> common, String... more) {
        List<String> all = new java.util.ArrayList<>(common);
        all.addAll(List.of(more));
        return all.toArray(String[]::new);
    }

    /// The first line starting with `prefix`, without its timing in parentheses.
    static String line(String out, String prefix) {
        return out.lines().filter(l -> l.startsWith(prefix)).findFirst()
                .orElseThrow(() -> new AssertionError("no line '" + prefix + "' in\n" + out))
                .replaceAll(" \\([0-9.]+ s\\)", "");
    }

    /// The mean loss of an epoch summary line (its time and rate vary between runs).
    static String mean(String summary) { return summary.substring(summary.indexOf("mean loss")); }
}
