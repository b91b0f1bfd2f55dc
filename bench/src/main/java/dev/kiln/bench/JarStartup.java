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
/// started fresh (`java -jar`, wall clock of the whole process, median of `runs`): plain, with
/// the vector module, with an AOT cache (JDK 25's `-XX:AOTCache`, written by one training
/// run), optionally on another runtime (a jlink image with java.base only), and loaded into a
/// running JVM (class loader to written output). Prints a Markdown table.
/// `java -cp ... dev.kiln.bench.JarStartup OUT_DIR [runs] [java of a bare runtime]`
public final class JarStartup {
    public static void main(String[] args) throws Exception {
        Path out = Files.createDirectories(Path.of(args.length > 0 ? args[0] : "jar-startup"));
        int runs = args.length > 1 ? Integer.parseInt(args[1]) : 7;
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        String bare = args.length > 2 ? args[2] : null;    // e.g. a jlink image with java.base only
        System.out.printf("median of %d runs, milliseconds from process start to exit (output written)%n%n", runs);
        System.out.println("| model | jar bytes | of which weights | java -jar | + vector module | + AOT cache | java.base-only JRE | in a running JVM |");
        System.out.println("|---|---:|---:|---:|---:|---:|---:|---:|");
        for (var m : List.of(Map.entry("mlp", mlp()), Map.entry("mnist", MnistNet.forward()))) {
            Graph g = m.getValue();
            List<NdArray> inputs = m.getKey().equals("mnist") ? MnistNet.inputs(1, 7) : mlpInputs();
            Map<String, NdArray> weights = new LinkedHashMap<>();
            for (int i = 1; i < g.params().size(); i++) weights.put(g.paramNames().get(i), inputs.get(i));
            Path jar = out.resolve(m.getKey() + ".jar");
            // MnistNet's graph is written fused already (as the fusion pass groups it)
            JarExporter.Exported e = JarExporter.export(g, weights, jar, JarExporter.Options.named(JarExporter.defaultClassName(jar))
                    .withOptimize(!m.getKey().equals("mnist")));
            long weightBytes = 0;
            for (NdArray w : weights.values()) weightBytes += (long) w.size() * w.dtype().byteSize();
            Path x = out.resolve(m.getKey() + "-x.npy"), y = out.resolve(m.getKey() + "-y.npy");
            Npy.write(x, inputs.getFirst());
            String[] run = {"-jar", jar.toString(), "--input", x.toString(), "--output", y.toString()};
            double plain = median(runs, java, List.of(), run);
            double vector = median(runs, java, List.of("--add-modules", "jdk.incubator.vector"), run);
            Path aot = out.resolve(m.getKey() + ".aot");
            Files.deleteIfExists(aot);
            median(1, java, List.of("-XX:AOTCacheOutput=" + aot), run);          // a training run writes the cache
            double cached = median(runs, java, List.of("-XX:AOTCache=" + aot), run);
            double base = bare == null ? Double.NaN : median(runs, bare, List.of(), run);
            System.out.printf("| %s | %,d | %,d | %.0f | %.0f | %.0f | %s | %.0f |%n", m.getKey(), e.bytes(), weightBytes, plain, vector, cached,
                    Double.isNaN(base) ? "-" : String.format("%.0f", base), inProcess(jar, x, y));
        }
        String here = Path.of(JarStartup.class.getProtectionDomain().getCodeSource().getLocation().toURI()).toString();
        System.out.printf("%nA hello-world class on the same JVM, for scale: %.0f ms%n",
                median(runs, java, List.of(), new String[]{"-cp", here, Hello.class.getName()}));
    }

    /// The JVM's own start and exit, for scale.
    public static final class Hello {
        public static void main(String[] args) { System.out.println("hello"); }
    }

    static double median(int runs, String java, List<String> jvmOptions, String[] args) throws Exception {
        double[] t = new double[runs];
        for (int i = 0; i < runs; i++) {
            List<String> cmd = new ArrayList<>(List.of(java));
            cmd.addAll(jvmOptions);
            cmd.addAll(List.of(args));
            ProcessBuilder pb = new ProcessBuilder(cmd).redirectOutput(ProcessBuilder.Redirect.DISCARD)
                    .redirectError(ProcessBuilder.Redirect.DISCARD);
            long s = System.nanoTime();
            int code = pb.start().waitFor();
            t[i] = (System.nanoTime() - s) / 1e6;
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
