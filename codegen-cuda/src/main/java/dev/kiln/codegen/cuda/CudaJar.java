package dev.kiln.codegen.cuda;

import dev.kiln.codegen.cuda.rt.CudaJarMain;
import dev.kiln.codegen.cuda.rt.CudaPlan;
import dev.kiln.ir.Graph;
import dev.kiln.passes.lower.Lower;
import dev.kiln.runtime.AtomicFiles;
import dev.kiln.runtime.NdArray;
import dev.kiln.runtime.SafeTensors;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.jar.Attributes;
import java.util.jar.JarEntry;
import java.util.jar.JarFile;
import java.util.jar.JarOutputStream;
import java.util.jar.Manifest;
import java.util.stream.Stream;

/// A standalone jar that runs a graph on the GPU: `java -jar model.jar --input x.npy`.
///
/// It holds, under `kiln/`: `model.ptx` (the PTX module `PtxGen` makes of the graph after the
/// passes and fusion: `.version 8.0`, `.target sm_80`, loaded and JIT-compiled by the driver for
/// the card it meets), `plan.txt` (the `CudaPlan`: parameters, results, buffers and launches, each
/// size an expression over the dimension symbols), `weights.safetensors` (the graph parameters
/// stored with it; the others are the jar's inputs) and `constants.safetensors` (the graph's
/// constants). To run them it carries Kiln's
/// `runtime` classes, the CUDA run-time classes (`dev.kiln.codegen.cuda.rt`: the plan, its
/// executor, the jar's command line), JCuda's classes and JCuda's driver binding
/// (`lib/libJCudaDriver-12.0.0-linux-x86_64.so`, loaded by JCuda from the jar); no IR, passes or
/// code generator. The GPU machine needs only a Java 25 runtime and the CUDA driver
/// (`libcuda.so.1`). Invariant: the jar is written whole (to a temporary name, then renamed) or
/// not at all.
public final class CudaJar {
    private CudaJar() {}

    static final String NATIVE = "lib/libJCudaDriver-12.0.0-linux-x86_64.so";

    /// What was written: the jar, its size, its entries and the tensors given that no parameter reads.
    public record Exported(Path jar, long bytes, List<String> entries, List<String> unusedTensors) {}

    /// Writes `graph` (already through the passes and fusion) with the parameters that `tensors`
    /// holds (by name; the others become inputs) as a CUDA jar at `jar`. Throws IrError for an op
    /// the CUDA backend cannot lower, IllegalArgumentException for a tensor whose type is not its
    /// parameter's.
    public static Exported export(Graph graph, Map<String, NdArray> tensors, Path jar) {
        Map<String, NdArray> stored = new LinkedHashMap<>();
        for (int i = 0; i < graph.params().size(); i++) {
            String name = graph.paramNames().get(i);
            NdArray a = tensors.get(name);
            if (a == null) continue;
            var want = graph.params().get(i).type();
            boolean fits = a.dtype() == want.dtype() && a.rank() == want.rank();
            for (int d = 0; fits && d < want.rank(); d++) fits = want.dim(d) instanceof dev.kiln.ir.Dim.Fixed(long size) && size == a.dim(d);
            if (!fits)
                throw new IllegalArgumentException("tensor '" + name + "' is " + a.dtype() + java.util.Arrays.toString(a.shape()).replace(" ", "")
                        + ", but parameter %" + name + " is " + want);
            stored.put(name, a);
        }
        List<String> unused = tensors.keySet().stream().filter(k -> !stored.containsKey(k)).toList();
        PtxProgram p = PtxGen.generate(Lower.lower(graph), PtxGen.Options.DEFAULT);
        CudaPlan plan = CudaBackend.plan(p, graph).withWeights(stored.keySet());
        Map<String, NdArray> constants = new LinkedHashMap<>();
        for (int c = 0; c < p.program().constants().size(); c++) constants.put(CudaJarMain.constantName(c), p.program().constants().get(c));
        Map<String, byte[]> files = new TreeMap<>();
        files.put(CudaJarMain.PTX, p.ptx().getBytes(StandardCharsets.UTF_8));
        files.put(CudaJarMain.PLAN, plan.toText().getBytes(StandardCharsets.UTF_8));
        files.put(CudaJarMain.WEIGHTS, SafeTensors.toBytes(stored));
        files.put(CudaJarMain.CONSTANTS, SafeTensors.toBytes(constants));
        Map<String, byte[]> classes = classes();
        Manifest mf = new Manifest();
        mf.getMainAttributes().put(Attributes.Name.MANIFEST_VERSION, "1.0");
        mf.getMainAttributes().put(Attributes.Name.MAIN_CLASS, CudaJarMain.class.getName());
        mf.getMainAttributes().put(new Attributes.Name("Enable-Native-Access"), "ALL-UNNAMED"); // JCuda loads its library
        List<String> entries = new ArrayList<>();
        try {
            AtomicFiles.write(jar, os -> {
                try (JarOutputStream out = new JarOutputStream(os, mf)) {
                    for (var m : List.of(files, classes))
                        for (var e : m.entrySet()) {
                            JarEntry je = new JarEntry(e.getKey());
                            je.setTime(0); // reproducible
                            out.putNextEntry(je);
                            out.write(e.getValue());
                            out.closeEntry();
                            entries.add(e.getKey());
                        }
                }
            });
            return new Exported(jar, Files.size(jar), List.copyOf(entries), unused);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static Map<String, byte[]> cached;

    /// The classes of the packages that running the jar needs: Kiln's runtime, the CUDA run time
    /// (where the jar's main class is) and JCuda.
    static final List<String> PACKAGES = List.of("dev/kiln/runtime/", "dev/kiln/codegen/cuda/rt/", "jcuda/");

    /// The classes of `PACKAGES` and JCuda's driver library.
    private static synchronized Map<String, byte[]> classes() {
        if (cached != null) return cached;
        Map<String, byte[]> out = new TreeMap<>();
        for (Class<?> anchor : List.of(NdArray.class, CudaJarMain.class, jcuda.driver.JCudaDriver.class))
            read(anchor, out);
        out.keySet().removeIf(name -> PACKAGES.stream().noneMatch(name::startsWith));
        out.put(NATIVE, nativeLibrary());
        return cached = out;
    }

    /// JCuda's driver library: from the class path (the `jcuda-natives` jar), else from a folder of
    /// `java.library.path` (where a JCuda installation without that jar keeps it).
    private static byte[] nativeLibrary() {
        try (InputStream in = CudaJar.class.getResourceAsStream("/" + NATIVE)) {
            if (in != null) return in.readAllBytes();
            String file = Path.of(NATIVE).getFileName().toString();
            for (String dir : System.getProperty("java.library.path", "").split(java.io.File.pathSeparator)) {
                Path p = dir.isEmpty() ? null : Path.of(dir, file);
                if (p != null && Files.isRegularFile(p)) return Files.readAllBytes(p);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        throw new IllegalStateException("JCuda's driver library " + file() + " is neither on the class path (the jcuda-natives jar) "
                + "nor in java.library.path");
    }

    private static String file() { return Path.of(NATIVE).getFileName().toString(); }

    /// Every class file of the jar or build folder `anchor` was loaded from.
    private static void read(Class<?> anchor, Map<String, byte[]> out) {
        Path where;
        try {
            where = Path.of(anchor.getProtectionDomain().getCodeSource().getLocation().toURI());
        } catch (URISyntaxException | NullPointerException e) {
            throw new IllegalStateException("cannot tell where " + anchor.getName() + " was loaded from");
        }
        try {
            if (Files.isDirectory(where)) {
                try (Stream<Path> files = Files.walk(where)) {
                    for (Path f : files.filter(CudaJar::isClass).toList())
                        out.put(where.relativize(f).toString().replace('\\', '/'), Files.readAllBytes(f));
                }
            } else {
                try (JarFile jar = new JarFile(where.toFile())) {
                    for (JarEntry e : java.util.Collections.list(jar.entries()))
                        if (isClass(Path.of(e.getName()))) out.put(e.getName(), jar.getInputStream(e).readAllBytes());
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read the classes in " + where + ": " + e.getMessage(), e);
        }
    }

    private static boolean isClass(Path f) {
        String name = f.getFileName() == null ? "" : f.getFileName().toString();
        return name.endsWith(".class") && !name.equals("module-info.class") && !f.toString().contains("META-INF");
    }
}
