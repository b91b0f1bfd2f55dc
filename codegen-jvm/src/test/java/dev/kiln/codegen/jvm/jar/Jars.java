package dev.kiln.codegen.jvm.jar;

import dev.kiln.codegen.jvm.rt.Gemm;
import dev.kiln.ir.Graph;
import dev.kiln.ir.Value;
import dev.kiln.ir.text.Parser;
import dev.kiln.runtime.DType;
import dev.kiln.runtime.NdArray;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;

/// Test helpers: the example graphs, random tensors, and a `java -jar` in a fresh JVM.
final class Jars {
    private Jars() {}

    static Graph graph(String resource) {
        try (InputStream in = Jars.class.getResourceAsStream("/export/" + resource)) {
            return Parser.parse(new String(in.readAllBytes(), StandardCharsets.UTF_8), resource);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /// Uniform in [-bound, bound) for floats, [0, 4) for integers.
    static NdArray random(DType d, Random r, double bound, int... shape) {
        NdArray a = NdArray.zeros(d, shape);
        for (int i = 0; i < a.size(); i++) {
            if (d.isFloat()) a.setDouble(i, (r.nextDouble() * 2 - 1) * bound);
            else a.setLong(i, r.nextInt(4));
        }
        return a;
    }

    /// Random values for every parameter of `g` except `inputs`, scaled by fan-in.
    static Map<String, NdArray> weights(Graph g, List<String> inputs, long seed) {
        Random r = new Random(seed);
        Map<String, NdArray> w = new LinkedHashMap<>();
        for (Value p : g.params()) {
            String name = g.paramNames().get(g.params().indexOf(p));
            if (inputs.contains(name)) continue;
            int[] shape = p.type().shape().resolve(Map.of());
            int fanIn = 1;
            for (int d = 1; d < shape.length; d++) fanIn *= shape[d];
            w.put(name, random(p.type().dtype(), r, 1 / Math.sqrt(Math.max(1, fanIn)), shape));
        }
        return w;
    }

    record Run(int code, String out, String err) {
        /// Stderr without the JVM's notice that an incubator module is in use.
        String errLines() {
            return err.lines().filter(l -> !l.startsWith("WARNING: Using incubator modules")).reduce("", (a, b) -> a + b + "\n");
        }
    }

    /// The java launcher of the JVM running the tests.
    static String java() { return Path.of(System.getProperty("java.home"), "bin", "java").toString(); }

    /// `java [--add-modules jdk.incubator.vector] -jar jar args...` in a fresh JVM: with the
    /// vector module exactly when this JVM uses it, so both run the same GEMM kernel.
    static Run runJar(Path jar, boolean sameKernels, String... args) { return runJar(List.of(), jar, sameKernels, args); }

    /// As `runJar(jar, sameKernels, args)`, with `jvmOptions` (e.g. `-Dkiln.threads=2`) before `-jar`.
    static Run runJar(List<String> jvmOptions, Path jar, boolean sameKernels, String... args) {
        List<String> cmd = new ArrayList<>(List.of(java()));
        if (sameKernels && Gemm.kernelName().equals("vector")) cmd.addAll(List.of("--add-modules", "jdk.incubator.vector"));
        cmd.addAll(jvmOptions);
        cmd.addAll(List.of("-Xshare:auto", "-jar", jar.toString()));
        cmd.addAll(List.of(args));
        return exec(cmd, jar.getParent());
    }

    static Run exec(List<String> cmd, Path dir) {
        try {
            // files, not pipes: a child that fills one pipe while we read the other would hang
            Path out = Files.createTempFile(dir, "stdout", ".txt"), err = Files.createTempFile(dir, "stderr", ".txt");
            ProcessBuilder pb = new ProcessBuilder(cmd).directory(dir.toFile()).redirectOutput(out.toFile()).redirectError(err.toFile());
            pb.environment().remove("JAVA_TOOL_OPTIONS");
            pb.environment().remove("JDK_JAVA_OPTIONS");
            Process p = pb.start();
            p.getOutputStream().close();
            if (!p.waitFor(120, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new AssertionError("timed out: " + cmd);
            }
            Run r = new Run(p.exitValue(), Files.readString(out), Files.readString(err));
            Files.delete(out);
            Files.delete(err);
            return r;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError(e);
        }
    }
}
