package dev.kiln.cli;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import dev.kiln.runtime.DType;
import dev.kiln.runtime.NdArray;
import dev.kiln.runtime.Rng;

/// The files under `examples/ir/` and how the sample inputs of `mlp.kir` in `examples/ir/data/`
/// are made: each array is a pure function of a fixed stream number (the counter-based `Rng`),
/// so they can be made again bit for bit (`ExamplesTest` checks the files against this).
final class Examples {
    private Examples() {}

    /// `examples/ir` of this checkout (tests run in the module directory).
    static Path dir() {
        for (Path p = Path.of("").toAbsolutePath(); p != null; p = p.getParent()) {
            Path candidate = p.resolve("examples/ir");
            if (Files.isDirectory(candidate)) return candidate;
        }
        throw new IllegalStateException("examples/ir not found above " + Path.of("").toAbsolutePath());
    }

    static Path file(String name) { return dir().resolve(name); }

    static Path data() { return dir().resolve("data"); }

    /// Every `.kir` file of the examples, sorted.
    static List<Path> kirFiles() {
        try (Stream<Path> s = Files.list(dir())) {
            return s.filter(p -> p.toString().endsWith(".kir")).sorted().toList();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static final int BATCH = 4;

    /// The sample inputs of `mlp.kir`, by parameter name: a batch of 4 "images" with pixels in
    /// [0, 1), their classes, and weights drawn as PyTorch's `nn.Linear` draws them (uniform in
    /// ±1/sqrt(fan_in)).
    static Map<String, NdArray> mlpInputs() {
        Map<String, NdArray> m = new LinkedHashMap<>();
        m.put("x", uniform(1, 0, 1, BATCH, 784));
        NdArray target = NdArray.zeros(DType.I64, BATCH);
        for (int i = 0; i < BATCH; i++) target.setLong(i, (long) (Rng.uniform(2, i) * 10));
        m.put("target", target);
        double b1 = 1 / Math.sqrt(784), b2 = 1 / Math.sqrt(128);
        m.put("fc1.weight", uniform(3, -b1, b1, 128, 784));
        m.put("fc1.bias", uniform(4, -b1, b1, 128));
        m.put("fc2.weight", uniform(5, -b2, b2, 10, 128));
        m.put("fc2.bias", uniform(6, -b2, b2, 10));
        return m;
    }

    private static NdArray uniform(long stream, double lo, double hi, int... shape) {
        NdArray a = NdArray.zeros(DType.F32, shape);
        for (int i = 0; i < a.size(); i++) a.setDouble(i, lo + (hi - lo) * Rng.uniform(stream, i));
        return a;
    }

    /// The MLP of `mlp.kir` computed directly in double, independently of the IR: the loss and
    /// the logits [B,10] (row-major).
    static double[] mlpLossAndLogits(Map<String, NdArray> in, double[] logitsOut) {
        NdArray x = in.get("x"), t = in.get("target"), w1 = in.get("fc1.weight"), b1 = in.get("fc1.bias");
        NdArray w2 = in.get("fc2.weight"), b2 = in.get("fc2.bias");
        int batch = x.dim(0);
        double loss = 0;
        for (int n = 0; n < batch; n++) {
            double[] h = new double[128];
            for (int j = 0; j < 128; j++) {
                double s = b1.getDouble(j);
                for (int k = 0; k < 784; k++) s += x.getDouble(n * 784 + k) * w1.getDouble(j * 784 + k);
                h[j] = Math.max(0, s);
            }
            double[] z = new double[10];
            double max = Double.NEGATIVE_INFINITY;
            for (int c = 0; c < 10; c++) {
                double s = b2.getDouble(c);
                for (int j = 0; j < 128; j++) s += h[j] * w2.getDouble(c * 128 + j);
                z[c] = s;
                max = Math.max(max, s);
                logitsOut[n * 10 + c] = s;
            }
            double sum = 0;
            for (double v : z) sum += Math.exp(v - max);
            loss += Math.log(sum) + max - z[(int) t.getLong(n)];
        }
        return new double[] {loss / batch};
    }
}
