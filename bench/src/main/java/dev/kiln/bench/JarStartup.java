package dev.kiln.bench;

import dev.kiln.codegen.jvm.jar.JarExporter;
import dev.kiln.ir.Axes;
import dev.kiln.ir.Builder;
import dev.kiln.ir.Graph;
import dev.kiln.ir.Value;
import dev.kiln.runtime.NdArray;
import dev.kiln.runtime.Npy;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static dev.kiln.ir.TensorType.f32;

/// Size and time to first result of standalone jars, for `bench/RESULTS.md`: a 784-128-10 MLP
/// and MNISTNet, exported with random weights; each jar answers one image from a `.npy` file,
/// started fresh (`java -jar`, wall clock of the whole process, median of `runs`) with and
/// without the vector module, and loaded into a running JVM (class loader to written output).
/// `java -cp ... dev.kiln.bench.JarStartup OUT_DIR [runs] [java of another runtime...]`
public final class JarStartup {
    public static void main(String[] args) throws Exception {
        Path out = Files.createDirectories(Path.of(args.length > 0 ? args[0] : "jar-startup"));
        int runs = args.length > 1 ? Integer.parseInt(args[1]) : 7;
        List<String> javas = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString()));
        for (int i = 2; i < args.length; i++) javas.add(args[i]);
        System.out.printf("model   jar bytes   weights bytes   export ms   java -jar ms (median of %d)%n", runs);
        for (var m : List.of(Map.entry("mlp", mlp()), Map.entry("mnist", MnistNet.forward()))) {
            Graph g = m.getValue();
            List<NdArray> inputs = m.getKey().equals("mnist") ? MnistNet.inputs(1, 7) : mlpInputs();
            Map<String, NdArray> weights = new LinkedHashMap<>();
            for (int i = 1; i < g.params().size(); i++) weights.put(g.paramNames().get(i), inputs.get(i));
            Path jar = out.resolve(m.getKey() + ".jar");
            long t0 = System.nanoTime();
            // MnistNet's graph is written fused already (as the fusion pass groups it)
            JarExporter.Exported e = JarExporter.export(g, weights, jar, JarExporter.Options.named(JarExporter.defaultClassName(jar))
                    .withOptimize(!m.getKey().equals("mnist")));
            double exportMs = (System.nanoTime() - t0) / 1e6;
            long weightBytes = 0;
            for (NdArray w : weights.values()) weightBytes += (long) w.size() * w.dtype().byteSize();
            Path x = out.resolve(m.getKey() + "-x.npy"), y = out.resolve(m.getKey() + "-y.npy");
            Npy.write(x, inputs.getFirst());
            StringBuilder times = new StringBuilder();
            for (String java : javas) {
                times.append(String.format("  %s: %.0f scalar", java, median(runs, java, false, jar, x, y)));
                double v = median(runs, java, true, jar, x, y);
                times.append(Double.isNaN(v) ? ", vector n/a" : String.format(", %.0f vector", v));
            }
            System.out.printf("%-6s %10d %15d %11.0f %s%n", m.getKey(), e.bytes(), weightBytes, exportMs, times);
            System.out.printf("       in a running JVM: first result %.1f ms, second jar load %.1f ms%n", inProcess(jar, x, y),
                    inProcess(jar, x, y));
        }
    }

    static double median(int runs, String java, boolean vector, Path jar, Path x, Path y) throws Exception {
        double[] t = new double[runs];
        for (int i = 0; i < runs; i++) {
            List<String> cmd = new ArrayList<>(List.of(java));
            if (vector) cmd.addAll(List.of("--add-modules", "jdk.incubator.vector"));
            cmd.addAll(List.of("-jar", jar.toString(), "--input", x.toString(), "--output", y.toString()));
            ProcessBuilder pb = new ProcessBuilder(cmd).redirectOutput(ProcessBuilder.Redirect.DISCARD)
                    .redirectError(ProcessBuilder.Redirect.DISCARD);
            long s = System.nanoTime();
            int code = pb.start().waitFor();
            t[i] = (System.nanoTime() - s) / 1e6;
            if (code != 0 && vector) return Double.NaN; // a runtime without the module
            if (code != 0) throw new IllegalStateException(String.join(" ", cmd) + " exited with " + code);
        }
        Arrays.sort(t);
        return t[runs / 2];
    }

    /// Milliseconds from a fresh class loader on the jar to the output written, in this JVM.
    static double inProcess(Path jar, Path x, Path y) throws Exception {
        long s = System.nanoTime();
        try (URLClassLoader l = new URLClassLoader(new URL[]{jar.toUri().toURL()}, ClassLoader.getPlatformClassLoader())) {
            String main;
            try (var jf = new java.util.jar.JarFile(jar.toFile())) {
                main = jf.getManifest().getMainAttributes().getValue("Main-Class");
            }
            StringWriter sink = new StringWriter();
            int code = (Integer) l.loadClass(main).getMethod("cli", String[].class, PrintWriter.class, PrintWriter.class)
                    .invoke(null, new String[]{"--input", x.toString(), "--output", y.toString()}, new PrintWriter(sink), new PrintWriter(sink));
            if (code != 0) throw new IllegalStateException(sink.toString());
        }
        return (System.nanoTime() - s) / 1e6;
    }

    static Graph mlp() {
        Builder b = new Builder();
        Value x = b.param("x", f32("B", 784));
        Value w1 = b.param("fc1.weight", f32(128, 784)), b1 = b.param("fc1.bias", f32(128));
        Value w2 = b.param("fc2.weight", f32(10, 128)), b2 = b.param("fc2.bias", f32(10));
        Value h = b.relu(b.add(b.matmul(x, b.transpose(w1, Axes.of(1, 0))), b.broadcast(b1, Axes.of(1), f32("B", 128))));
        return b.build("mlp", b.add(b.matmul(h, b.transpose(w2, Axes.of(1, 0))), b.broadcast(b2, Axes.of(1), f32("B", 10))));
    }

    static List<NdArray> mlpInputs() {
        java.util.Random r = new java.util.Random(7);
        return List.of(MnistNet.uniform(r, 1, 1, 784), MnistNet.uniform(r, 1 / 28.0, 128, 784), MnistNet.uniform(r, 1 / 28.0, 128),
                MnistNet.uniform(r, 1 / Math.sqrt(128), 10, 128), MnistNet.uniform(r, 1 / Math.sqrt(128), 10));
    }
}
