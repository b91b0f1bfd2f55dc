package dev.kiln.codegen.cuda;

import dev.kiln.codegen.cuda.rt.CudaJarMain;
import dev.kiln.codegen.cuda.rt.CudaPlan;
import dev.kiln.ir.Graph;
import dev.kiln.ir.TensorType;
import dev.kiln.runtime.DType;
import dev.kiln.runtime.NdArray;
import dev.kiln.runtime.Npy;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.jar.JarFile;

import static org.junit.jupiter.api.Assertions.*;

/// A CUDA jar holds the PTX, the plan, the weights and constants, Kiln's runtime, the CUDA run
/// time and JCuda, and nothing of the compiler; all its classes resolve within the jar and the
/// JDK; a JVM started on the jar alone gets as far as looking for a GPU (here: none, one line,
/// exit 1); a damaged plan is one line too.
class CudaJarTest {
    @TempDir static Path dir;
    static Path jar;
    static CudaJar.Exported exported;
    static Graph graph;

    @BeforeAll static void export() {
        graph = Graphs.fuse(Models.inference());
        Map<String, NdArray> weights = new LinkedHashMap<>();
        for (int i = 0; i < Models.PARAMS.length; i++) {
            TensorType t = Models.PARAM_TYPES[i];
            int[] shape = new int[t.rank()];
            for (int d = 0; d < shape.length; d++) shape[d] = (int) t.dim(d).size();
            weights.put(Models.PARAMS[i], NdArray.zeros(DType.F32, shape));
        }
        jar = dir.resolve("mnist.jar");
        exported = CudaJar.export(graph, weights, jar);
    }

    @Test void holdsTheGeneratedCodeWeightsAndRuntimeOnly() throws Exception {
        List<String> entries = new ArrayList<>();
        try (JarFile jf = new JarFile(jar.toFile())) {
            for (var e : Collections.list(jf.entries())) entries.add(e.getName());
            assertEquals(CudaJarMain.class.getName(), jf.getManifest().getMainAttributes().getValue("Main-Class"));
            CudaPlan plan = CudaPlan.parse(new String(jf.getInputStream(jf.getEntry(CudaJarMain.PLAN)).readAllBytes(), StandardCharsets.UTF_8), "plan");
            assertEquals(CudaBackend.plan(CudaBackend.ptx(graph), graph).withWeights(java.util.Set.of(Models.PARAMS)), plan);
            assertEquals(CudaBackend.ptx(graph).ptx(), new String(jf.getInputStream(jf.getEntry(CudaJarMain.PTX)).readAllBytes(), StandardCharsets.UTF_8));
        }
        for (String e : List.of(CudaJarMain.PTX, CudaJarMain.PLAN, CudaJarMain.WEIGHTS, CudaJarMain.CONSTANTS, CudaJar.NATIVE,
                "dev/kiln/codegen/cuda/rt/CudaPlanExecutable.class", "dev/kiln/runtime/NdArray.class", "jcuda/driver/JCudaDriver.class"))
            assertTrue(entries.contains(e), e);
        for (String e : entries) {
            if (e.endsWith("/") || e.startsWith("META-INF/") || e.startsWith("kiln/") || e.equals(CudaJar.NATIVE)) continue;
            assertTrue(e.endsWith(".class"), e);
            assertTrue(e.startsWith("dev/kiln/runtime/") || e.startsWith("dev/kiln/codegen/cuda/rt/") || e.startsWith("jcuda/"), "not run-time code: " + e);
        }
        assertEquals(List.of(), entries.stream().filter(e -> e.startsWith("kiln/")).filter(e -> !List.of(CudaJarMain.PTX, CudaJarMain.PLAN,
                CudaJarMain.WEIGHTS, CudaJarMain.CONSTANTS).contains(e)).toList());
        assertEquals(entries.stream().filter(e -> !e.startsWith("META-INF/")).toList(), exported.entries());
    }

    /// `jdeps` finds every class the jar's classes use in the jar or in the JDK.
    @Test void everyClassItUsesIsInTheJarOrTheJdk() throws Exception {
        Process p = new ProcessBuilder(tool("jdeps"), "--multi-release", "25", "--missing-deps", jar.toString()).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(0, p.waitFor(), out);
        assertEquals("", out.strip(), "classes the jar needs but lacks");
    }

    @Test void aFreshJvmOnTheJarAloneReachesTheGpuCheck() throws Exception {
        org.junit.jupiter.api.Assumptions.assumeFalse(CudaBackend.available(), "a GPU is usable here (the GPU suite runs the jar)");
        Path x = dir.resolve("x.npy");
        Npy.write(x, NdArray.zeros(DType.F32, 2, 1, 28, 28));
        Run help = java("-cp", jar.toString(), CudaJarMain.class.getName(), "--help");
        assertEquals(0, help.code(), help.err());
        assertEquals("usage: java -jar <this jar> --input [NAME=]FILE.npy ... [--output [NAME=]FILE.npy ...]\n"
                + "runs @mnist_inference on the GPU (CUDA driver needed; no GPU: an error)\ninputs:\n  x f32[B,1,28,28]\noutputs:\n  output0 f32[B,10]\n", help.out());
        Run r = java("-jar", jar.toString(), "--input", x.toString());
        assertEquals(1, r.code(), r.err());
        assertEquals("error: this jar runs on a GPU, and none is usable here: " + CudaBackend.unavailableReason() + "\n", r.err());
        assertEquals("", r.out());
    }

    @Test void aDamagedPlanIsOneLine() throws Exception {
        Path bad = dir.resolve("bad.jar");
        try (JarFile in = new JarFile(jar.toFile());
             var out = new java.util.jar.JarOutputStream(java.nio.file.Files.newOutputStream(bad), in.getManifest())) {
            for (var e : Collections.list(in.entries())) {
                if (e.getName().equals("META-INF/MANIFEST.MF")) continue;
                out.putNextEntry(new java.util.jar.JarEntry(e.getName()));
                byte[] b = in.getInputStream(e).readAllBytes();
                if (e.getName().equals(CudaJarMain.PLAN)) b = new String(b, StandardCharsets.UTF_8).replace("dtype=f32", "dtype=f99").getBytes(StandardCharsets.UTF_8);
                out.write(b);
                out.closeEntry();
            }
        }
        Run r = java("-jar", bad.toString(), "--help");
        assertEquals(1, r.code(), r.err());
        assertEquals("error: kiln/plan.txt:4: unknown dtype 'f99'\n", r.err());
    }

    record Run(int code, String out, String err) {}

    static Run java(String... args) throws Exception {
        List<String> cmd = new ArrayList<>(List.of(tool("java")));
        cmd.addAll(List.of(args));
        Process p = new ProcessBuilder(cmd).start();
        var err = java.util.concurrent.CompletableFuture.supplyAsync(() -> {
            try {
                return new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
            } catch (java.io.IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        });
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        return new Run(p.waitFor(), out, err.get());
    }

    static String tool(String name) { return Path.of(System.getProperty("java.home"), "bin", name).toString(); }
}
