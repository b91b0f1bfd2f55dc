package dev.kiln.cli;

import dev.kiln.Kiln;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.InputStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.*;

/// `kiln demo` on the embedded Fashion-MNIST subset (copied to a directory given with --data, so
/// that the test does not depend on what the machine has installed).
class DemoCommandTest {
    record Result(int code, String out, String err) {}

    static Result run(String... args) {
        StringWriter out = new StringWriter(), err = new StringWriter();
        int code = Main.run(Main.commandLine(new PrintWriter(out, true), new PrintWriter(err, true)), args);
        return new Result(code, out.toString(), err.toString());
    }

    static Path embeddedData(Path dir) throws Exception {
        for (String f : List.of("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"))
            try (InputStream in = DemoCommandTest.class.getResourceAsStream("/dev/kiln/data/fashion-mnist-subset/" + f)) {
                Files.copy(in, dir.resolve(f));
            }
        return dir;
    }

    @Test void trainsReportsAccuracyAndWritesTheModel(@TempDir Path tmp) throws Exception {
        Path data = embeddedData(Files.createDirectory(tmp.resolve("data"))), out = tmp.resolve("out");
        Result r = run("demo", "--epochs", "2", "--subset", "640", "--data", data.toString(), "--out", out.toString());
        System.out.print(r.out());
        assertEquals(0, r.code(), r.err() + r.out());
        assertTrue(r.out().startsWith("kiln demo: MNISTNet on Fashion-MNIST, 2 epochs, compiled train step, jvm backend"), r.out());
        assertTrue(r.out().contains("\ndata: " + data + ", 640 training and 500 test images\n"), r.out());
        assertTrue(r.out().contains("epoch 1: 10 batches, 640 images in "), r.out());
        // Measured: 0.648 after one epoch, 0.700 after two (10 steps of 64 each).
        double first = accuracy(r.out(), 1), second = accuracy(r.out(), 2);
        assertTrue(first > 0.55 && second > 0.6, r.out());
        Path model = out.resolve("mnist.safetensors");
        var state = Kiln.load(model);
        assertEquals(List.of("conv1.weight", "conv1.bias", "conv2.weight", "conv2.bias", "fc.weight", "fc.bias"), List.copyOf(state.keySet()));
        var net = new DemoCommand.MnistNet();
        net.loadStateDict(state);
        assertEquals(second, DemoCommand.accuracy(net, dev.kiln.data.FashionMnist.test(data), dev.kiln.Device.cpu()), 0.0);
        assertTrue(r.out().contains("model: " + model + " (50,186 parameters"), r.out());

        // The jar computes what the model computes, on the sample images written beside it.
        Path jar = out.resolve("mnist.jar"), images = out.resolve("test-images.npy"), logits = tmp.resolve("logits.npy");
        assertTrue(r.out().contains("\njar: " + jar + " ("), r.out());
        assertTrue(r.out().contains("  try it: java -jar " + jar + " --input " + images + " --output logits.npy"), r.out());
        Result ran = run("run", jar.toString(), "--input", images.toString(), "--output", logits.toString());
        assertEquals(0, ran.code(), ran.err());
        var x = dev.kiln.runtime.Npy.read(images);
        assertArrayEquals(new int[] {10, 1, 28, 28}, x.shape());
        float[] expected;
        try (var _ = Kiln.noGrad()) {
            expected = net.forward(dev.kiln.Tensor.of(x)).toFloatArray();
        }
        float[] got = (float[]) dev.kiln.runtime.Npy.read(logits).data();
        assertArrayEquals(expected, got, 1e-4f);

        // The traced graph is saved, and the dump command the demo prints draws it.
        Path kir = out.resolve("ir").resolve("model.kir"), html = out.resolve("mnist.html");
        assertTrue(r.out().contains("\nir: " + kir + " ("), r.out());
        String dump = "./kiln dump " + kir + " --grad conv1.weight,conv1.bias,conv2.weight,conv2.bias,fc.weight,fc.bias -o " + html;
        assertTrue(r.out().contains(dump), r.out());
        Result drawn = run(dump.substring("./kiln ".length()).split(" "));
        assertEquals(0, drawn.code(), drawn.err());
        assertTrue(Files.readString(html).contains("grad_out"), "the page draws the backward graph too (its cotangent parameter)");
    }

    static double accuracy(String out, int epoch) {
        Matcher m = Pattern.compile("epoch " + epoch + ": test accuracy ([0-9.]+)").matcher(out);
        assertTrue(m.find(), out);
        return Double.parseDouble(m.group(1));
    }

    @Test void badOptionsAreOneLineErrors(@TempDir Path tmp) {
        Result r = run("demo", "--compiled", "--eager");
        assertEquals(Main.EXIT_USAGE, r.code());
        assertTrue(r.err().startsWith("kiln: error: error: --compiled, --eager are mutually exclusive"), r.err());
        r = run("demo", "--epochs", "0");
        assertEquals(Main.EXIT_ERROR, r.code());
        assertEquals("kiln: error: --epochs must be at least 1, got 0\n", r.err());
        r = run("demo", "--data", tmp.toString());
        assertEquals(Main.EXIT_ERROR, r.code());
        assertTrue(r.err().startsWith("kiln: error: no Fashion-MNIST training files in " + tmp + ": missing train-images-idx3-ubyte(.gz)"), r.err());
        assertEquals(1, r.err().lines().count(), r.err());
    }
}
