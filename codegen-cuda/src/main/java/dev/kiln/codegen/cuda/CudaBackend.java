package dev.kiln.codegen.cuda;

import dev.kiln.ir.Graph;
import dev.kiln.ir.Value;
import dev.kiln.passes.lower.KernelProgram;
import dev.kiln.passes.lower.Lower;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;

/// The CUDA backend: graph -> kernel IR (`Lower`, shared with the JVM backend) -> PTX
/// (`PtxGen`) -> a module loaded through the CUDA driver -> `CudaExecutable`.
///
/// Generating and checking PTX needs no GPU (`ptx`, `dump`); running needs one: `available()`
/// says whether this process can use a GPU, and `unavailableReason()` why not, in one line,
/// so that callers can skip or report cleanly. `compile` on a machine without one throws an
/// `IllegalStateException` carrying that line; it never falls back to the CPU.
public final class CudaBackend {
    private CudaBackend() {}

    public static boolean available() { return CudaDriver.unavailableReason() == null; }

    /// Null when a GPU is usable, else the reason in one line.
    public static String unavailableReason() { return CudaDriver.unavailableReason(); }

    /// The device in use, e.g. `NVIDIA H100 80GB HBM3 (sm_90, 132 SMs)`.
    public static String deviceName() {
        CudaDriver d = CudaDriver.get();
        return d.name + " (sm_" + d.major + d.minor + ", " + d.smCount + " SMs)";
    }

    /// The PTX of `g` and its launches; no GPU needed.
    public static PtxProgram ptx(Graph g) { return ptx(g, PtxGen.Options.DEFAULT); }

    public static PtxProgram ptx(Graph g, PtxGen.Options options) {
        KernelProgram p = Lower.lower(g);
        return PtxGen.generate(p, options);
    }

    /// Compiles `g` for the GPU of this process; throws IrError naming an op that cannot be
    /// lowered, IllegalStateException when there is no GPU.
    public static CudaExecutable compile(Graph g) { return compile(g, PtxGen.Options.DEFAULT); }

    public static CudaExecutable compile(Graph g, PtxGen.Options options) {
        String why = unavailableReason();
        if (why != null) throw new IllegalStateException(why);
        PtxProgram p = ptx(g, options);
        dumpIfAsked(g, p);
        boolean graphs = !"false".equals(System.getProperty("kiln.cuda.graphs"));
        return new CudaExecutable(p, g.paramNames(), g.params().stream().map(Value::type).toList(), g.resultTypes(), graphs);
    }

    private static void dumpIfAsked(Graph g, PtxProgram p) {
        String dir = System.getProperty("kiln.dumpDir");
        if (dir != null) dump(p, Path.of(dir), g.name());
    }

    /// The resource report of `p` compiled for `arch` (one line per entry: registers, shared
    /// memory, spills), from NVIDIA's PTX compiler; no GPU needed.
    public static String resources(PtxProgram p, String arch) {
        PtxCompiler.Result r = PtxCompiler.compile(p.ptx(), arch);
        StringBuilder s = new StringBuilder("// " + arch + ", compiled with " + r.tool() + "\n");
        for (Launch l : p.launches()) {
            PtxCompiler.Resources res = r.resources().get(l.entry());
            s.append(res != null ? res.toString() : l.entry() + " (no report)").append("  ").append(l.mode()).append('\n');
        }
        return s.toString();
    }

    /// Writes `<name>.ptx` and `<name>.resources.txt` (sm_80 and sm_90) into `dir`, each through
    /// a temporary file renamed into place.
    public static void dump(PtxProgram p, Path dir, String name) {
        String base = name.replaceAll("[^A-Za-z0-9_.-]", "_");
        write(dir.resolve(base + ".ptx"), p.ptx());
        write(dir.resolve(base + ".resources.txt"), resources(p, "sm_80") + resources(p, "sm_90"));
    }

    static void write(Path file, String text) {
        try {
            Files.createDirectories(file.toAbsolutePath().getParent());
            Path tmp = Files.createTempFile(file.toAbsolutePath().getParent(), file.getFileName().toString(), ".tmp");
            Files.writeString(tmp, text);
            Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + file + ": " + e.getMessage(), e);
        }
    }
}
