package dev.kiln.codegen.cuda;

import dev.kiln.codegen.cuda.rt.CudaDriver;
import dev.kiln.codegen.cuda.rt.CudaPlan;
import dev.kiln.ir.Dim;
import dev.kiln.ir.Graph;
import dev.kiln.ir.TensorType;
import dev.kiln.passes.GraphDump;
import dev.kiln.ir.kernel.KernelProgram;
import dev.kiln.ir.kernel.Kir;
import dev.kiln.passes.lower.Lower;
import dev.kiln.runtime.Size;

import java.util.ArrayList;
import java.util.List;

/// The CUDA backend: graph -> kernel IR (`Lower`, shared with the JVM backend) -> PTX
/// (`PtxGen`) -> a module loaded through the CUDA driver -> `CudaExecutable`.
///
/// Generating and checking PTX needs no GPU (`ptx`, `resources`); running needs one: `available()`
/// says whether this process can use a GPU, and `unavailableReason()` why not, in one line,
/// so that callers can skip or report cleanly. `compile` on a machine without one throws an
/// `IllegalStateException` carrying that line; it never falls back to the CPU.
public final class CudaBackend {
    private CudaBackend() {}

    public static boolean available() { return CudaDriver.unavailableReason() == null; }

    /// Null when a GPU is usable, else the reason in one line.
    public static String unavailableReason() { return CudaDriver.unavailableReason(); }

    /// The device in use, e.g. `NVIDIA H100 80GB HBM3 (sm_90, 132 SMs)`.
    public static String deviceName() { return CudaDriver.deviceName(); }

    /// Gives device memory that closed executables left in the allocator's cache back to the
    /// driver (`Kiln.clearCache` calls it); does nothing before the GPU is first used.
    public static void releaseCachedMemory() { CudaDriver.trimCache(); }

    /// The PTX of `g` and its launches; no GPU needed.
    public static PtxProgram ptx(Graph g) { return ptx(g, PtxGen.Options.DEFAULT, null); }

    public static PtxProgram ptx(Graph g, PtxGen.Options options) { return ptx(g, options, null); }

    /// As `ptx(g, options)`, adding the backend's stages to `dump` (null: none), after those the
    /// passes wrote there: `NN-kernels.txt` (the kernel IR), `NN-ptx.ptx` and `NN-resources.txt`
    /// (registers, shared memory and spills per entry for sm_80 and sm_90, from NVIDIA's PTX
    /// compiler). No GPU needed.
    public static PtxProgram ptx(Graph g, PtxGen.Options options, GraphDump dump) {
        KernelProgram p = Lower.lower(g, dump);
        long t0 = System.nanoTime();
        PtxProgram out = PtxGen.generate(p, options);
        if (dump != null) {
            long entries = out.launches().stream().map(Launch::entry).distinct().count();
            dump.stage("ptx", "ptx", out.ptx(), System.nanoTime() - t0,
                    GraphDump.counts("entries", entries, "launches", out.launches().size(), "lines", out.ptx().lines().count()));
            long t1 = System.nanoTime();
            String report = resources(out, "sm_80") + resources(out, "sm_90");
            dump.stage("resources", "txt", report, System.nanoTime() - t1, GraphDump.counts("entries", entries));
        }
        return out;
    }

    /// Compiles `g` for the GPU of this process; throws IrError naming an op that cannot be
    /// lowered, IllegalStateException when there is no GPU.
    public static CudaExecutable compile(Graph g) { return compile(g, PtxGen.Options.DEFAULT, null); }

    /// As `compile(g)`, adding the kernel IR, the PTX and its resource report to `dump` (null: none).
    public static CudaExecutable compile(Graph g, GraphDump dump) { return compile(g, PtxGen.Options.DEFAULT, dump); }

    public static CudaExecutable compile(Graph g, PtxGen.Options options, GraphDump dump) {
        String why = unavailableReason();
        if (why != null) throw new IllegalStateException(why);
        PtxProgram p = ptx(g, options, dump);
        boolean graphs = !"false".equals(System.getProperty("kiln.cuda.graphs"));
        return new CudaExecutable(p, plan(p, g), graphs);
    }

    /// The run-time plan of `p`, compiled from `g`: its parameters (none a stored weight; see
    /// `CudaPlan.withWeights`) and results (`output0`, `output1`, ...), buffers and launches, with
    /// every size an expression over the symbols. No GPU needed.
    public static CudaPlan plan(PtxProgram p, Graph g) {
        KernelProgram k = p.program();
        List<String> symbols = k.symbols();
        List<CudaPlan.Param> params = new ArrayList<>();
        for (int i = 0; i < g.params().size(); i++)
            params.add(new CudaPlan.Param(g.paramNames().get(i), g.params().get(i).type().dtype(), dims(g.params().get(i).type(), symbols),
                    k.params().get(i), false));
        List<CudaPlan.Result> results = new ArrayList<>();
        for (int r = 0; r < g.resultTypes().size(); r++)
            results.add(new CudaPlan.Result("output" + r, g.resultTypes().get(r).dtype(), dims(g.resultTypes().get(r), symbols), k.results().get(r)));
        List<CudaPlan.Buffer> buffers = new ArrayList<>();
        for (Kir.Buffer b : k.buffers()) {
            CudaPlan.Kind kind = CudaPlan.Kind.valueOf(b.kind().name());
            Size numel = kind == CudaPlan.Kind.CONST ? Size.literal(k.constants().get(b.index()).size()) : Kir.size(b.numel(), symbols);
            buffers.add(new CudaPlan.Buffer(b.dtype(), kind, kind == CudaPlan.Kind.TEMP ? -1 : b.index(), k.plan().slotOf()[b.id()], numel));
        }
        List<CudaPlan.Launch> launches = new ArrayList<>();
        for (Launch l : p.launches()) {
            List<CudaPlan.Arg> args = new ArrayList<>();
            for (Launch.Arg a : l.args())
                args.add(switch (a) {
                    case Launch.Buf(int id) -> new CudaPlan.Buf(id);
                    case Launch.Int(var n) -> new CudaPlan.Int(Kir.size(n, symbols));
                });
            launches.add(new CudaPlan.Launch(l.entry(), Kir.size(l.gridX(), symbols), Kir.size(l.gridY(), symbols),
                    Kir.size(l.gridZ(), symbols), l.block(), args));
        }
        return new CudaPlan(k.name(), symbols, params, results, buffers, launches);
    }

    private static List<Integer> dims(TensorType t, List<String> symbols) {
        List<Integer> d = new ArrayList<>();
        for (int a = 0; a < t.rank(); a++)
            d.add(t.dim(a) instanceof Dim.Sym(String s) ? -(symbols.indexOf(s) + 1) : Math.toIntExact(t.dim(a).size()));
        return d;
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
}
